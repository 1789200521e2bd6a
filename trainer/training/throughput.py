"""Images per second over the recent past, not counting paused time (the progress bar's rate and ETA)."""
from __future__ import annotations

import time


class Throughput:
    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self.samples: list[tuple[float, int]] = []
        self.paused_at: float | None = None
        self.offset = 0.0

    def pause(self) -> None:
        self.paused_at = time.monotonic()

    def resume(self) -> None:
        if self.paused_at is not None:
            self.offset += time.monotonic() - self.paused_at
            self.paused_at = None
            self.samples.clear()

    def tick(self, images: int) -> float:
        """Record `images` more trained; the current rate."""
        now = time.monotonic() - self.offset
        self.samples.append((now, images))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window_s:
            self.samples.pop(0)
        if len(self.samples) < 2:
            return 0.0
        elapsed = now - self.samples[0][0]
        return sum(n for _, n in self.samples[1:]) / elapsed if elapsed > 0 else 0.0
