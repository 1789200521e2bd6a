"""The explorer's state model: which checkpoint, its latent statistics and encoded data, the current z, the user's
own directions.

Widgets observe the signals and write user actions back through the setters; they keep no state of their own
that another widget needs.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.training.checkpoint import LoadedCheckpoint, weights_hash
from trainer.latent.data_codes import DataCodes
from trainer.latent.explorer_state import ExplorerSnapshot
from trainer.latent.prepared import LatentData
from trainer.latent.sliders import SLIDER_MODES, SliderSpec
from trainer.latent.stats import LatentStats


class ExplorerState(QObject):
    checkpoint_changed = Signal()          # a new model: everything else was reset too
    model_replaced = Signal()              # same latent size, new weights (a followed run): z and the rest kept
    stats_changed = Signal()               # latent statistics arrived (or were replaced)
    data_changed = Signal()                # encoded training/test latents arrived
    z_changed = Signal()
    history_changed = Signal()             # undo/redo availability changed
    slider_mode_changed = Signal(str)
    selected_dims_changed = Signal()
    morph_changed = Signal()               # the morph tab's path (the latents of its strip) changed
    directions_changed = Signal()          # the user's own directions were added or removed

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
        self.morph_path = np.zeros((0, 0), np.float32)     # (steps, D) from face A to face B, empty when none
        self.custom_directions: list[SliderSpec] = []     # made in the Directions tab; colourings in the atlas
        self.rng = np.random.default_rng()
        self.source_image: np.ndarray | None = None    # the image the current z was encoded from (while unmoved)
        self.source_name = ""
        self._source_z: np.ndarray | None = None
        # Undo history of face edits: z before each edit. A slider drag (begin_gesture .. end_gesture) is one step.
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._gesture = False

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

    @property
    def codes(self) -> DataCodes | None:
        """The data set's codes under the current model, shared by every view that needs them (the atlas, the
        nearest training faces). None before the background encoding brings them, without the data set, and while
        `data` still holds the codes of a followed run's previous weights (until the new ones arrive)."""
        codes = self.data.codes if self.data is not None else None
        return codes if codes is not None and codes.made_with(self.model) else None

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
        self.custom_directions = []        # directions of another latent space
        self.z = self.mean_latent()
        self._undo, self._redo, self._gesture = [], [], False
        self.history_changed.emit()
        self.checkpoint_changed.emit()
        self.z_changed.emit()

    def replace_model(self, checkpoint: LoadedCheckpoint, hash_of_weights: str) -> None:
        """New weights of the same shape (a followed run saved a checkpoint): z, history, statistics and data stay
        until their replacements arrive, and only observers of model_replaced and z_changed redraw."""
        if checkpoint.model.latent_dim != self.latent_dim:
            raise ValueError("replace_model keeps z; a model with another latent size needs set_checkpoint")
        self.checkpoint = checkpoint
        self.weights_hash = hash_of_weights
        self.model_replaced.emit()
        self.z_changed.emit()

    def set_source(self, image: np.ndarray, name: str, z: np.ndarray) -> None:
        """Record that `z` is the encoding of `image` (call just before set_z(z), so observers see both)."""
        self.source_image, self.source_name = image, name
        self._source_z = np.asarray(z, dtype=np.float32).reshape(-1).copy()

    def current_source(self) -> tuple[np.ndarray | None, str]:
        """The image the face was encoded from and its name, while z has not moved since; else (None, "")."""
        if self.source_image is not None and self._source_z is not None and np.array_equal(self._source_z, self.z):
            return self.source_image, self.source_name
        return None, ""

    def set_stats(self, stats, note: str = "") -> None:
        self.stats = stats
        self.stats_note = note
        self.stats_changed.emit()

    def set_morph_path(self, path: np.ndarray) -> None:
        self.morph_path = np.asarray(path, dtype=np.float32)
        self.morph_changed.emit()

    def add_custom_direction(self, spec: SliderSpec) -> None:
        self.custom_directions = [*self.custom_directions, spec]
        self.directions_changed.emit()

    def remove_custom_direction(self, key: str) -> None:
        kept = [spec for spec in self.custom_directions if spec.key != key]
        if len(kept) != len(self.custom_directions):
            self.custom_directions = kept
            self.directions_changed.emit()

    def clear_custom_directions(self) -> None:
        if self.custom_directions:
            self.custom_directions = []
            self.directions_changed.emit()

    def set_data(self, data: LatentData) -> None:
        self.data = data
        self.data_changed.emit()

    def set_z(self, z: np.ndarray, undoable: bool = True) -> None:
        """Move to `z`. An undoable move (every user edit) can be taken back with undo(); during a gesture
        (a slider drag) only the z before the gesture is recorded."""
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        if z.shape != (self.latent_dim,):
            raise ValueError(f"z has {z.size} values; this model has {self.latent_dim} latent dimensions")
        if undoable and not self._gesture and not np.array_equal(z, self.z):
            self._record()
        self.z = z.copy()
        self.z_changed.emit()

    # ------------------------------------------------------------ undo / redo

    MAX_HISTORY = 200

    def _record(self) -> None:
        self._undo.append(self.z.copy())
        del self._undo[:-self.MAX_HISTORY]
        self._redo.clear()
        self.history_changed.emit()

    def begin_gesture(self) -> None:
        """A continuous edit starts (slider pressed): the moves until end_gesture() undo as one step."""
        if not self._gesture and self.z.size:
            self._record()
            self._gesture = True

    def end_gesture(self) -> None:
        if self._gesture:
            self._gesture = False
            if self._undo and np.array_equal(self._undo[-1], self.z):    # a click that moved nothing
                self._undo.pop()
                self.history_changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._gesture = False
        self._redo.append(self.z.copy())
        self.z = self._undo.pop()
        self.history_changed.emit()
        self.z_changed.emit()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self.z.copy())
        self.z = self._redo.pop()
        self.history_changed.emit()
        self.z_changed.emit()
        return True

    def set_dim(self, dim: int, value: float) -> None:
        z = self.z.copy()
        z[dim] = value
        self.set_z(z)

    def reset_to_mean(self, undoable: bool = True) -> None:
        self.set_z(self.mean_latent(), undoable=undoable)

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
