"""The Atlas tab: every encoded image as a point on a 2-D map of the latent space.

An observer of the explorer state: the current face is a marker that follows z, the morph tab's path is drawn as a
line, and clicking a point makes that image's code the current face. The map is made from the codes the explorer's
background encoding shares (state.codes, trainer.latent.data_codes: the nearest-faces strip uses the same ones), so
it waits for them and is made again when a new model's codes arrive. Mapping and t-SNE run as background tasks
(atlas_work.py) and hand back plain arrays (trainer.latent.atlas / atlas_data). Besides the data's own values, the
points can be coloured along the principal, factor and the user's own directions (state.custom_directions).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from trainer.latent.atlas import AtlasMap
from trainer.latent.atlas_data import AtlasData, colour_options, colour_values, colouring_directions
from trainer.latent.data_codes import DataCodes
from trainer.latent.samplers import make_sampler
from trainer.latent.sliders import SliderSpec

from .. import theme
from ..vertical_scroll import scrolling_body
from ..qt_images import array_to_qimage, save_png_atomically
from ..tasks import BackgroundTasks
from .atlas_colours import colour_levels
from .atlas_plot import AtlasPlot
from .atlas_work import encode_task, map_task
from .dialogs import PNG_FILTER
from .face_view import FaceView
from .state import ExplorerState

SAMPLE_COUNT = 500
SPLIT_FILTERS = (("both", "Test and training images"), ("test", "Test images only"), ("train", "Training images only"))


MARKER_INTERVAL_MS = 40          # the current-face marker moves at up to 25 frames per second


class AtlasView(QWidget):
    status_message = Signal(str)
    atlas_ready = Signal()             # a map is shown (after encoding, or a new method)

    def __init__(self, state: ExplorerState, dialogs, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.dialogs = dialogs
        self.data: AtlasData | None = None
        self.map: AtlasMap | None = None
        self.hovered_index = -1
        self._colour_values = None
        self._stale = True
        self._codes: DataCodes | None = None       # the codes the map shown (or being made) comes from
        self.tasks = BackgroundTasks(self)
        self._build()
        self.tasks.progress.connect(self._on_progress)
        self.tasks.finished.connect(self._on_finished)
        self.tasks.failed.connect(self._on_failed)
        state.checkpoint_changed.connect(self._on_checkpoint)
        # The marker follows z at most every MARKER_INTERVAL_MS: redrawing the map with every slider step would
        # delay the face itself (the user's eye is on the face while dragging).
        self._marker_timer = QTimer(self)
        self._marker_timer.setSingleShot(True)
        self._marker_timer.setInterval(MARKER_INTERVAL_MS)
        self._marker_timer.timeout.connect(self._update_marker)
        state.z_changed.connect(self._schedule_marker)
        state.stats_changed.connect(self._refresh_colour_choices)
        state.directions_changed.connect(self._refresh_colour_choices)
        state.data_changed.connect(self._on_data)
        state.morph_changed.connect(self._update_path)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.method = QComboBox(self)
        self.method.addItem("PCA", "pca")
        self.method.addItem("t-SNE", "tsne")
        self.method.setToolTip("PCA: the two directions of largest spread (exact, instant).\nt-SNE: keeps "
                               "neighbours together (clusters), up to 10,000 images, about a minute.")
        self.colour = QComboBox(self)
        self.colour.setToolTip("What the point colours show")
        self.colour.setMinimumContentsLength(16)
        self.colour.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.split = QComboBox(self)
        for key, label in SPLIT_FILTERS:
            self.split.addItem(label, key)
        self.samples = QCheckBox("Random samples", self)
        self.samples.setToolTip(f"Show {SAMPLE_COUNT} random samples (white crosses): do samples fall where the "
                                "data is?")
        self.morph = QCheckBox("Morph path", self)
        self.morph.setChecked(True)
        self.morph.setToolTip("Show the Morph tab's path from face A to face B (red line)")
        self.save = QPushButton("Save PNG...", self)
        self.save.setToolTip("Save the map as shown as a PNG image")
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setToolTip("Stop computing the map")
        self.plot = AtlasPlot(self)
        self.preview = FaceView(self, minimum=96, placeholder="Point at an image")
        self.preview.setMaximumSize(160, 160)           # up to 160 px; a short window shrinks it, not the texts
        self.preview_name = QLabel("", self)
        self.preview_value = QLabel("", self)
        for label in (self.preview_name, self.preview_value):
            label.setWordWrap(True)
            label.setMaximumWidth(160)
        hint = QLabel("Red ring: the current face; red line: the morph.\nClick a point to load that image's "
                      "code.\nZoom in (wheel) to see the images.", self)
        hint.setWordWrap(True)
        hint.setMaximumWidth(160)
        theme.set_tone(hint, theme.Tone.MUTED)
        self.legend = QLabel("", self)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.note = QLabel("Open the tab to encode the data set.", self)
        self.note.setWordWrap(True)
        theme.set_tone(self.note, theme.Tone.MUTED)

        first = QHBoxLayout()
        for widget in (QLabel("Map:", self), self.method, QLabel("Colour:", self), self.colour):
            first.addWidget(widget)
        first.addStretch(1)
        second = QHBoxLayout()
        for widget in (self.split, self.samples, self.morph):
            second.addWidget(widget)
        second.addStretch(1)
        second.addWidget(self.save)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel)
        side = QVBoxLayout()
        side.addWidget(self.preview)
        side.addWidget(self.preview_name)
        side.addWidget(self.preview_value)
        side.addStretch(1)
        side.addWidget(hint)
        body = QHBoxLayout()
        body.addWidget(self.plot, 1)
        body.addLayout(side)
        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.addLayout(first)
        layout.addLayout(second)
        layout.addLayout(busy)
        layout.addLayout(body, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.note)
        self._show_busy(False)
        self._enable_map_controls(False)

        self.method.currentIndexChanged.connect(self._on_method)
        self.colour.currentIndexChanged.connect(self._recolour)
        self.split.currentIndexChanged.connect(self._redraw_points)
        self.samples.toggled.connect(self._update_samples)
        self.morph.toggled.connect(self._update_path)
        self.save.clicked.connect(self._ask_save)
        self.cancel.clicked.connect(self.cancel_work)
        self.plot.hovered.connect(self.show_hover)
        self.plot.clicked.connect(self.load_point)
        theme.follow(self, lambda _: self._recolour())          # the colour scale depends on the plot background

    # ------------------------------------------------------------ background work

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale and self.state.has_checkpoint:
            self.start_encoding()

    def start_encoding(self) -> None:
        """Map the data set (PCA) from the shared codes, off the GUI thread; wait for them if they are not there."""
        codes, data = self.state.codes, self.state.data
        if codes is None:
            if data is not None and data.codes is None:          # the data set could not be loaded
                reason = data.data_error or "the data set is not available"
                self.note.setText(f"Could not make the atlas: {reason}")
            else:
                self.note.setText("Waiting for the data set to be encoded (see the progress at the left)...")
            return
        self._stale = False
        self._codes = codes
        self.note.setText("Encoding the data set for the atlas...")
        self._show_busy(True)
        self.tasks.start("atlas-data", encode_task, codes, self.state.checkpoint.config.data)

    @Slot()
    def _on_data(self) -> None:
        """New codes (a checkpoint's encoding finished, or a followed run's new weights): map them again."""
        if self.state.codes is None or self.state.codes is self._codes:
            return
        self._stale = True
        if self.isVisible():
            self.start_encoding()

    def cancel_work(self) -> None:
        if self.map is None or self.tasks.is_busy("atlas-data"):
            self._stale = True                   # showing the tab again maps the newest codes
        self.tasks.cancel_all()
        self._show_busy(False)
        if self.map is None:
            self.note.setText("Cancelled. Show the tab again to encode the data set.")
        else:
            self.method.blockSignals(True)
            self.method.setCurrentIndex(self.method.findData(self.map.method))
            self.method.blockSignals(False)
            self.note.setText(f"Cancelled; still showing the {self.map.note}.")

    def shutdown(self) -> None:
        self.tasks.shutdown()

    @Slot(str, int, int, str)
    def _on_progress(self, channel: str, done: int, total: int, what: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done if total else 0)
        self.progress.setFormat(f"{what} %v / %m" if total else what)

    @Slot(str, object)
    def _on_finished(self, channel: str, result) -> None:
        self._show_busy(False)
        if channel == "atlas-data":
            self.set_atlas(*result)
        else:
            self.set_map(result)

    @Slot(str, str)
    def _on_failed(self, channel: str, message: str) -> None:
        self._show_busy(False)
        self.note.setText(f"Could not make the atlas: {message}")
        self.status_message.emit(f"Could not make the atlas: {message}")

    def _enable_map_controls(self, enabled: bool) -> None:
        for widget in (self.method, self.colour, self.split, self.samples, self.morph, self.save):
            widget.setEnabled(enabled)

    def _show_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)

    @Slot()
    def _on_checkpoint(self) -> None:
        self.tasks.cancel_all()
        self._show_busy(False)
        self.data, self.map, self._codes = None, None, None
        self.plot.set_points(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0, np.int64), [])
        self.plot.thumbnail_source = None
        self.colour.clear()
        self.legend.clear()
        self.clear_preview()                     # the previous model's image and value
        self._stale = True
        self._enable_map_controls(False)
        self.note.setText("Open the tab to encode the data set.")
        if self.isVisible():
            self.start_encoding()

    def _on_method(self) -> None:
        method = self.method.currentData()
        if self.data is None:
            return
        if self.map is not None and self.map.method == method:      # back to the map shown: stop computing
            self.tasks.cancel("atlas-map")
            self._show_busy(False)
            self.note.setText(f"{self.map.note}: {self.data.note}.")
            return
        self.note.setText(f"Computing the {self.method.currentText()} map...")
        self._show_busy(True)
        self.tasks.start("atlas-map", map_task, self.data.latents, method)

    # ------------------------------------------------------------ showing a map

    def set_atlas(self, data: AtlasData, atlas_map: AtlasMap) -> None:
        """Show encoded data on a map (from the background task, or directly in tests and benchmarks)."""
        self.tasks.cancel("atlas-data")
        self._stale = False
        self.data = data
        self.plot.thumbnail_source = data.image
        self._fill_colours(self.colour.currentData() or "error")     # a new model's map keeps the colouring
        self.set_map(atlas_map)

    def _fill_colours(self, chosen: str) -> None:
        self.colour.blockSignals(True)
        self.colour.clear()
        for key, label in colour_options(self.data, self._directions()):
            self.colour.addItem(label, key)
        self.colour.setCurrentIndex(max(0, self.colour.findData(chosen)))
        self.colour.blockSignals(False)

    @Slot()
    def _refresh_colour_choices(self) -> None:
        """Statistics arrived after the map (their principal and factor directions), or the user made or removed a
        direction: offer them as colourings, keeping the one chosen when it still exists."""
        if self.data is not None:
            chosen = self.colour.currentData()
            self._fill_colours(chosen)
            if self.colour.currentData() != chosen:
                self._recolour()

    def set_map(self, atlas_map: AtlasMap) -> None:
        self.map = atlas_map
        self._enable_map_controls(True)
        self.method.blockSignals(True)
        self.method.setCurrentIndex(self.method.findData(atlas_map.method))
        self.method.blockSignals(False)
        self._redraw_points()
        self.plot.show_all()
        self._update_marker()
        self._update_path()
        self._update_samples()
        extra = f" {self.data.labels_note}." if self.data.labels_note else ""
        self.note.setText(f"{atlas_map.note}: {self.data.note}.{extra}")
        self.atlas_ready.emit()

    def _directions(self) -> list[SliderSpec]:
        return colouring_directions(self.state.stats, self.state.custom_directions, self.map_latent_dim())

    def _shown(self) -> np.ndarray:
        """Rows of the map's points that the split filter keeps."""
        keep = self.split.currentData()
        if keep == "both":
            return np.arange(len(self.map.indices))
        return np.flatnonzero(self.data.split[self.map.indices] == (0 if keep == "test" else 1))

    def _redraw_points(self) -> None:
        if self.map is None:
            return
        rows = self._shown()
        levels, colours = self._levels()
        self.plot.set_points(self.map.coords[rows], self.map.indices[rows], levels[self.map.indices[rows]], colours)

    def _recolour(self) -> None:
        if self.map is not None:
            levels, colours = self._levels()
            self.plot.set_levels(levels[self.plot.ids], colours)
            self.show_hover(self.hovered_index)        # the preview names the new colouring's value

    def _levels(self):
        key = self.colour.currentData() or "error"
        try:
            values = colour_values(self.data, key, self._directions())
        except (KeyError, ValueError) as error:       # a label column that cannot be read
            self.status_message.emit(str(error))
            values = colour_values(self.data, "error")
        self._colour_values = values
        levels, colours, legend = colour_levels(values)
        self.legend.setText(f"Colour: {legend}")
        return levels, colours

    # ------------------------------------------------------------ observers of the state

    def _schedule_marker(self) -> None:
        if not self._marker_timer.isActive():
            self._marker_timer.start()

    def _update_marker(self) -> None:
        if self.map is None or self.state.z.size != self.map_latent_dim():
            self.plot.set_marker(None)
            return
        self.plot.set_marker(self.map.project(self.state.z)[0])

    def map_latent_dim(self) -> int:
        return self.data.latents.shape[1] if self.data is not None else -1

    def _update_path(self) -> None:
        path = self.state.morph_path
        if self.map is None or not self.morph.isChecked() or path.ndim != 2 or path.shape[1] != self.map_latent_dim():
            self.plot.set_path(None)
        else:
            self.plot.set_path(self.map.project(path))

    def _update_samples(self) -> None:
        if self.map is None or not self.samples.isChecked():
            self.plot.set_samples(None)
            return
        kind = "prior" if self.state.is_variational else "gaussian"   # a plain AE has no prior
        sampler = make_sampler(kind, self.map_latent_dim(), self.data.latents)
        self.plot.set_samples(self.map.project(sampler.sample(SAMPLE_COUNT, seed=0)))

    # ------------------------------------------------------------ hover, click, save

    def clear_preview(self) -> None:
        self.hovered_index = -1
        self.preview.clear()
        self.preview_name.setText("")
        self.preview_value.setText("")

    def show_hover(self, index: int) -> None:
        self.hovered_index = index
        if index < 0 or self.data is None or self._colour_values is None:
            return
        self.preview.set_image(array_to_qimage(self.data.image(index)))
        self.preview_name.setText(self.data.name(index))
        value = float(self._colour_values.values[index])
        if self._colour_values.categories and value >= 0:
            text = self._colour_values.categories[int(value)]
        else:
            text = "unknown" if not np.isfinite(value) else f"{value:.4g}"
        self.preview_value.setText(f"{self._colour_values.name}: {text}")

    def load_point(self, index: int) -> None:
        """Make the encoded image `index` the current face."""
        if self.data is None or not 0 <= index < len(self.data):
            return
        self.state.set_z(self.data.latents[index])
        self.status_message.emit(f"Started from {self.data.name(index)} (from the atlas)")

    def save_png(self, path: str) -> bool:
        if not save_png_atomically(self.plot.grab(), path):
            self.dialogs.error("Cannot save", f"{path}\n\nThe image could not be written.")
            return False
        self.status_message.emit(f"Saved the atlas to {path}")
        return True

    def _ask_save(self) -> None:
        if self.map is not None:
            path = self.dialogs.save_path("Save atlas", PNG_FILTER, "atlas.png")
            if path:
                self.save_png(path)
