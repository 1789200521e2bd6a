"""Observable state of the Train tab: the current run's progress, curves, snapshots and KL, and past runs' curves.

Widgets observe this object and hold no run data themselves. Curves are accumulated in growable numpy buffers;
plots poll `revision` from a timer rather than redrawing on every update.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.training.events import DataProgress, FinalEvaluationStarted, RunFinished, RunStarted, StepMetrics
from trainer.training.run_files import RunFiles
from trainer.training.rundir import read_metrics

from .snapshots import SnapshotStore
from .updates import STEP_COLUMNS, TrainingUpdate

EVAL_COLUMNS = ("step", "val_loss", "val_recon", "val_kl")
# A run's life: idle -> starting (data loads) -> running <-> pausing -> paused -> running ... -> evaluating (the
# final evaluation) -> completed; stopping -> stopped from any active status; failed from any.
ACTIVE_STATUSES = ("starting", "running", "pausing", "paused", "stopping", "evaluating")
FINISHED_STATUSES = ("completed", "stopped", "failed")


class Countdown:
    """Seconds to an end the run reports now and then (each step's ETA, the final evaluation's allowance),
    counting down in between, so a text shows the true time left also between reports; frozen while paused."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._end: float | None = None
        self._frozen: float | None = None

    def set(self, seconds: float | None) -> None:
        """Count down from `seconds` now (None or infinite: unknown)."""
        known = seconds is not None and math.isfinite(seconds)
        self._end = self.clock() + max(0.0, seconds) if known else None
        self._frozen = None

    def clear(self) -> None:
        self.set(None)

    def freeze(self) -> None:
        if self._end is not None and self._frozen is None:
            self._frozen = max(0.0, self._end - self.clock())

    def thaw(self) -> None:
        if self._frozen is not None:
            self._end, self._frozen = self.clock() + self._frozen, None

    def left(self) -> float | None:
        """Seconds left (never below 0), None when unknown."""
        if self._frozen is not None:
            return self._frozen
        return None if self._end is None else max(0.0, self._end - self.clock())


class SeriesBuffer:
    """Rows of floats that only grow; capacity doubles so appending is amortised O(rows)."""

    def __init__(self, columns: int):
        self._data = np.zeros((0, columns))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def data(self) -> np.ndarray:
        return self._data[:self._count]

    def column(self, index: int) -> np.ndarray:
        return self._data[:self._count, index]

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self._data.shape[1])
        end = self._count + len(rows)
        if end > len(self._data):
            grown = np.zeros((max(end, 2 * len(self._data), 1024), self._data.shape[1]))
            grown[:self._count] = self.data
            self._data = grown
        self._data[self._count:end] = rows
        self._count = end


@dataclass
class RunCurves:
    """One run's loss curves: the current run, an earlier run of this session, or one loaded from disk."""
    name: str
    run_dir: str | None = None
    steps: SeriesBuffer = field(default_factory=lambda: SeriesBuffer(len(STEP_COLUMNS)))
    evals: SeriesBuffer = field(default_factory=lambda: SeriesBuffer(len(EVAL_COLUMNS)))
    visible: bool = True

    @classmethod
    def from_metrics(cls, records: list[dict], name: str, run_dir: str | None = None,
                     up_to_step: float = float("inf")) -> "RunCurves":
        """Curves from metrics.jsonl records (trainer.training.rundir.read_metrics)."""
        curves = cls(name=name, run_dir=run_dir)
        steps, evals = [], []
        for record in records:
            step = record.get("step")
            if not isinstance(step, (int, float)) or step > up_to_step:
                continue
            if record.get("type") == "step":
                steps.append([step, _num(record.get("loss")), _num(record.get("recon")), _num(record.get("kl"))])
            elif record.get("type") == "eval":
                evals.append([step, _num(record.get("val_loss")), _num(record.get("val_recon")),
                              _num(record.get("val_kl"))])
        if steps:
            curves.steps.append(np.array(steps))
        if evals:
            curves.evals.append(np.array(evals))
        return curves


def _num(value) -> float:
    return float(value) if isinstance(value, (int, float)) else float("nan")


