"""A second model shown beside the first (the Compare tab)."""
from __future__ import annotations

from psygnal import Signal

from trainer.training.checkpoint import LoadedCheckpoint


class Comparison:
    changed = Signal()              # a second model was opened or closed

    def __init__(self) -> None:
        self.second: LoadedCheckpoint | None = None

    @property
    def active(self) -> bool:
        return self.second is not None

    def set_second(self, checkpoint: LoadedCheckpoint | None) -> None:
        if checkpoint is not self.second:
            self.second = checkpoint
            self.changed.emit()
