"""The user's own directions (made in the Directions tab from two groups of faces; colourings in the atlas), and
the two groups they are made from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from trainer.errors import UserError
from trainer.latent.directions import attribute_direction
from trainer.latent.sliders import SliderSpec, custom_slider

GROUPS = ("A", "B")


class DuplicateDirectionError(UserError):
    """A direction the same as one the user already has (e.g. "Create direction" pressed twice)."""

    def __init__(self, existing: SliderSpec):
        super().__init__(f"'{existing.label}' already goes this way (the same groups); change a group to make "
                         "another direction.")
        self.existing = existing


class EmptyGroupError(UserError):
    """"Create direction" with a group that has no image yet."""

    def __init__(self) -> None:
        super().__init__("Add at least one image to each group first.")


@dataclass(frozen=True)
class Group:
    """The faces of one group: their codes (n, D) and images (n, H, W, 3)."""
    latents: np.ndarray
    images: np.ndarray

    def __len__(self) -> int:
        return len(self.latents)


class Directions:
    changed = Signal()                  # a direction was added or removed
    group_changed = Signal(str)         # group "A" | "B" gained or lost images

    def __init__(self) -> None:
        self.specs: list[SliderSpec] = []
        self.groups: dict[str, Group | None] = dict.fromkeys(GROUPS)

    # ------------------------------------------------------------ the two groups

    def add_to_group(self, group: str, latents: np.ndarray, images: np.ndarray) -> None:
        latents, images = np.asarray(latents, np.float32), np.asarray(images)
        if group not in GROUPS:
            raise ValueError(f"unknown direction group {group!r}")
        if len(latents) != len(images):
            raise ValueError("a group needs one image per code")
        if not len(latents):
            return
        before = self.groups[group]
        if before is not None:
            latents, images = np.concatenate([before.latents, latents]), np.concatenate([before.images, images])
        self.groups[group] = Group(latents, images)
        self.group_changed.emit(group)

    def clear_group(self, group: str) -> None:
        if self.groups[group] is not None:
            self.groups[group] = None
            self.group_changed.emit(group)

    def group_size(self, group: str) -> int:
        members = self.groups[group]
        return len(members) if members is not None else 0

    def create_from_groups(self, name: str, origin: np.ndarray) -> SliderSpec:
        """A direction along mean(B) - mean(A), centred on `origin` (the data mean), named `name` or "name (2)" when
        that is taken. Raises EmptyGroupError, and DuplicateDirectionError for a direction the user already has."""
        a, b = self.groups["A"], self.groups["B"]
        if a is None or b is None:
            raise EmptyGroupError()
        spec = custom_slider(self.free_name(name), attribute_direction(a.latents, b.latents), origin)
        self.add(spec)
        return spec

    def free_name(self, name: str) -> str:
        """The name asked for, or "smile (2)" when "smile" exists (a direction's key is its name)."""
        taken = {spec.label for spec in self.specs}
        base = name.strip() or f"direction {len(self.specs) + 1}"
        name, copy = base, 2
        while name in taken:
            name, copy = f"{base} ({copy})", copy + 1
        return name

    # ------------------------------------------------------------ the directions

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

    def reset(self) -> None:
        """A new model (another latent space): no directions and empty groups."""
        self.clear()
        for group in GROUPS:
            self.clear_group(group)

    def clear(self) -> None:
        if self.specs:
            self.specs = []
            self.changed.emit()
