"""Exponential moving average of a growing series, bias-corrected so the first points are not pulled to 0."""
from __future__ import annotations

import numpy as np


class EmaSeries:
    """Smoothed copy of a series that only grows; extend() costs O(new points)."""

    def __init__(self, weight: float = 0.0):
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
        self.weight = weight
        self._biased = 0.0
        self._count = 0
        self._values = np.zeros(0)

    def __len__(self) -> int:
        return self._count

    @property
    def values(self) -> np.ndarray:
        return self._values[:self._count]

    def reset(self, weight: float | None = None) -> None:
        if weight is not None:
            if not 0.0 <= weight < 1.0:
                raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
            self.weight = weight
        self._biased, self._count = 0.0, 0

    def extend(self, raw: np.ndarray) -> None:
        """Smooth raw[len(self):] (raw is the whole series so far)."""
        new = np.asarray(raw[self._count:], dtype=np.float64)
        if not len(new):
            return
        end = self._count + len(new)
        if len(self._values) < end:
            grown = np.zeros(max(end, 2 * len(self._values), 256))
            grown[:self._count] = self._values[:self._count]
            self._values = grown
        w, biased, n = self.weight, self._biased, self._count
        out = self._values
        for value in new.tolist():           # a plain loop: only the points added since the last redraw
            n += 1
            biased = w * biased + (1.0 - w) * value
            out[n - 1] = biased / (1.0 - w ** n)
        self._biased, self._count = biased, n
