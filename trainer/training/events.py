"""What `train()` reports. Sinks (CLI progress bar, GUI worker, the run directory's files, TensorBoard) receive these
plain objects; the loop itself writes no log file.

Image payloads are CPU uint8 numpy arrays (N, H, W, 3), safe to hand to another thread.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np


@dataclass
class DataProgress:
    """The data set is being prepared before training: `done` of `total` (0: not known yet) for `what`."""
    done: int
    total: int
    what: str                # "reading the folder", "decoding images", "rendering synthetic faces"


@dataclass
class RunStarted:
    run_dir: str
    config: dict
    total_steps: int
    start_step: int
    n_train: int
    n_test: int
    param_count: int
    device: str
    precision: str
    resumed: bool = False
    steps_per_epoch: int = 0


@dataclass
class StepMetrics:
    step: int
    epoch: int
    total_steps: int
    loss: float
    recon: float
    kl: float | None
    beta: float
    lr: float
    images_per_s: float
    eta_s: float         # seconds to the run's end, final evaluation included; under a time budget before its
                         # plan, what is left of the budget (the run ends by then)
    planned: bool = True  # False while a time budget is still measuring the speed (total_steps is only a limit)


@dataclass
class Preview:
    """Live images: fixed validation images, their reconstructions and decodes of fixed latent vectors."""
    step: int
    originals: np.ndarray
    reconstructions: np.ndarray
    samples: np.ndarray


@dataclass
class EvalMetrics:
    step: int
    epoch: int
    val_loss: float
    val_recon: float
    val_kl: float | None
    kl_per_dim: list[float] | None
    is_best: bool
    preview: Preview | None = None


@dataclass
class FinalEvaluationStarted:
    """Training is over; the final evaluation of best.pt runs (it may take a while: metrics, latent statistics)."""
    step: int
    seconds: float | None  # the time it may take under a time budget (it is shortened to fit); None without one


@dataclass
class FinalEvaluationDone:
    """The final evaluation's report of best.pt (the same dict as RunResult.final_eval and eval.json)."""
    step: int
    report: dict


@dataclass
class RunNote:
    """A line for the run's log (train.log): something the run decided or changed (a budget's plan, a resume's
    changed settings, how the final evaluation went)."""
    text: str


@dataclass
class CheckpointSaved:
    step: int
    path: str
    kind: str            # "last" | "best"


@dataclass
class RunFinished:
    status: str          # "completed" | "stopped" | "failed"
    message: str
    step: int
    run_dir: str
    best_checkpoint: str | None
    last_checkpoint: str | None
    final_eval: dict | None = field(default=None)


Event = Union[DataProgress, RunStarted, StepMetrics, Preview, EvalMetrics, FinalEvaluationStarted,
              FinalEvaluationDone, RunNote, CheckpointSaved, RunFinished]
EventSink = Callable[[Event], None]


def is_logged_step(step: int, log_every_steps: int) -> bool:
    """The steps whose metrics the logs keep (metrics.jsonl, TensorBoard): every log_every_steps-th, and the first."""
    return step % max(1, log_every_steps) == 0 or step == 1


def both(first: EventSink, second: EventSink) -> EventSink:
    """A sink handing each event to `first`, then to `second`."""
    def sink(event: Event) -> None:
        first(event)
        second(event)
    return sink
