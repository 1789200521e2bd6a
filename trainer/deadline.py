"""A time limit for work that can be shortened: the final evaluation of a run under a time budget.

Work that supports a deadline runs in chunks (batches of images, EM iterations): a small first chunk measures the
speed, and each later chunk is cut to what still ends in time at the slowest speed seen so far; the work then
reports on what it did (fewer images, a part skipped) instead of overrunning. Without a deadline the same code
runs to the end.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

FIRST_CHUNK = 1              # rows: a first chunk this small measures the speed without overrunning a short deadline


class Deadline:
    """A moment on the monotonic clock that work must end by."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.end = clock() + seconds

    def left(self) -> float:
        return self.end - self.clock()

    def allows(self, seconds: float) -> bool:
        """Whether work of `seconds` started now ends in time."""
        return self.left() >= seconds

    def part(self, share: float) -> "Deadline":
        """A deadline `share` of the way from now to this one (for one part of several)."""
        return Deadline(share * max(0.0, self.left()), self.clock)


def spread_order(count: int, seed: int = 0) -> np.ndarray:
    """Indices 0..count-1 in a fixed random order: any first k of them are a fair sample of all, so work cut short
    by a deadline still reports on images from the whole set."""
    return np.random.default_rng(seed).permutation(count)


def run_chunks(count: int, chunk: int, work: Callable[[slice], None], deadline: Deadline | None,
               minimum: int = 1) -> int:
    """work(rows) for consecutive slices of range(count), at most `chunk` long, until all are done or the
    deadline leaves no time for another row (at the slowest time per row seen so far); at least `minimum` rows
    are done. Returns how many."""
    done, row_s = 0, 0.0
    while done < count:
        size = chunk
        if deadline is not None:
            left = deadline.left()
            fits = int(left / row_s) if row_s > 0 else (FIRST_CHUNK if left > 0 else 0)
            size = max(min(chunk, fits), minimum - done)
            if size <= 0:
                break
        started = time.monotonic()
        end = min(count, done + size)
        work(slice(done, end))
        row_s = max(row_s, (time.monotonic() - started) / (end - done))
        done = end
    return done
