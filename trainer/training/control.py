"""Pause / resume / stop requests for a running `train()`, safe to call from any thread."""
from __future__ import annotations

import threading

from trainer.errors import Cancelled


class TrainingControl:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()          # wake a paused loop so it can stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def pause_point(self, on_pause=None) -> None:
        """Called by the loop between steps: blocks while paused (calling `on_pause` first), raises Cancelled
        on stop. (Not a model checkpoint: the loop saves those itself when it stops.)"""
        if not self._running.is_set():
            if on_pause is not None:
                on_pause()
            self._running.wait()
        if self._stop.is_set():
            raise Cancelled("training")
