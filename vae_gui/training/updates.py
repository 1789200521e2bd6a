"""Batching of train() events into a few payloads per second (runs in the worker thread; no Qt here).

Step metrics arrive at every step; the GUI only needs them a few times a second. Every step still reaches the
loss plot (as rows of a small numpy array), and every evaluation and preview snapshot is kept: they are batched,
never dropped. Image grids are composed and PNG-encoded here, in the worker thread.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from trainer.training.events import (CheckpointSaved, DataProgress, EvalMetrics, Event, FinalEvaluationStarted, Preview,
                                     RunFinished, RunStarted, StepMetrics)
from trainer.training.previews import reconstruction_grid, sample_grid

from .snapshots import PreviewGrids

STEP_COLUMNS = ("step", "loss", "recon", "kl")      # kl is NaN for a plain autoencoder


@dataclass
class TrainingUpdate:
    """Everything that happened since the previous update. CPU numpy arrays and plain dataclasses only."""
    started: RunStarted | None = None
    steps: np.ndarray = field(default_factory=lambda: np.zeros((0, len(STEP_COLUMNS))))
    latest: StepMetrics | None = None
    evals: list[EvalMetrics] = field(default_factory=list)        # .preview is None; see previews
    previews: list[PreviewGrids] = field(default_factory=list)
    checkpoints: list[CheckpointSaved] = field(default_factory=list)
    paused: bool = False                                           # the loop is waiting at a pause
    final_evaluation: FinalEvaluationStarted | None = None
    finished: RunFinished | None = None
    loading: DataProgress | None = None                            # the data set is being prepared

    @property
    def is_empty(self) -> bool:
        return (self.started is None and self.latest is None and not len(self.steps) and not self.evals
                and not self.previews and not self.checkpoints and not self.paused
                and self.final_evaluation is None and self.finished is None and self.loading is None)


def preview_grids(preview: Preview, from_eval: bool = False) -> PreviewGrids:
    """Grids composed and PNG-encoded here, in the worker thread, so the GUI thread has neither to do."""
    grids = PreviewGrids(step=preview.step, reconstructions=reconstruction_grid(preview),
                         samples=sample_grid(preview), from_eval=from_eval)
    return grids.encode()


class EventBatcher:
    """Collects events; `add` returns a TrainingUpdate when one is due (at most 1 / interval_s, plus run start
    and end, which go out at once). Used from one thread only."""

    def __init__(self, interval_s: float = 1 / 15, clock=time.monotonic):
        self.interval_s = interval_s
        self.clock = clock
        self._last_sent = -float("inf")
        self._reset()

    def _reset(self) -> None:
        self._pending = TrainingUpdate()
        self._step_rows: list[tuple[float, float, float, float]] = []

    def add(self, event: Event) -> TrainingUpdate | None:
        pending = self._pending
        urgent = False
        if isinstance(event, DataProgress):
            pending.loading = event
        elif isinstance(event, StepMetrics):
            kl = event.kl if event.kl is not None else float("nan")
            self._step_rows.append((event.step, event.loss, event.recon, kl))
            pending.latest = event
        elif isinstance(event, EvalMetrics):
            if event.preview is not None:
                pending.previews.append(preview_grids(event.preview, from_eval=True))
            pending.evals.append(replace(event, preview=None))
        elif isinstance(event, Preview):
            pending.previews.append(preview_grids(event))
        elif isinstance(event, CheckpointSaved):
            pending.checkpoints.append(event)
        elif isinstance(event, RunStarted):
            pending.started, urgent = event, True
        elif isinstance(event, FinalEvaluationStarted):
            pending.final_evaluation, urgent = event, True
        elif isinstance(event, RunFinished):
            pending.finished, urgent = event, True
        if urgent or self.clock() - self._last_sent >= self.interval_s:
            return self.flush()
        return None

    def flush(self, paused: bool = False) -> TrainingUpdate | None:
        """The pending update (None when there is nothing to send)."""
        update = self._pending
        if self._step_rows:
            update.steps = np.asarray(self._step_rows, dtype=np.float64)
        update.paused = paused
        self._reset()
        if update.is_empty:
            return None
        self._last_sent = self.clock()
        return update
