"""The open checkpoint and what comes with it: latent statistics, the encoded data, progress, the info panel's notes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from trainer.latent.data_codes import DataCodes
from trainer.latent.prepared import LatentData
from trainer.latent.samplers import SAMPLER_KINDS, SamplerChoice
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
    sampler_changed = Signal()         # the sample grid's sampler, or the model's default choice, changed

    def __init__(self) -> None:
        self.checkpoint: LoadedCheckpoint | None = None
        self.weights_hash = ""
        self.stats: LatentStats | None = None
        self.data: LatentData | None = None
        self.notes: dict[str, str] = {}
        self.progress: Progress | None = None
        # Which sampler draws random faces: the model's default (its evaluation's choice, stored in the checkpoint,
        # or one chosen from its codes on opening when it stores none) and the one the sample grid uses now.
        self.sampler_choice: SamplerChoice | None = None
        self.choice_computed = False        # sampler_choice was chosen on opening, not stored
        self.sampler = SAMPLER_KINDS[0]

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

    @property
    def fallback_sampler(self) -> str:
        """The sampler without a choice: a VAE's prior; a plain AE has none, so the fitted Gaussian (what makes an
        AE sample at all)."""
        return "prior" if self.is_variational else "gaussian"

    @property
    def needs_sampler_choice(self) -> bool:
        """The checkpoint stores no choice, so one is to be chosen from the codes (again, for new codes)."""
        return self.checkpoint is not None and (self.sampler_choice is None or self.choice_computed)

    # ------------------------------------------------------------ changes

    def open(self, checkpoint: LoadedCheckpoint, stats: LatentStats | None = None, stats_note: str = "") -> None:
        """A new checkpoint: statistics as given, no data and no notes but the statistics' until they arrive."""
        self.checkpoint = checkpoint
        self.weights_hash = weights_hash(checkpoint.model.state_dict())
        self.stats = stats
        self.data = None
        self.notes = {STATS_NOTE: stats_note} if stats_note else {}
        self.progress = None
        self.sampler_choice = SamplerChoice.from_dict((checkpoint.eval_metrics or {}).get("sampler"))
        self.choice_computed = False
        self.sampler = self.sampler_choice.default if self.sampler_choice is not None else self.fallback_sampler
        self.checkpoint_changed.emit()
        self.notes_changed.emit()
        self.progress_changed.emit()
        self.sampler_changed.emit()

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

    def set_sampler(self, kind: str) -> None:
        """The sampler the sample grid uses (the user's pick in the Samples tab)."""
        if kind not in SAMPLER_KINDS:
            raise ValueError(f"unknown sampler {kind!r}")
        if kind != self.sampler:
            self.sampler = kind
            self.sampler_changed.emit()

    def set_computed_choice(self, choice: SamplerChoice) -> None:
        """A default chosen from the codes for a checkpoint that stores none; the grid switches to it unless the user
        has picked another sampler meanwhile."""
        if self.sampler == self.fallback_sampler:
            self.sampler = choice.default
        self.sampler_choice, self.choice_computed = choice, True
        self.sampler_changed.emit()

    def set_progress(self, progress: Progress | None) -> None:
        self.progress = progress
        self.progress_changed.emit()
