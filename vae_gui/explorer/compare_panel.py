"""The Compare tab: a second checkpoint beside the first, observing the same explorer state. The second model is the
model's Comparison part (state.comparison): this tab reads it off the GUI thread, writes it there and observes it.

Same latent size: the current z decoded by both, with the sliders here driving both. Different sizes: the same
image (the one the face was encoded from, else the first model's current face) encoded and decoded by both.
Below: the two checkpoints' info panels side by side, and prior samples of both with the same seed.
Every decode runs off the GUI thread (vae_gui/tasks.py), only while the tab is visible, one at a time per view:
a move made while a decode runs is decoded when it ends (the latest z wins), so the sliders never wait for it.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpinBox, QSplitter, QStackedWidget, QTabWidget,
                               QVBoxLayout, QWidget)

from trainer.latent.sliders import axis_sliders, visible_dims
from trainer.training.checkpoint import LoadedCheckpoint

from .. import theme
from ..vertical_scroll import scrolling_body
from ..qt_images import array_to_qimage
from ..tasks import BackgroundTasks
from .checkpoint_card import CheckpointCard
from .compare_work import SAMPLE_COLUMNS, faces_for_z, image_through_both, load_second, samples_of_both
from .face_view import FaceView
from .image_grid import ImageGrid
from .slider_rows import SliderColumn
from .state import ExplorerState

SLIDERS_SHOWN = 16
FACE_CHANNEL, SAMPLES_CHANNEL, LOAD_CHANNEL = "compare-face", "compare-samples", "compare-load"
EMPTY_TEXT = ("Open a second checkpoint to compare it with this one: the same latent code decoded by both "
              "(beta 0.25 against beta 4, epoch 5 against epoch 50 of a run...).")


class ComparePanel(QWidget):
    status_message = Signal(str)
    error_shown = Signal(str, str)           # title, message
    open_requested = Signal()                # the "Open second model..." button (the explorer shows the dialog)
    second_changed = Signal()                # the tab shows another second model or none (tests wait on it)
    faces_shown = Signal()                   # the face row was redrawn (tests wait on it)
    samples_shown = Signal()

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.comparison = state.comparison
        self.faces: dict[str, np.ndarray] = {}          # "a", "b" (and "image" in image mode): the shown faces
        self.sample_faces: dict[str, np.ndarray] = {}
        self.shown_z: np.ndarray | None = None          # the z whose faces are shown
        self.samples_seed: int | None = None            # the seed of the shown samples
        self._asked: dict[str, object] = {}              # channel -> the z or seed of its running decode
        self.decodes_started = 0                          # background decodes of the faces and samples so far
        self.tasks = BackgroundTasks(self)
        self.tasks.finished.connect(self._on_finished)
        self.tasks.failed.connect(self._on_failed)
        # Our own flags: BackgroundTasks forgets a task only after its result was delivered.
        self._busy = {FACE_CHANNEL: False, SAMPLES_CHANNEL: False}
        self._pending = {FACE_CHANNEL: False, SAMPLES_CHANNEL: False}
        self._build()
        state.z_changed.connect(self._request_faces)
        state.checkpoint_changed.connect(self._on_first_changed)
        state.model_replaced.connect(self._on_first_changed)
        state.stats_changed.connect(self._rebuild_sliders)
        state.selected_dims_changed.connect(self._rebuild_sliders)
        self.comparison.changed.connect(self._on_second_changed)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        empty = QWidget(self)
        hint = QLabel(EMPTY_TEXT, empty)
        hint.setWordWrap(True)
        theme.set_tone(hint, theme.Tone.MUTED)
        self.open_button = QPushButton("Open second model...", empty)
        self.open_button.setToolTip("Open another checkpoint to compare with the one in the explorer")
        self.open_button.clicked.connect(self.open_requested)
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(1)
        empty_layout.addWidget(hint)
        empty_layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(2)

        page = QWidget(self)
        self.title = QLabel("", page)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        other = QPushButton("Open another...", page)
        other.setToolTip("Replace the second model by another checkpoint")
        other.clicked.connect(self.open_requested)
        self.close_button = QPushButton("Close second model", page)
        self.close_button.clicked.connect(self.close_second)
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(other)
        bar.addWidget(self.close_button)

        self.views = {key: FaceView(page, minimum=96) for key in ("image", "a", "b")}
        self.captions = {key: QLabel("", page) for key in self.views}
        self.columns: dict[str, QWidget] = {}
        faces = QHBoxLayout()
        for key, view in self.views.items():
            view.set_smooth(True)
            column = QWidget(page)              # hidden as a whole, so a hidden column takes no room
            column_layout = QVBoxLayout(column)
            column_layout.setContentsMargins(0, 0, 0, 0)
            self.captions[key].setAlignment(Qt.AlignmentFlag.AlignCenter)
            column_layout.addWidget(self.captions[key])
            column_layout.addWidget(view, 1)
            faces.addWidget(column, 1)
            self.columns[key] = column
        self.captions["image"].setText("Image")
        self.note = QLabel("", page)
        self.note.setWordWrap(True)
        theme.set_tone(self.note, theme.Tone.MUTED)
        top = QWidget(page)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(faces, 1)
        top_layout.addWidget(self.note)

        self.sliders = SliderColumn(self.state, page)
        self.details = QTabWidget(page)
        self.details.addTab(self._build_info(), "Checkpoints")
        self.details.addTab(self._build_samples(), "Samples (same seed)")
        self.details.currentChanged.connect(lambda _: self._request_samples())
        self.split = QSplitter(Qt.Orientation.Vertical, page)
        for widget in (top, self.sliders, self.details):
            self.split.addWidget(widget)
        self.split.setChildrenCollapsible(False)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setStretchFactor(2, 2)
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addLayout(bar)
        page_layout.addWidget(self.split, 1)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(empty)
        self.stack.addWidget(page)
        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def _build_info(self) -> QWidget:
        holder = QWidget(self)
        self.info_a = CheckpointCard("Model A (the explorer's)", holder)
        self.info_b = CheckpointCard("Model B (second model)", holder)
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.info_a, 1)
        row.addWidget(self.info_b, 1)
        scroll = QScrollArea(self)            # long metrics wrap; a short window scrolls instead of clipping
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        return scroll

    def _build_samples(self) -> QWidget:
        holder = QWidget(self)
        self.seed = QSpinBox(holder)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed draws the same codes for both models (the Samples tab's seed)")
        self.seed.valueChanged.connect(self._request_samples)
        resample = QPushButton("Resample", holder)
        resample.setToolTip("Next seed")
        resample.clicked.connect(lambda: self.seed.setValue((self.seed.value() + 1) % (2**31 - 1)))
        self.samples_note = QLabel("", holder)
        theme.set_tone(self.samples_note, theme.Tone.MUTED)
        self.samples_note.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Prior samples, seed:", holder))
        controls.addWidget(self.seed)
        controls.addWidget(resample)
        controls.addWidget(self.samples_note, 1)
        self.grid_a = ImageGrid(holder, placeholder="")
        self.grid_b = ImageGrid(holder, placeholder="")
        for grid in (self.grid_a, self.grid_b):          # small windows: the faces above keep the room
            grid.setMinimumSize(96, 64)
        self.grid_a.setToolTip("Model A's samples")
        self.grid_b.setToolTip("Model B's samples, same seed")
        grids = QHBoxLayout()
        grids.addWidget(self.grid_a, 1)
        grids.addWidget(self.grid_b, 1)
        layout = QVBoxLayout(holder)
        layout.addLayout(controls)
        layout.addLayout(grids, 1)
        return holder

    # ------------------------------------------------------------ opening and closing

    def open_second(self, path: str) -> None:
        """Read `path` off the GUI thread; it becomes the second model when read (an error names the file)."""
        self.status_message.emit(f"Opening {path} as the second model...")
        self.tasks.start(LOAD_CHANNEL, load_second, path)

    @property
    def second(self) -> LoadedCheckpoint | None:
        return self.comparison.second

    def set_second(self, checkpoint: LoadedCheckpoint) -> None:
        self.comparison.set_second(checkpoint)

    def close_second(self) -> None:
        self.comparison.set_second(None)

    def _on_second_changed(self) -> None:
        for channel in (FACE_CHANNEL, SAMPLES_CHANNEL):         # decodes of the previous second model
            self.tasks.cancel(channel)
        self._busy = dict.fromkeys(self._busy, False)
        self._pending = dict.fromkeys(self._pending, False)
        self.faces.clear()
        self.sample_faces.clear()
        self.shown_z = self.samples_seed = None
        for view in self.views.values():
            view.clear()
        checkpoint = self.second
        if checkpoint is None:
            self.tasks.cancel(LOAD_CHANNEL)             # closed while another was being read
            self.stack.setCurrentIndex(0)
        else:
            self.info_b.show_checkpoint(checkpoint)
            if self.stack.currentIndex() == 0:          # first shown: faces, sliders and details share the height
                self.stack.setCurrentIndex(1)
                height = max(self.height() - self.close_button.sizeHint().height(), 420)   # split: not laid out yet
                self.split.setSizes([int(height * 0.45), int(height * 0.3), int(height * 0.25)])
            self._on_first_changed()
            self.status_message.emit(f"Second model: {checkpoint.path}")
        self.second_changed.emit()

    @property
    def same_latent_size(self) -> bool:
        return self.second is not None and self.state.has_checkpoint and \
            self.second.model.latent_dim == self.state.latent_dim

    def shutdown(self) -> None:
        self.tasks.shutdown()

    # ------------------------------------------------------------ following the state

    def _on_first_changed(self) -> None:
        if self.state.has_checkpoint:
            self.info_a.show_checkpoint(self.state.checkpoint)
        if self.second is None:
            return
        self._update_titles()
        self._rebuild_sliders()
        self._request_faces()
        self._request_samples()

    def _update_titles(self) -> None:
        name_a = self.state.checkpoint.path.name if self.state.has_checkpoint else "(none)"
        name_b = self.second.path.name
        self.title.setText(f"<b>A</b> {name_a} &nbsp;·&nbsp; <b>B</b> {name_b}")
        self.title.setToolTip(f"A: {self.state.checkpoint.path if self.state.has_checkpoint else ''}\n"
                              f"B: {self.second.path}")
        image_mode = not self.same_latent_size
        self.columns["image"].setVisible(image_mode)
        self.sliders.setVisible(not image_mode)
        suffix = " reconstruction" if image_mode else ""
        self.captions["a"].setText(f"A{suffix}: {name_a}")
        self.captions["b"].setText(f"B{suffix}: {name_b}")
        if image_mode:
            dim_b = self.second.model.latent_dim
            self.note.setText(f"The latent sizes differ (A {self.state.latent_dim}-d, B {dim_b}-d), so one code "
                              "cannot drive both: the same image is encoded and decoded by each model instead.")
        else:
            self.note.setText(f"The same {self.state.latent_dim}-d code decoded by both models; the sliders here "
                              "(and in the Sliders tab) move both.")

    def _rebuild_sliders(self) -> None:
        # Only while shown: hidden rows would still follow every slider move made in the Sliders tab.
        if self.second is None or not self.same_latent_size or not self.isVisible():
            if self.sliders.rows:
                self.sliders.set_specs([])
            return
        state = self.state
        dims = state.selected_dims or visible_dims(state.stats, state.latent_dim, SLIDERS_SHOWN)
        self.sliders.set_specs(axis_sliders(state.stats, dims, state.latent_dim))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._rebuild_sliders()
        self._request_faces()
        self._request_samples()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._rebuild_sliders()

    # ------------------------------------------------------------ background decoding

    def _request_faces(self) -> None:
        if self.second is None or not self.state.has_checkpoint or not self.isVisible():
            return
        if self._busy[FACE_CHANNEL]:         # decoded when the running one ends: the latest z wins
            self._pending[FACE_CHANNEL] = True
            return
        model_a, model_b, z = self.state.model, self.second.model, self.state.z.copy()
        if self.same_latent_size:
            self._start(FACE_CHANNEL, z, faces_for_z, model_a, model_b, z)
        else:
            source = self.state.face.encoded
            image, name = (source.image, source.name) if source is not None else (None, "")
            self.captions["image"].setText(f"Image: {name}" if name else "Image: A's current face")
            self._start(FACE_CHANNEL, z, image_through_both, model_a, model_b, image, z)

    def _request_samples(self) -> None:
        if self.second is None or not self.state.has_checkpoint or not self.grid_a.isVisible():
            return
        if self._busy[SAMPLES_CHANNEL]:
            self._pending[SAMPLES_CHANNEL] = True
            return
        same = self.same_latent_size
        self.samples_note.setText("the very same codes for both" if same else
                                  "latent sizes differ: the same seed, but codes of different sizes")
        seed = self.seed.value()
        self._start(SAMPLES_CHANNEL, seed, samples_of_both, self.state.model, self.second.model, seed,
                    SAMPLE_COLUMNS ** 2)

    def _start(self, channel: str, asked, work, *args) -> None:
        self._busy[channel], self._pending[channel] = True, False
        self._asked[channel] = asked
        self.decodes_started += 1
        self.tasks.start(channel, work, *args)

    def _ended(self, channel: str) -> None:
        """A decode ended: start the one asked for meanwhile."""
        self._busy[channel] = False
        if self._pending[channel]:
            (self._request_faces if channel == FACE_CHANNEL else self._request_samples)()

    @Slot(str, object)
    def _on_finished(self, channel: str, result) -> None:
        if channel == LOAD_CHANNEL:
            self.set_second(result)
            return
        if self.second is None:
            return
        if channel == FACE_CHANNEL:
            self.faces = dict(result)
            self.shown_z = self._asked.get(FACE_CHANNEL)
            for key, face in result.items():
                self.views[key].set_image(array_to_qimage(face))
            self.faces_shown.emit()
        elif channel == SAMPLES_CHANNEL:
            self.sample_faces = dict(result)
            self.samples_seed = self._asked.get(SAMPLES_CHANNEL)
            self.grid_a.set_images(result["a"], columns=SAMPLE_COLUMNS)
            self.grid_b.set_images(result["b"], columns=SAMPLE_COLUMNS)
            self.samples_shown.emit()
        self._ended(channel)

    @Slot(str, str)
    def _on_failed(self, channel: str, message: str) -> None:
        if channel == LOAD_CHANNEL:
            self.error_shown.emit("Cannot open the second model", message)
        else:
            self.status_message.emit(f"Second model: {message}")
            self._ended(channel)
