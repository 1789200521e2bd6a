"""The explorer's state model: which checkpoint, its latent statistics and encoded data, the current z.

Widgets observe the signals and write user actions back through the setters; they keep no state of their own
that another widget needs.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.checkpoint import LoadedCheckpoint, weights_hash
from trainer.explore import SLIDER_MODES, ExplorerSnapshot, LatentData
from trainer.latent import LatentStats


class ExplorerState(QObject):
    checkpoint_changed = Signal()          # a new model: everything else was reset too
    stats_changed = Signal()               # latent statistics arrived (or were replaced)
    data_changed = Signal()                # encoded training/test latents arrived
    z_changed = Signal()
    slider_mode_changed = Signal(str)
    selected_dims_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.checkpoint: LoadedCheckpoint | None = None
        self.weights_hash = ""
        self.stats: LatentStats | None = None
        self.stats_note = ""               # where the statistics came from, for the info panel
        self.data: LatentData | None = None
        self.z = np.zeros(0, np.float32)
        self.slider_mode = "axes"
        self.selected_dims: list[int] = []
        self.rng = np.random.default_rng()

    # ------------------------------------------------------------ queries

    @property
    def has_checkpoint(self) -> bool:
        return self.checkpoint is not None

    @property
    def latent_dim(self) -> int:
        return self.checkpoint.model.latent_dim if self.checkpoint is not None else 0

    @property
    def model(self):
        return self.checkpoint.model if self.checkpoint is not None else None

    @property
    def is_variational(self) -> bool:
        return bool(self.checkpoint is not None and self.checkpoint.model.is_variational)

    def mean_latent(self) -> np.ndarray:
        if self.stats is not None:
            return np.asarray(self.stats.mean, dtype=np.float32).copy()
        return np.zeros(self.latent_dim, np.float32)

    # ------------------------------------------------------------ setters

    def set_checkpoint(self, checkpoint: LoadedCheckpoint, stats=None, stats_note: str = "") -> None:
        self.checkpoint = checkpoint
        self.weights_hash = weights_hash(checkpoint.model.state_dict())
        self.stats = stats
        self.stats_note = stats_note
        self.data = None
        self.selected_dims = []
        self.z = self.mean_latent()
        self.checkpoint_changed.emit()
        self.z_changed.emit()

    def set_stats(self, stats, note: str = "") -> None:
        self.stats = stats
        self.stats_note = note
        self.stats_changed.emit()

    def set_data(self, data: LatentData) -> None:
        self.data = data
        self.data_changed.emit()

    def set_z(self, z: np.ndarray) -> None:
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        if z.shape != (self.latent_dim,):
            raise ValueError(f"z has {z.size} values; this model has {self.latent_dim} latent dimensions")
        self.z = z.copy()
        self.z_changed.emit()

    def set_dim(self, dim: int, value: float) -> None:
        z = self.z.copy()
        z[dim] = value
        self.set_z(z)

    def reset_to_mean(self) -> None:
        self.set_z(self.mean_latent())

    def set_slider_mode(self, mode: str) -> None:
        if mode not in SLIDER_MODES:
            raise ValueError(f"unknown slider mode {mode!r}")
        if mode != self.slider_mode:
            self.slider_mode = mode
            self.slider_mode_changed.emit(mode)

    def set_selected_dims(self, dims: list[int]) -> None:
        dims = [int(d) for d in dims]
        if dims != self.selected_dims:
            self.selected_dims = dims
            self.selected_dims_changed.emit()

    # ------------------------------------------------------------ saving

    def snapshot(self) -> ExplorerSnapshot:
        path = str(self.checkpoint.path) if self.checkpoint is not None else ""
        return ExplorerSnapshot(checkpoint_path=path, weights_hash=self.weights_hash, z=self.z.copy(),
                                slider_mode=self.slider_mode, selected_dims=list(self.selected_dims))
