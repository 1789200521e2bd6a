"""Starts a TrainingWorker on its own QThread and manages its life: pause, resume, stop, shutdown."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal

from trainer.config import RunConfig

from .worker import ThreadPolicy, TrainingWorker, default_thread_policy

log = logging.getLogger(__name__)


class TrainingRunner(QObject):
    """One run at a time. Lives in the GUI thread; its signals are delivered in the GUI thread."""

    update = Signal(object)           # TrainingUpdate
    error = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._paused = False
        self.policy: ThreadPolicy | None = None

    def note_gui_busy(self) -> None:
        """The user is working in the explorer: training leaves a core to the GUI for a moment."""
        if self.policy is not None:
            self.policy.note_gui_busy()

    @property
    def is_running(self) -> bool:
        return self._thread is not None

    @property
    def is_paused(self) -> bool:
        return self.is_running and self._paused

    def start(self, config: RunConfig, resume: Path | str | None = None) -> None:
        """Start training `config` (or continue the run in `resume`). Raises RuntimeError while one runs."""
        if self.is_running:
            raise RuntimeError("a training run is already in progress; stop it first")
        # Threads chosen by the user (or a test) stay fixed; otherwise the app's policy adapts them between steps.
        self.policy = default_thread_policy() if config.train.threads <= 0 else None
        if self.policy is not None:
            config = dataclasses.replace(config, train=dataclasses.replace(config.train, threads=self.policy.full))
        thread = QThread()
        thread.setObjectName("vae-training")
        worker = TrainingWorker(config, resume=resume, policy=self.policy)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct: quit() must not wait for the GUI event loop, which is blocked while shutdown() waits.
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.update.connect(self.update)
        worker.error.connect(self.error)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker, self._paused = thread, worker, False
        thread.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        if self._worker is not None:
            self._worker.pause()
            self._paused = True

    def resume(self) -> None:
        if self._worker is not None:
            self._worker.resume_training()
            self._paused = False

    def stop(self) -> None:
        """Ask the loop to stop at its next step; it writes checkpoints/last.pt and the thread ends."""
        if self._worker is not None:
            self._worker.stop()
            self._paused = False

    def shutdown(self, timeout_s: float = 3.0) -> bool:
        """Stop and wait up to timeout_s for the checkpoint write and the thread's end. True when it ended.

        When the loop is inside something it cannot interrupt (the final evaluation of a finished run), this
        keeps waiting after the timeout: destroying a running QThread would abort the process.
        """
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        ended_in_time = thread.wait(int(timeout_s * 1000))
        if not ended_in_time:
            log.warning("training did not stop within %.1f s; waiting for it to finish", timeout_s)
            thread.wait()
        self._release(thread)
        return ended_in_time

    def _on_thread_finished(self) -> None:
        self._release(self.sender())

    def _release(self, thread: QObject | None) -> None:
        """Forget a finished thread (once; a queued `finished` may arrive after shutdown() released it)."""
        if thread is None or thread is not self._thread:
            return
        self._thread.wait()     # `finished` is emitted just before the thread exits; let it exit
        self._thread, self._worker, self._paused = None, None, False
        self.running_changed.emit(False)
