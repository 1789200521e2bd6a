"""The "Traversals" tab: rows are directions (latent dims, principal or factor directions), columns walk each range."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from trainer.latent.codec import decode_latents
from trainer.latent.directions import model_sefa_directions
from trainer.latent.sliders import SliderSpec, axis_sliders, factor_sliders, pca_sliders, sefa_sliders, traversal_latents

from ..vertical_scroll import scrolling_body
from .lazy_tab import LazyRedrawTab
from ..qt_images import save_png_atomically
from .dialogs import PNG_FILTER, Dialogs
from .image_grid import ImageGrid
from .state import ExplorerState



class TraversalsTab(LazyRedrawTab):
    def __init__(self, state: ExplorerState, dialogs: Dialogs, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.dialogs = dialogs
        self.specs: list[SliderSpec] = []
        self.latents = np.zeros((0, 0), np.float32)
        self._build()
        state.checkpoint_changed.connect(self.refresh)
        state.stats_changed.connect(self._on_stats)
        state.z_changed.connect(self._on_z)

    def _build(self) -> None:
        self.rows_source = QComboBox(self)
        self.rows_source.addItem("Latent dims (by KL)", "axes")
        self.rows_source.addItem("Principal directions", "pca")
        self.rows_source.addItem("Factor directions", "factors")
        self.rows_source.addItem("Closed-form (SeFa) directions", "sefa")
        # long item names must not widen the tab (it sets the explorer's minimum width)
        self.rows_source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.rows_source.setMinimumContentsLength(14)
        self.rows_source.setToolTip("What each row walks along: a latent dimension (most used first), a principal "
                                    "direction of the encoded data, the direction of a true factor, or a "
                                    "closed-form direction of the decoder's first layer (SeFa)")
        self.row_count = QSpinBox(self)
        self.row_count.setRange(1, 32)
        self.row_count.setValue(8)
        self.row_count.setToolTip("How many directions (rows) to show")
        self.columns = QSpinBox(self)
        self.columns.setRange(3, 15)
        self.columns.setValue(9)
        self.columns.setToolTip("Faces per row, from -3 to +3 standard deviations along the direction")
        self.centre = QComboBox(self)
        self.centre.addItem("current face", "current")
        self.centre.addItem("mean face", "mean")
        self.centre.setToolTip("The face each row starts from: the current face or the mean of the encoded data")
        save = QPushButton("Save PNG...", self)
        save.clicked.connect(self._ask_save)
        save.setToolTip("Save the traversal grid as one PNG image")
        bar = QHBoxLayout()
        for widget in (QLabel("Rows:", self), self.rows_source, self.row_count, QLabel("Columns:", self),
                       self.columns, QLabel("Around:", self), self.centre):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(save)
        self.grid = ImageGrid(self, placeholder="Open a checkpoint to see traversals.")
        self.grid.tile_clicked.connect(self._load_tile)
        self.note = QLabel("Each row walks one direction across the range of the encoded data "
                           "(mean +- 3 std); click a face to load it into the sliders.", self)
        self.note.setWordWrap(True)
        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.addLayout(bar)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.note)
        for combo in (self.rows_source, self.centre):
            combo.currentIndexChanged.connect(self.refresh)
        for spin in (self.row_count, self.columns):
            spin.valueChanged.connect(self.refresh)

    def _on_stats(self) -> None:
        has_factors = bool(self.state.stats is not None and self.state.stats.factor_directions)
        self.rows_source.model().item(2).setEnabled(has_factors)
        if not has_factors and self.rows_source.currentData() == "factors":
            self.rows_source.setCurrentIndex(0)
        self.refresh()

    def _on_z(self) -> None:
        if self.centre.currentData() == "current":
            self.refresh_soon()

    def row_specs(self) -> list[SliderSpec]:
        stats, count = self.state.stats, self.row_count.value()
        source = self.rows_source.currentData()
        if stats is not None and source == "pca":
            return pca_sliders(stats, count)
        if stats is not None and source == "factors":
            return factor_sliders(stats)[:count]
        if source == "sefa":
            try:
                return sefa_sliders(model_sefa_directions(self.state.model), stats, count)
            except ValueError:          # a decoder without a linear first layer: fall back to the axes below
                pass
        # The most used dims first (by KL; an AE has none, so by spread).
        dims = ([int(d) for d in stats.ranked_dims("kl")[:count]] if stats is not None
                else list(range(min(count, self.state.latent_dim))))
        return axis_sliders(stats, dims, self.state.latent_dim)

    def redraw(self) -> None:
        self._stale = False
        if not self.state.has_checkpoint:
            self.grid.clear()
            return
        origin = self.state.z if self.centre.currentData() == "current" else self.state.mean_latent()
        self.specs = self.row_specs()
        columns = self.columns.value()
        if not self.specs:
            self.grid.clear()
            return
        self.latents = np.concatenate([traversal_latents(spec, origin, columns) for spec in self.specs])
        labels = [spec.label if not spec.detail or spec.key.startswith("pc:") else f"{spec.label} {spec.detail}"
                  for spec in self.specs]
        self.grid.set_images(decode_latents(self.state.model, self.latents), columns=columns, row_labels=labels)

    def save_png(self, path: str) -> bool:
        if not save_png_atomically(self.grid.export_image(scale=2), path):
            self.dialogs.error("Cannot save", f"{path}\n\nThe image could not be written.")
            return False
        return True

    def _load_tile(self, index: int) -> None:
        if 0 <= index < len(self.latents):
            self.state.set_z(self.latents[index])

    def _ask_save(self) -> None:
        if len(self.latents):
            path = self.dialogs.save_path("Save traversal grid", PNG_FILTER, "traversals.png")
            if path:
                self.save_png(path)
