"""The GUI's one way to run work off the GUI thread: a worker object on its own QThread per task.

Qt's worker-object pattern (a parentless QObject moved to a QThread), as the training runner uses. A task is a
plain function `work(task, *args)`; `task` is a TaskContext through which it reports progress and sees a cancel
request. Only signals cross threads, and results are plain objects (numpy arrays, dataclasses).

Tasks run on named channels: starting a task on a channel cancels the one running there, and only the newest
task of a channel reports (the latest request wins: a new checkpoint opened, the sliders moved on).

Lifetime: a QThread destroyed while it runs aborts the whole process. So every running task stays referenced in
one registry until its thread has ended, even when the widget that started it is deleted first, and quitting the
application cancels every task and waits for it (`shutdown_all`, connected to `aboutToQuit`). Owners still call
`BackgroundTasks.shutdown()` when their window closes, so a closed window leaves nothing running.

Users: the explorer's data encoding (explorer/checkpoint_loader.py), its sampler fits (explorer/samples_tab.py)
and the Train tab's folder scan (training/folder_scan.py).

Why the training run is separate (training/runner.py + worker.py): a run is not a function that returns a result
but a long-lived conversation: it is paused, resumed and stopped at step boundaries through a TrainingControl,
streams throttled typed events (curves, image grids) for minutes or hours, writes a checkpoint on stop, and at
most one exists at a time. It follows the same pattern (a parentless worker QObject moved to its own QThread,
only signals crossing) with that richer interface; a task here is fire-and-forget work with progress and cancel.
"""
from __future__ import annotations

import itertools
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from trainer.errors import Cancelled

from .thread_priority import lower_this_thread_priority


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
        """Call between chunks of work: raises Cancelled once the task was cancelled or replaced."""
        if self._stop.is_set():
            raise Cancelled("a newer task replaced this one")

    def cancel(self) -> None:
        self._stop.set()


class _TaskWorker(QObject):
    # Each signal carries the task's channel and id: the receiver needs no table of its tasks to tell whether this
    # one is still the newest of its channel (such a table, once tidied, would drop a result still in the queue).
    progress = Signal(str, int, int, int, str)  # channel, task id, done, total, what
    succeeded = Signal(str, int, object)        # channel, task id, result
    failed = Signal(str, int, str)              # channel, task id, message
    ended = Signal()

    def __init__(self, channel: str, task_id: int, work: Callable[..., Any], args: tuple):
        super().__init__()
        self.channel = channel
        self.task_id = task_id
        self.work = work
        self.args = args
        self.context = TaskContext(self._report)
        self.done = False                       # set in the task's thread once `work` has returned or raised

    def _report(self, done: int, total: int, what: str) -> None:
        self.progress.emit(self.channel, self.task_id, done, total, what)

    @Slot()
    def run(self) -> None:
        lower_this_thread_priority()          # the GUI thread and Qt's helpers come first
        try:
            result = self.work(self.context, *self.args)
            if not self.context.cancelled:
                self.succeeded.emit(self.channel, self.task_id, result)
        except Cancelled:
            pass
        except Exception as error:          # a worker must report, never die silently
            traceback.print_exc()
            self.failed.emit(self.channel, self.task_id, _message(error))
        finally:
            self.done = True
            self.ended.emit()


def _message(error: Exception) -> str:
    """Our own errors carry a message meant for the user; anything else also names its type."""
    text = str(error)
    if type(error).__module__.startswith(("trainer", "vae_gui")) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# Every task whose thread may still run, whoever started it: task id -> (thread, worker). See "Lifetime" above.
_live: dict[int, tuple[QThread, _TaskWorker]] = {}
_task_ids = itertools.count(1)


def _forget_ended() -> None:
    """Drop the tasks whose work is over, once their thread has really ended (wait() returns at once then)."""
    for task_id, (thread, worker) in list(_live.items()):
        if worker.done:
            thread.wait()
            del _live[task_id]


def shutdown_all() -> None:
    """Cancel every task of every owner and wait for their threads (the application is quitting)."""
    for thread, worker in list(_live.values()):
        worker.context.cancel()
    for thread, _ in list(_live.values()):
        thread.wait()
    _live.clear()


def _stop_all_when_quitting() -> None:
    app = QCoreApplication.instance()
    if app is not None and not app.property("vae_tasks_hooked"):
        app.aboutToQuit.connect(shutdown_all)
        app.setProperty("vae_tasks_hooked", True)


class BackgroundTasks(QObject):
    """Starts tasks, each on its own QThread, and reports the newest task of each channel."""

    progress = Signal(str, int, int, str)       # channel, done, total, what
    finished = Signal(str, object)              # channel, result
    failed = Signal(str, str)                   # channel, message

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._current: dict[str, int] = {}                       # channel -> newest task id
        self._running: dict[int, tuple[QThread, _TaskWorker]] = {}
        _stop_all_when_quitting()

    def start(self, channel: str, work: Callable[..., Any], *args: Any) -> int:
        """Run `work(task_context, *args)` off the GUI thread, cancelling the channel's running task."""
        self.cancel(channel)
        _forget_ended()
        task_id = next(_task_ids)
        thread = QThread()
        thread.setObjectName(f"vae-task-{channel}-{task_id}")
        worker = _TaskWorker(channel, task_id, work, args)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        # Direct: QThread.quit is thread-safe, and a queued call would wait for the GUI thread (and wait() below).
        worker.ended.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._reap)
        self._current[channel] = task_id
        self._running[task_id] = (thread, worker)
        _live[task_id] = (thread, worker)
        thread.start()
        return task_id

    def is_busy(self, channel: str) -> bool:
        return self._current.get(channel, 0) in self._running

    def cancel(self, channel: str) -> None:
        task_id = self._current.pop(channel, 0)
        if task_id in self._running:
            self._running[task_id][1].context.cancel()

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
        """Cancel this owner's tasks and wait for them to end (a cancelled task stops at its next check)."""
        self.cancel_all()
        for thread, _ in list(self._running.values()):
            thread.wait()
        self._reap()

    def _is_current(self, channel: str, task_id: int) -> bool:
        return self._current.get(channel) == task_id

    @Slot(str, int, int, int, str)
    def _on_progress(self, channel: str, task_id: int, done: int, total: int, what: str) -> None:
        if self._is_current(channel, task_id):
            self.progress.emit(channel, done, total, what)

    @Slot(str, int, object)
    def _on_succeeded(self, channel: str, task_id: int, result: object) -> None:
        if self._is_current(channel, task_id):
            self.finished.emit(channel, result)

    @Slot(str, int, str)
    def _on_failed(self, channel: str, task_id: int, message: str) -> None:
        if self._is_current(channel, task_id):
            self.failed.emit(channel, message)

    @Slot()
    def _reap(self) -> None:
        """Forget ended tasks; Python owns the parentless thread and worker objects and frees them."""
        for task_id, (thread, worker) in list(self._running.items()):
            if worker.done:
                thread.wait()           # returns at once: the work is over and the thread is quitting
                del self._running[task_id]
                _live.pop(task_id, None)
