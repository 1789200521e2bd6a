"""The worker object that runs trainer.training.loop.train() on a QThread (Qt's worker-object pattern).

It is parentless and moved to its thread by TrainingRunner; only signals leave it. Its events callback runs in
the training thread and hands events to an EventBatcher, which emits a TrainingUpdate at most ~15 times a second.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from PySide6.QtCore import QObject, Signal, Slot

from trainer.training.checkpoint import CheckpointError
from trainer.config import ConfigError, RunConfig
from trainer.training.control import TrainingControl
from trainer.training.cores import available_cores
from trainer.data.datasets import DataError, load_dataset
from trainer.errors import Cancelled
from trainer.training.events import DataProgress, Event, RunFinished
from trainer.training.loop import train
from trainer.training.rundir import RunDirError

from ..thread_priority import lower_this_thread_priority
from .updates import EventBatcher, TrainingUpdate

log = logging.getLogger(__name__)

# Setup errors whose message is already written for the user.
USER_ERRORS = (DataError, ConfigError, CheckpointError, RunDirError)


GUI_BUSY_S = 0.75          # after the explorer last changed the face, training leaves a core to the GUI this long


def gui_torch_threads() -> int:
    """Torch CPU threads for training inside the GUI while the window is idle: all cores, as the CLI uses.

    The app's thread policy (ThreadPolicy): all cores while the user is not touching the explorer, one core fewer
    for GUI_BUSY_S after each face change (a slider drag, a decode), applied between steps; and the training
    thread runs at a lower OS priority (vae_gui.thread_priority.BACKGROUND_NICE), so the event loop gets a core the moment it needs one.
    The earlier rule (always all cores but one) dated from a machine where another job held a core: on an idle
    2-core machine it halved every run (127 vs 239 img/s in tests/bench/bench_gui.py).
    """
    return max(1, available_cores())


class ThreadPolicy:
    """Torch threads of the training thread, switched between steps: `full` while the GUI is idle, `busy` while
    the user works in the explorer. note_gui_busy() may be called from any thread; apply() only from the training
    thread (under OpenMP the count is per thread)."""

    def __init__(self, full: int, busy: int, busy_s: float = GUI_BUSY_S):
        self.full, self.busy, self.busy_s = max(1, full), max(1, busy), busy_s
        self._busy_until = 0.0
        self.current: int | None = None
        self.switches = 0

    def note_gui_busy(self) -> None:
        self._busy_until = time.monotonic() + self.busy_s

    def wanted(self) -> int:
        return self.busy if time.monotonic() < self._busy_until else self.full

    def apply(self) -> None:
        threads = self.wanted()
        if threads != self.current:
            torch.set_num_threads(threads)
            self.current = threads
            self.switches += 1


def default_thread_policy() -> ThreadPolicy:
    cores = available_cores()
    return ThreadPolicy(full=cores, busy=max(1, cores - 1))


class _FlushingControl(TrainingControl):
    """A TrainingControl that flushes pending updates before the loop blocks at a pause."""

    def __init__(self, before_wait, policy: ThreadPolicy | None = None):
        super().__init__()
        self._before_wait = before_wait
        self.policy = policy

    def pause_point(self, on_pause=None) -> None:
        if self.paused and not self.stop_requested:
            self._before_wait()
        super().pause_point(on_pause)
        if self.policy is not None:          # between steps, in the training thread
            self.policy.apply()


class TrainingWorker(QObject):
    """Runs one training run. Create, move to a QThread, connect thread.started to run()."""

    update = Signal(object)      # TrainingUpdate
    error = Signal(str)          # a setup error (bad data folder, bad config...) or an unexpected failure
    done = Signal()              # run() has returned; always the last signal

    def __init__(self, config: RunConfig, resume: Path | str | None = None, interval_s: float = 1 / 15,
                 policy: ThreadPolicy | None = None):
        super().__init__()
        self.config = config
        self.resume = str(resume) if resume else None
        self.policy = policy
        self.control = _FlushingControl(before_wait=lambda: self._flush(paused=True), policy=policy)
        self._batcher = EventBatcher(interval_s)

    # Thread-safe: they only set flags that the loop reads between steps.
    def pause(self) -> None:
        self.control.pause()

    def resume_training(self) -> None:
        self.control.resume()

    def stop(self) -> None:
        self.control.stop()

    @Slot()
    def run(self) -> None:
        lower_this_thread_priority()
        try:
            try:       # the Stop button ends a long load at once (the decoding workers too), creating nothing
                dataset = load_dataset(self.config.data, should_stop=lambda: self.control.stop_requested,
                                       progress=self._on_data_progress)
            except Cancelled:
                self._flush()
                self._emit(TrainingUpdate(finished=RunFinished(
                    status="stopped", message="stopped before training started", step=0, run_dir="",
                    best_checkpoint=None, last_checkpoint=None)))
                return
            train(self.config, events=self._on_event, control=self.control, resume=self.resume, dataset=dataset)
        except USER_ERRORS as error:
            self._flush()
            self.error.emit(str(error))
        except Exception as error:      # the thread boundary: report, never take the app down
            log.exception("training failed")
            self._flush()
            self.error.emit(f"training failed: {type(error).__name__}: {error}")
        finally:
            self._flush()
            self.done.emit()

    def _on_data_progress(self, done: int, total: int, what: str) -> None:
        self._on_event(DataProgress(done=done, total=total, what=what))

    def _on_event(self, event: Event) -> None:
        update = self._batcher.add(event)
        if update is not None:
            self._emit(update)

    def _flush(self, paused: bool = False) -> None:
        update = self._batcher.flush(paused=paused)
        if update is not None:
            self._emit(update)

    def _emit(self, update: TrainingUpdate) -> None:
        self.update.emit(update)
