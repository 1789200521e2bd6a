"""The morph: its two end faces A and B, and the path between them (the latents of the Morph tab's strip)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

SLOTS = ("A", "B")


@dataclass(frozen=True)
class Endpoint:
    z: np.ndarray
    name: str                  # "test image 3", "the mean face"
    by_user: bool = True       # False for the defaults a new checkpoint gets (replaced once test images arrive)


class Morph:
    endpoint_changed = Signal(str)      # slot "A" | "B"
    path_changed = Signal()

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint | None] = {slot: None for slot in SLOTS}
        self.path = np.zeros((0, 0), np.float32)        # (steps, D) from A to B, empty when none

    def set_endpoint(self, slot: str, z: np.ndarray, name: str, by_user: bool = True) -> None:
        if slot not in SLOTS:
            raise ValueError(f"unknown morph endpoint {slot!r}")
        self.endpoints[slot] = Endpoint(np.asarray(z, np.float32).reshape(-1).copy(), name, by_user)
        self.endpoint_changed.emit(slot)

    def z_of(self, slot: str) -> np.ndarray | None:
        endpoint = self.endpoints[slot]
        return endpoint.z if endpoint is not None else None

    def clear(self) -> None:
        self.endpoints = {slot: None for slot in SLOTS}
        self.set_path(np.zeros((0, 0), np.float32))

    def set_path(self, path: np.ndarray) -> None:
        self.path = np.asarray(path, dtype=np.float32)
        self.path_changed.emit()
