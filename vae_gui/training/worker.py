"""The worker object that runs trainer.loop.train() on a QThread (Qt's worker-object pattern).

It is parentless and moved to its thread by TrainingRunner; only signals leave it. Its events callback runs in
the training thread and hands events to an EventBatcher, which emits a TrainingUpdate at most ~15 times a second.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from trainer.checkpoint import CheckpointError
from trainer.config import ConfigError, RunConfig
from trainer.control import TrainingControl
from trainer.device import available_cores
from trainer.data import DataError, load_dataset_interruptibly
from trainer.events import Event, RunFinished
from trainer.loop import train
from trainer.rundir import RunDirError

from .updates import EventBatcher, TrainingUpdate

log = logging.getLogger(__name__)

# Setup errors whose message is already written for the user.
USER_ERRORS = (DataError, ConfigError, CheckpointError, RunDirError)


def gui_torch_threads() -> int:
    """Torch CPU threads for training inside the GUI: all cores but one, so the event loop keeps a core.

    On 2 cores, 1 training thread also trains faster than 2 that compete with the GUI (measured in
    tests/bench/bench_gui.py), because torch's intra-op threads stall when one of them is descheduled.
    """
    return max(1, available_cores() - 1)


class _FlushingControl(TrainingControl):
    """A TrainingControl that flushes pending updates before the loop blocks at a pause."""

    def __init__(self, before_wait):
        super().__init__()
        self._before_wait = before_wait

    def checkpoint(self, on_pause=None) -> None:
        if self.paused and not self.stop_requested:
            self._before_wait()
        super().checkpoint(on_pause)


class TrainingWorker(QObject):
    """Runs one training run. Create, move to a QThread, connect thread.started to run()."""

    update = Signal(object)      # TrainingUpdate
    error = Signal(str)          # a setup error (bad data folder, bad config...) or an unexpected failure
    done = Signal()              # run() has returned; always the last signal

    def __init__(self, config: RunConfig, resume: Path | str | None = None, interval_s: float = 1 / 15):
        super().__init__()
        self.config = config
        self.resume = str(resume) if resume else None
        self.control = _FlushingControl(before_wait=lambda: self._flush(paused=True))
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
        try:
            dataset = load_dataset_interruptibly(self.config.data, lambda: self.control.stop_requested)
            if dataset is None:
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
