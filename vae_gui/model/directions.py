"""The user's own directions (made in the Directions tab from two groups of faces; colourings in the atlas)."""
from __future__ import annotations

import numpy as np
from psygnal import Signal

from trainer.errors import UserError
from trainer.latent.sliders import SliderSpec


class DuplicateDirectionError(UserError):
    """A direction the same as one the user already has (e.g. "Create direction" pressed twice)."""

    def __init__(self, existing: SliderSpec):
        super().__init__(f"'{existing.label}' already goes this way (the same groups); change a group to make "
                         "another direction.")
        self.existing = existing


class Directions:
    changed = Signal()

    def __init__(self) -> None:
        self.specs: list[SliderSpec] = []

    def same_as(self, spec: SliderSpec) -> SliderSpec | None:
        """An existing direction along the same vector, or None."""
        for existing in self.specs:
            if existing.direction.shape == spec.direction.shape and np.allclose(existing.direction, spec.direction,
                                                                                 rtol=1e-5, atol=1e-6):
                return existing
        return None

    def add(self, spec: SliderSpec) -> None:
        """Add a direction; raises DuplicateDirectionError when one along the same vector exists."""
        existing = self.same_as(spec)
        if existing is not None:
            raise DuplicateDirectionError(existing)
        self.specs = [*self.specs, spec]
        self.changed.emit()

    def remove(self, key: str) -> None:
        kept = [spec for spec in self.specs if spec.key != key]
        if len(kept) != len(self.specs):
            self.specs = kept
            self.changed.emit()

    def clear(self) -> None:
        if self.specs:
            self.specs = []
            self.changed.emit()
