"""Runs trainer.latent.prepared.prepare_latents on a QThread: encode the checkpoint's data, compute its statistics.

Only signals cross threads. Each job has an id; results of a job that was replaced (a new checkpoint was
opened meanwhile) are dropped.
"""
from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

from trainer.training.checkpoint import LoadedCheckpoint
from trainer.latent.prepared import Cancelled, PreparedLatents, prepare_latents


class _Job(QObject):
    progress = Signal(int, int, int, str)        # job id, done, total, what
    succeeded = Signal(int, object)               # job id, PreparedLatents
    failed = Signal(int, str)
    ended = Signal()

    def __init__(self, job_id: int, checkpoint: LoadedCheckpoint, compute_stats: bool, store: bool):
        super().__init__()
        self.job_id = job_id
        self.checkpoint = checkpoint
        self.compute_stats = compute_stats
        self.store = store
        self.stop = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            result = prepare_latents(self.checkpoint, self.compute_stats, store=self.store,
                                     progress=self._report, should_stop=self.stop.is_set)
            self.succeeded.emit(self.job_id, result)
        except Cancelled:
            pass
        except Exception as error:       # a worker must report, never die silently
            traceback.print_exc()
            self.failed.emit(self.job_id, f"{type(error).__name__}: {error}")
        finally:
            self.ended.emit()

    def _report(self, done: int, total: int, what: str) -> None:
        self.progress.emit(self.job_id, done, total, what)


class LatentDataLoader(QObject):
    progress = Signal(int, int, str)              # done, total, what
    finished = Signal(object)                     # PreparedLatents of the current job
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.jobs_started = 0
        self._current = 0
        self._running: dict[int, tuple[QThread, _Job]] = {}

    @property
    def busy(self) -> bool:
        return self._current in self._running

    def start(self, checkpoint: LoadedCheckpoint, compute_stats: bool, store: bool = True) -> None:
        """Begin encoding for `checkpoint`, abandoning any earlier job."""
        self.cancel()
        self.jobs_started += 1
        self._current = self.jobs_started
        thread = QThread()
        thread.setObjectName(f"explorer-latents-{self._current}")
        job = _Job(self._current, checkpoint, compute_stats, store)
        job.moveToThread(thread)
        thread.started.connect(job.run)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.ended.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._running[self._current] = (thread, job)
        thread.start()

    def cancel(self) -> None:
        for _, job in self._running.values():
            job.stop.set()
        self._current = 0

    def shutdown(self) -> None:
        """Cancel and wait for the jobs to end. A cancelled job stops at its next check (the data load is
        abandoned at once, encoding stops between batches), and a QThread destroyed while running aborts
        the whole process, so this waits for it rather than giving up after a timeout."""
        self.cancel()
        for thread, _ in list(self._running.values()):
            thread.quit()
            thread.wait()
        self._reap()

    @Slot(int, int, int, str)
    def _on_progress(self, job_id: int, done: int, total: int, what: str) -> None:
        if job_id == self._current:
            self.progress.emit(done, total, what)

    @Slot(int, object)
    def _on_succeeded(self, job_id: int, result: PreparedLatents) -> None:
        if job_id == self._current:
            self.finished.emit(result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if job_id == self._current:
            self.failed.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._reap()

    def _reap(self) -> None:
        """Forget finished jobs; Python owns the parentless thread and job objects and frees them."""
        for job_id, (thread, _) in list(self._running.items()):
            if thread.isFinished():
                del self._running[job_id]
