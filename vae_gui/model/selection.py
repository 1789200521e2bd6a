"""The test images selected in the gallery (indices into the session's test images): what "use the selected test
image" in the Morph and Directions tabs takes."""
from __future__ import annotations

from psygnal import Signal


class Selection:
    changed = Signal()

    def __init__(self) -> None:
        self.indices: list[int] = []

    def select(self, indices: list[int]) -> None:
        indices = sorted({int(index) for index in indices})
        if indices != self.indices:
            self.indices = indices
            self.changed.emit()
