"""The GUI's one way to run work off the GUI thread: a worker object on its own QThread per task.

Qt's worker-object pattern (a parentless QObject moved to a QThread), as the training runner uses. A task is a
plain function `work(task, *args)`; `task` is a TaskContext through which it reports progress and sees a cancel
request. Only signals cross threads, and results are plain objects (numpy arrays, dataclasses).

Tasks run on named channels: starting a task on a channel cancels the one running there, and only the newest
task of a channel reports (the latest request wins: a new checkpoint opened, the sliders moved on).
"""
from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot


class TaskCancelled(Exception):
    """Raised inside a task by TaskContext.check() once the task was cancelled or replaced."""


class TaskContext:
    """What a running task sees: progress reporting and the cancel request (thread-safe)."""

    def __init__(self, report: Callable[[int, int, str], None]):
        self._report = report
        self._stop = threading.Event()

    def report(self, done: int, total: int, what: str = "") -> None:
        self._report(done, total, what)

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Call between chunks of work: raises TaskCancelled once the task should stop."""
        if self._stop.is_set():
            raise TaskCancelled()

    def cancel(self) -> None:
        self._stop.set()


class _TaskWorker(QObject):
    progress = Signal(int, int, int, str)       # task id, done, total, what
    succeeded = Signal(int, object)             # task id, result
    failed = Signal(int, str)                   # task id, message
    ended = Signal()

    def __init__(self, task_id: int, work: Callable[..., Any], args: tuple):
        super().__init__()
        self.task_id = task_id
        self.work = work
        self.args = args
        self.context = TaskContext(lambda done, total, what: self.progress.emit(task_id, done, total, what))

    @Slot()
    def run(self) -> None:
        try:
            result = self.work(self.context, *self.args)
            if not self.context.cancelled:
                self.succeeded.emit(self.task_id, result)
        except TaskCancelled:
            pass
        except Exception as error:          # a worker must report, never die silently
            traceback.print_exc()
            self.failed.emit(self.task_id, _message(error))
        finally:
            self.ended.emit()


def _message(error: Exception) -> str:
    """Our own errors carry a message meant for the user; anything else also names its type."""
    text = str(error)
    if type(error).__module__.startswith(("trainer", "vae_gui")) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class BackgroundTasks(QObject):
    """Starts tasks, each on its own QThread, and reports the newest task of each channel."""

    progress = Signal(str, int, int, str)       # channel, done, total, what
    finished = Signal(str, object)              # channel, result
    failed = Signal(str, str)                   # channel, message

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._next_id = 0
        self._current: dict[str, int] = {}                       # channel -> newest task id
        self._running: dict[int, tuple[QThread, _TaskWorker]] = {}
        self._channel_of: dict[int, str] = {}

    def start(self, channel: str, work: Callable[..., Any], *args: Any) -> int:
        """Run `work(task_context, *args)` off the GUI thread, cancelling the channel's running task."""
        self.cancel(channel)
        self._next_id += 1
        task_id = self._next_id
        thread = QThread()
        thread.setObjectName(f"vae-task-{channel}-{task_id}")
        worker = _TaskWorker(task_id, work, args)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        # Direct: QThread.quit is thread-safe, and a queued call would wait for the GUI thread (and wait() below).
        worker.ended.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._reap)
        self._current[channel] = task_id
        self._channel_of[task_id] = channel
        self._running[task_id] = (thread, worker)
        thread.start()
        return task_id

    def is_busy(self, channel: str) -> bool:
        return self._current.get(channel, 0) in self._running

    def cancel(self, channel: str) -> None:
        task_id = self._current.pop(channel, 0)
        if task_id in self._running:
            self._running[task_id][1].context.cancel()
        else:
            self._channel_of.pop(task_id, None)

    def cancel_all(self) -> None:
        for channel in list(self._current):
            self.cancel(channel)

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Wait for every running task (tests, shutdown); True when all ended in time."""
        ok = True
        for thread, _ in list(self._running.values()):
            ok = thread.wait(timeout_ms) and ok
        self._reap()
        return ok

    def shutdown(self) -> None:
        """Cancel everything and wait: destroying a running QThread would abort the process."""
        self.cancel_all()
        for thread, _ in list(self._running.values()):
            thread.quit()
            thread.wait()
        self._reap()

    def _is_current(self, task_id: int) -> str | None:
        channel = self._channel_of.get(task_id)
        return channel if channel is not None and self._current.get(channel) == task_id else None

    @Slot(int, int, int, str)
    def _on_progress(self, task_id: int, done: int, total: int, what: str) -> None:
        channel = self._is_current(task_id)
        if channel is not None:
            self.progress.emit(channel, done, total, what)

    @Slot(int, object)
    def _on_succeeded(self, task_id: int, result: object) -> None:
        channel = self._is_current(task_id)
        if channel is not None:
            self.finished.emit(channel, result)

    @Slot(int, str)
    def _on_failed(self, task_id: int, message: str) -> None:
        channel = self._is_current(task_id)
        if channel is not None:
            self.failed.emit(channel, message)

    @Slot()
    def _reap(self) -> None:
        """Forget finished tasks; Python owns the parentless thread and worker objects and frees them."""
        for task_id, (thread, _) in list(self._running.items()):
            if thread.isFinished():
                del self._running[task_id]
                # A channel's newest task stays known: its result may still be queued behind this reap (the
                # reap of another task's thread can run before a fast task's result arrives).
                channel = self._channel_of.get(task_id)
                if channel is None or self._current.get(channel) != task_id:
                    self._channel_of.pop(task_id, None)
