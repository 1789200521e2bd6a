"""Short background computations (fitting a sampler) on a one-thread pool; results come back as signals."""
from __future__ import annotations

import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, Signal


class TaskRunner(QObject):
    """Runs callables one at a time off the GUI thread. Each submit returns an id that comes back with its result."""

    finished = Signal(int, object)       # task id, result
    failed = Signal(int, str)            # task id, message

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._next_id = 0

    def submit(self, function: Callable[..., Any], *args: Any) -> int:
        self._next_id += 1
        task_id = self._next_id

        def run() -> None:
            try:
                result = function(*args)
            except Exception as error:           # report every failure to the GUI instead of losing it
                traceback.print_exc()
                self.failed.emit(task_id, f"{type(error).__name__}: {error}")
                return
            self.finished.emit(task_id, result)

        self._pool.start(run)
        return task_id

    def wait(self, timeout_ms: int = 5000) -> bool:
        return self._pool.waitForDone(timeout_ms)
