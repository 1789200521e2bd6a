"""The morph: its two end faces A and B, how to go between them, and the path (the latents of the Morph tab's strip;
the atlas draws it). The path is computed here from the rest, so it never disagrees with the endpoints."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from trainer.latent.paths import interpolation_path

SLOTS = ("A", "B")
KINDS = ("lerp", "slerp")


@dataclass(frozen=True)
class Endpoint:
    z: np.ndarray
    name: str                  # "test image 3", "the mean face"
    by_user: bool = True       # False for the defaults a new checkpoint gets (replaced once test images arrive)


class Morph:
    endpoint_changed = Signal(str)      # slot "A" | "B"
    path_changed = Signal()             # the path changed (endpoints, kind or steps)

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint | None] = {slot: None for slot in SLOTS}
        self.kind = KINDS[0]
        self.steps = 8                  # faces on the path, A and B included
        self.path = np.zeros((0, 0), np.float32)        # (steps, D) from A to B, empty without both endpoints

    def set_endpoint(self, slot: str, z: np.ndarray, name: str, by_user: bool = True) -> None:
        if slot not in SLOTS:
            raise ValueError(f"unknown morph endpoint {slot!r}")
        self.endpoints[slot] = Endpoint(np.asarray(z, np.float32).reshape(-1).copy(), name, by_user)
        self.endpoint_changed.emit(slot)
        self._update_path()

    def offer_test_images(self, latents: np.ndarray | None) -> None:
        """Test images arrived: the first two replace the endpoints the user has not picked."""
        if latents is None or len(latents) < 2:
            return
        for slot, index in zip(SLOTS, (0, 1)):
            endpoint = self.endpoints[slot]
            if endpoint is None or not endpoint.by_user:
                self.set_endpoint(slot, latents[index], f"test image {index + 1}", by_user=False)

    def set_interpolation(self, kind: str, steps: int) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown interpolation {kind!r}")
        if (kind, int(steps)) != (self.kind, self.steps):
            self.kind, self.steps = kind, int(steps)
            self._update_path()

    def z_of(self, slot: str) -> np.ndarray | None:
        endpoint = self.endpoints[slot]
        return endpoint.z if endpoint is not None else None

    def clear(self) -> None:
        self.endpoints = {slot: None for slot in SLOTS}
        self._update_path()

    def _update_path(self) -> None:
        a, b = self.z_of("A"), self.z_of("B")
        self.path = (interpolation_path(a, b, self.steps, self.kind).astype(np.float32)
                     if a is not None and b is not None else np.zeros((0, 0), np.float32))
        self.path_changed.emit()
