"""The open checkpoint and what comes with it: latent statistics, the encoded data, progress, the info panel's notes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from trainer.latent.data_codes import DataCodes
from trainer.latent.prepared import LatentData
from trainer.latent.stats import LatentStats
from trainer.training.checkpoint import LoadedCheckpoint, weights_hash

# The info panel's note sections, in the order shown; another part of the app may add its own key (shown after these).
STATS_NOTE = "stats"        # where the latent statistics come from
DATA_NOTE = "data"          # the data set's encoding: failures, the data set missing


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    what: str


class Session:
    checkpoint_changed = Signal()      # a new model (the face and the layout are reset by ExplorerModel)
    model_replaced = Signal()          # same latent size, new weights (a followed run)
    stats_changed = Signal()
    data_changed = Signal()
    notes_changed = Signal()
    progress_changed = Signal()

    def __init__(self) -> None:
        self.checkpoint: LoadedCheckpoint | None = None
        self.weights_hash = ""
        self.stats: LatentStats | None = None
        self.data: LatentData | None = None
        self.notes: dict[str, str] = {}
        self.progress: Progress | None = None

    # ------------------------------------------------------------ queries

    @property
    def has_checkpoint(self) -> bool:
        return self.checkpoint is not None

    @property
    def model(self):
        return self.checkpoint.model if self.checkpoint is not None else None

    @property
    def latent_dim(self) -> int:
        return self.checkpoint.model.latent_dim if self.checkpoint is not None else 0

    @property
    def is_variational(self) -> bool:
        return bool(self.checkpoint is not None and self.checkpoint.model.is_variational)

    @property
    def codes(self) -> DataCodes | None:
        """The data set's codes under the current model, shared by every view that needs them. None before the
        background encoding brings them, without the data set, and while `data` still holds the codes of a followed
        run's previous weights."""
        codes = self.data.codes if self.data is not None else None
        return codes if codes is not None and codes.made_with(self.model) else None

    def mean_latent(self) -> np.ndarray:
        if self.stats is not None:
            return np.asarray(self.stats.mean, dtype=np.float32).copy()
        return np.zeros(self.latent_dim, np.float32)

    @property
    def stats_note(self) -> str:
        return self.notes.get(STATS_NOTE, "")

    # ------------------------------------------------------------ changes

    def open(self, checkpoint: LoadedCheckpoint, stats: LatentStats | None = None, stats_note: str = "") -> None:
        """A new checkpoint: statistics as given, no data and no notes but the statistics' until they arrive."""
        self.checkpoint = checkpoint
        self.weights_hash = weights_hash(checkpoint.model.state_dict())
        self.stats = stats
        self.data = None
        self.notes = {STATS_NOTE: stats_note} if stats_note else {}
        self.progress = None
        self.checkpoint_changed.emit()
        self.notes_changed.emit()
        self.progress_changed.emit()

    def replace_model(self, checkpoint: LoadedCheckpoint, hash_of_weights: str) -> None:
        """New weights of the same latent size; statistics and data stay until their replacements arrive."""
        if checkpoint.model.latent_dim != self.latent_dim:
            raise ValueError("replace_model keeps z; a model with another latent size needs open()")
        self.checkpoint = checkpoint
        self.weights_hash = hash_of_weights
        self.model_replaced.emit()

    def set_stats(self, stats: LatentStats | None, note: str = "") -> None:
        self.stats = stats
        self.notes[STATS_NOTE] = note
        self.stats_changed.emit()
        self.notes_changed.emit()

    def set_data(self, data: LatentData) -> None:
        self.data = data
        self.data_changed.emit()

    def set_note(self, key: str, text: str) -> None:
        """One section of the info panel's notes ('' removes it)."""
        if self.notes.get(key, "") == text:
            return
        if text:
            self.notes[key] = text
        else:
            self.notes.pop(key, None)
        self.notes_changed.emit()

    def set_progress(self, progress: Progress | None) -> None:
        self.progress = progress
        self.progress_changed.emit()