class RunState(QObject):
    run_started = Signal()                 # a new current run (curves, snapshots and KL were reset)
    progress_changed = Signal()
    status_changed = Signal(str)           # status: idle|starting|running|paused|stopping|completed|stopped|failed
    snapshot_added = Signal(int)           # index into snapshots
    kl_changed = Signal()
    runs_changed = Signal()                # a run was added or replaced
    visibility_changed = Signal()          # a run was shown or hidden
    best_checkpoint_changed = Signal(str)
    run_finished = Signal(object)          # RunFinished
    loop_paused = Signal()                 # the training loop reached a pause and is waiting
    shown_step_changed = Signal()          # the history scrubber moved (None: follow the latest)

    def __init__(self, parent: QObject | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__(parent)
        self.countdown = Countdown(clock)       # to the run's end (its final evaluation's, once that runs)
        self.paused_at: int | None = None       # the step the loop paused at
        self.final_evaluation: FinalEvaluationStarted | None = None
        self.finished: RunFinished | None = None
        self.runs: list[RunCurves] = []
        self.current: RunCurves | None = None
        self.snapshots = SnapshotStore()
        self.kl_per_dim: np.ndarray | None = None
        self.kl_history: list[tuple[int, np.ndarray]] = []     # (step, KL per dim) of each validation
        self.shown_step: int | None = None                      # the step the history scrubber shows
        self.is_variational = True
        self.latest: StepMetrics | None = None
        self.started: RunStarted | None = None
        self.loading: DataProgress | None = None          # the data set's preparation, before RunStarted
        self.epochs = 0
        self.time_budget_minutes = 0.0
        self.status = "idle"
        self.message = ""
        self.best_checkpoint: str | None = None
        self.last_checkpoint: str | None = None
        self.best_eval: tuple[int, float] | None = None      # (step, validation loss) of best.pt
        self.revision = 0                  # bumps whenever any curve changes

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def recon_loss(self) -> str:
        """The current run's reconstruction loss ("mse", "bce", "gaussian"); "" before a run starts."""
        return self.started.config.get("train", {}).get("recon_loss", "") if self.started is not None else ""

    @property
    def run_name(self) -> str:
        return Path(self.started.run_dir).name if self.started is not None else ""

    # ------------------------------------------------------------ changes from the panel
    def begin(self, message: str) -> None:
        """A run is being started (data loading comes first; RunStarted follows). The previous run's curves stay
        on screen until then; its progress and checkpoints are no longer this run's."""
        self.started = self.latest = self.loading = None
        self.best_checkpoint = self.last_checkpoint = None
        self.best_eval = None
        self._reset_phase()
        self.set_status("starting", message)
        self.progress_changed.emit()          # the previous run's "100% · epoch 2/2" goes

    def request_pause(self) -> None:
        """The user asked to pause: the loop pauses after its current step (then: paused)."""
        if self.status in ("running", "starting"):
            self.set_status("pausing")

    def resume_after_pause(self) -> None:
        """The user resumed (or took back a pause the loop had not reached yet)."""
        if self.status in ("pausing", "paused"):
            self.paused_at = None
            self.countdown.thaw()
            self.set_status("running")

    def request_stop(self) -> None:
        """The run stops after its current step (or abandons its final evaluation) and saves a checkpoint."""
        if self.is_active:
            self.countdown.freeze()
            self.set_status("stopping")

    def _reset_phase(self) -> None:
        self.countdown.clear()
        self.paused_at = None
        self.final_evaluation = None
        self.finished = None

    def set_shown_step(self, step: int | None) -> None:
        """The history scrubber shows `step` (None: the latest); the KL chart follows."""
        if step != self.shown_step:
            self.shown_step = step
            self.shown_step_changed.emit()

    def kl_at_shown_step(self) -> tuple[int | None, np.ndarray | None]:
        """(step, KL per dim) of the last validation at or before the shown step; the latest when following."""
        if self.shown_step is None or not self.kl_history:
            return (self.kl_history[-1][0] if self.kl_history else None), self.kl_per_dim
        earlier = [(step, kl) for step, kl in self.kl_history if step <= self.shown_step]
        return earlier[-1] if earlier else (None, None)

    def set_status(self, status: str, message: str = "") -> None:
        self.status, self.message = status, message
        self.status_changed.emit(status)

    def add_run(self, curves: RunCurves) -> bool:
        """Add an earlier run's curves for comparison; False when that run directory is already listed."""
        if curves.run_dir and any(_same_dir(curves.run_dir, run.run_dir) for run in self.runs):
            return False
        self.runs.append(curves)
        self._curves_changed()
        return True

    def set_visible(self, index: int, visible: bool) -> None:
        if self.runs[index].visible != visible:
            self.runs[index].visible = visible
            self.revision += 1
            self.visibility_changed.emit()

    # ------------------------------------------------------------ changes from the worker
    def apply(self, update: TrainingUpdate) -> None:
        if update.loading is not None and self.status == "starting":
            self.loading = update.loading
            self.progress_changed.emit()
        if update.started is not None:
            self.loading = None
            self._start_run(update.started)
        if self.started is not None and self.current is not None:
            self._apply_progress(update)
        if update.paused:
            if self.status == "pausing":         # not when the user resumed before this news arrived
                self.paused_at = self.latest.step if self.latest is not None else None
                self.countdown.freeze()
                self.set_status("paused")
            self.loop_paused.emit()
        if update.final_evaluation is not None:
            self._start_final_evaluation(update.final_evaluation)
        if update.finished is not None:          # also a run stopped while its data was loading
            self._finish_run(update.finished)

    def _apply_progress(self, update: TrainingUpdate) -> None:
        if len(update.steps):
            self.current.steps.append(update.steps)
            self.revision += 1
        if update.latest is not None:
            self.latest = update.latest
            if self.status not in ("paused", "stopping"):
                self.countdown.set(update.latest.eta_s)
            self.progress_changed.emit()
        self._apply_evals(update)
        for grids in update.previews:
            self.snapshot_added.emit(self.snapshots.append(grids))
        for saved in update.checkpoints:
            if saved.kind == "last":
                self.last_checkpoint = saved.path
            elif saved.kind == "best":
                self.best_checkpoint = saved.path
                self.best_checkpoint_changed.emit(saved.path)

    def _start_run(self, started: RunStarted) -> None:
        self.started = started
        name = Path(started.run_dir).name
        curves = RunCurves(name=name, run_dir=started.run_dir)
        if started.resumed:         # show the part of the run trained before
            curves = RunCurves.from_metrics(read_metrics(RunFiles(started.run_dir).metrics_file), name,
                                            started.run_dir, up_to_step=started.start_step)
        self.runs = [run for run in self.runs if not _same_dir(run.run_dir, started.run_dir)]
        self.runs.append(curves)
        self.current = curves
        self.snapshots = SnapshotStore()
        self.kl_per_dim = None
        self.kl_history = []
        self.shown_step = None
        self.is_variational = started.config.get("model", {}).get("family", "vae") == "vae"
        self.latest = None
        self.epochs = int(started.config.get("train", {}).get("epochs", 0))
        self.time_budget_minutes = float(started.config.get("train", {}).get("time_budget_minutes", 0.0) or 0.0)
        self.best_checkpoint = self.last_checkpoint = None
        self.best_eval = None
        self._reset_phase()
        self._curves_changed()
        self.run_started.emit()
        if self.status == "starting":        # not over a pause or a stop asked for while the data loaded
            self.set_status("running")
        self.kl_changed.emit()

    def _apply_evals(self, update: TrainingUpdate) -> None:
        if not update.evals:
            return
        rows = [[e.step, e.val_loss, e.val_recon, e.val_kl if e.val_kl is not None else np.nan]
                for e in update.evals]
        self.current.evals.append(np.array(rows))
        self.revision += 1
        for e in update.evals:
            if e.is_best:
                self.best_eval = (e.step, e.val_loss)
        for e in update.evals:
            if e.kl_per_dim is not None:
                self.kl_history.append((e.step, np.asarray(e.kl_per_dim, dtype=np.float64)))
        last = update.evals[-1]
        if last.kl_per_dim is not None:
            self.kl_per_dim = np.asarray(last.kl_per_dim, dtype=np.float64)
            self.kl_changed.emit()

    def _start_final_evaluation(self, started: FinalEvaluationStarted) -> None:
        self.final_evaluation = started
        if self.status != "stopping":
            self.countdown.set(started.seconds)
            self.set_status("evaluating")

    def _finish_run(self, finished: RunFinished) -> None:
        self.finished = finished
        self.countdown.clear()
        self.paused_at = None
        self.best_checkpoint = finished.best_checkpoint or self.best_checkpoint
        self.last_checkpoint = finished.last_checkpoint or self.last_checkpoint
        if finished.status == "failed" and self.started is None:
            self.latest = None                 # failed before training: no progress of this run to show
            self.progress_changed.emit()
        self.set_status(finished.status, self._finish_message(finished))
        self.run_finished.emit(finished)

    def _finish_message(self, finished: RunFinished) -> str:
        parts = [finished.message]
        if self.best_eval is not None and finished.status != "failed":
            parts.append(f"best validation loss {self.best_eval[1]:.4g} at step {self.best_eval[0]:,}")
        if finished.run_dir and finished.status != "failed":
            parts.append(f"saved in {finished.run_dir}")
        return " · ".join(parts)

    def _curves_changed(self) -> None:
        self.revision += 1
        self.runs_changed.emit()


def _same_dir(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return Path(a).resolve() == Path(b).resolve()
