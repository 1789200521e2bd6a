"""The "Variations" tab: a grid of random steps around the current face (as Artbreeder's children), the current face
in the middle. Click one to make it current (and roll new variations around it); "More" rolls again."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from trainer.latent.codec import decode_latents
from trainer.latent.variations import place_in_centre, variation_latents

from ..vertical_scroll import scrolling_body
from .image_grid import ImageGrid
from .lazy_tab import LazyRedrawTab
from .state import ExplorerState

SIDES = (3, 4, 5)
DEFAULT_STRENGTH = 0.5
STRENGTH_TIP = ("How far each variation steps from the current face, in units of each latent dimension's spread "
                "over the encoded data (1 = a typical difference between two faces of the data set).")


class VariationsTab(LazyRedrawTab):
    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.latents = np.zeros((0, 0), np.float32)
        self.centre = 0
        self._build()
        state.checkpoint_changed.connect(self.refresh)
        state.stats_changed.connect(self.refresh)
        state.z_changed.connect(self._on_z)

    def _build(self) -> None:
        self.side = QComboBox(self)
        for side in SIDES:
            self.side.addItem(f"{side} x {side}", side)
        self.side.setToolTip("Grid size; the current face is the tile with the yellow frame")
        self.strength = QDoubleSpinBox(self)
        self.strength.setRange(0.0, 3.0)
        self.strength.setSingleStep(0.1)
        self.strength.setValue(DEFAULT_STRENGTH)
        self.strength.setToolTip(STRENGTH_TIP)
        strength_label = QLabel("Strength:", self)
        strength_label.setToolTip(STRENGTH_TIP)
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed, face and strength give the same variations")
        self.more = QPushButton("More", self)
        self.more.setToolTip("Roll new variations around the current face (next seed)")
        self.more.clicked.connect(self.roll)
        bar = QHBoxLayout()
        for widget in (QLabel("Grid:", self), self.side, strength_label, self.strength, QLabel("Seed:", self),
                       self.seed):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.more)
        self.grid = ImageGrid(self, placeholder="Open a checkpoint to see variations of the current face.")
        self.grid.tile_clicked.connect(self.pick)
        self.note = QLabel("Random steps around the current face (framed, in the middle). Click one to make it "
                           "the current face; More rolls new ones.", self)
        self.note.setWordWrap(True)
        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.addLayout(bar)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.note)
        self.side.currentIndexChanged.connect(self.refresh)
        self.strength.valueChanged.connect(self.refresh)
        self.seed.valueChanged.connect(self.refresh)

    # ------------------------------------------------------------ actions

    def roll(self) -> None:
        """New variations around the current face: the next seed."""
        self.seed.setValue(self.seed.value() + 1)        # valueChanged redraws

    def pick(self, index: int) -> None:
        """Make variation `index` the current face and roll new variations around it."""
        if not 0 <= index < len(self.latents) or index == self.centre:
            return
        z = self.latents[index].copy()
        self.seed.blockSignals(True)
        self.seed.setValue(self.seed.value() + 1)
        self.seed.blockSignals(False)
        self.state.set_z(z)                               # z_changed redraws around the new face

    # ------------------------------------------------------------ drawing

    def _on_z(self) -> None:
        self.refresh_soon()

    def redraw(self) -> None:
        self._stale = False
        if not self.state.has_checkpoint or self.state.z.size == 0:
            self.latents = np.zeros((0, 0), np.float32)
            self.grid.clear()
            return
        side = int(self.side.currentData())
        stats = self.state.stats
        scale = np.asarray(stats.std, np.float64) if stats is not None else None
        rng = np.random.default_rng(self.seed.value())
        steps = variation_latents(self.state.z, side * side - 1, self.strength.value(), rng, scale=scale)
        self.latents, self.centre = place_in_centre(self.state.z, steps, side)
        self.grid.set_images(decode_latents(self.state.model, self.latents), columns=side)
        self.grid.set_highlighted({self.centre})
