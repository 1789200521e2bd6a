"""Run a blocking call so that a stop request need not wait for it (Orange-style interruptible tasks)."""
from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def run_interruptibly(work: Callable[[], T], should_stop: Callable[[], bool], name: str = "vae-task",
                      poll_s: float = 0.05) -> T | None:
    """`work()` in a daemon thread; returns its result, re-raises its error, or returns None as soon as
    `should_stop()` is true (the abandoned thread ends with the process). Only use it for work whose writes are
    atomic (our caches and checkpoints are), so abandoning it leaves nothing half-written."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as error:      # handed to the waiting thread below
            result["error"] = error

    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    while worker.is_alive():
        if should_stop():
            return None
        worker.join(poll_s)
    if "error" in result:
        raise result["error"]
    return result["value"]
