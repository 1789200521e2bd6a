"""What the progress bar and the status line say about a run, at every moment of its life: loading data, measuring
the speed before a time budget's plan exists, planned, pausing, paused, resumed, stopping, the final evaluation,
finished, stopped, failed, and after a resume. Pure functions of the RunState (tested without widgets).

A text states only what is true now: the time left counts down between the run's reports (RunState.countdown) and
stops while paused; nothing an earlier phase said ("resumed", an ETA) outlives that phase.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

from trainer.training.events import DataProgress

from .run_state import RunState

IDLE_TEXT = "Ready. Choose data and a model, then press Start."
STATUS_HEADS = {"starting": "Starting", "running": "Training", "pausing": "Pausing", "paused": "Paused",
                "stopping": "Stopping", "evaluating": "Evaluating", "completed": "Finished", "stopped": "Stopped",
                "failed": "Failed"}
TIME_SCALE = 1000               # the bar's range while it shows the share of a time budget used
# Asked for while the data loads: nothing to save yet, and the pause waits for the first step.
BEFORE_TRAINING = {"pausing": "pausing once training starts…", "stopping": "stopping…"}


@dataclass(frozen=True)
class BarText:
    value: int
    maximum: int                # 0: a busy bar (the total is not known)
    format: str                 # QProgressBar format: %p is the percentage of value / maximum


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ------------------------------------------------------------ the progress bar

def progress_bar(state: RunState) -> BarText:
    if state.status == "idle":
        return BarText(0, 1, "")
    if state.finished is not None:
        return _finished_bar(state)
    if state.started is None:                  # the data is loading
        if state.status != "starting":
            return BarText(0, 1, BEFORE_TRAINING.get(state.status, "starting…"))
        return _loading_bar(state.loading) if state.loading is not None else BarText(0, 1, state.message)
    if state.status == "evaluating" or (state.status == "stopping" and state.final_evaluation is not None):
        return BarText(1, 1, f"training done · {_evaluation_phrase(state)}")
    m = state.latest
    if m is None:
        start = state.started
        return BarText(start.start_step, max(1, start.total_steps),
                       f"step {start.start_step:,} · {_activity(state, 'measuring speed…')}")
    if not m.planned:
        return _planning_bar(state)
    return BarText(m.step, max(1, m.total_steps),
                   f"%p% · {_epoch_text(state)} · step {m.step:,}/{m.total_steps:,} · {_rate(state)} · "
                   f"{_activity(state, _time_left(state))}")


def _loading_bar(loading: DataProgress) -> BarText:
    """The data set's preparation (decoding images, rendering faces): a busy bar while its total is unknown."""
    if loading.total <= 0:
        return BarText(0, 0, f"{loading.what}…")
    return BarText(loading.done, loading.total, f"%p% · {loading.what}: {loading.done:,} of {loading.total:,}")


def _planning_bar(state: RunState) -> BarText:
    """A time budget's first steps: the step count is not planned yet, so the bar shows the budget's time used."""
    m, budget_s = state.latest, state.time_budget_minutes * 60
    left = state.countdown.left()
    used = TIME_SCALE if budget_s <= 0 or left is None else int(TIME_SCALE * (1 - min(left, budget_s) / budget_s))
    activity = _activity(state, f"measuring speed to plan the {state.time_budget_minutes:g} min budget · "
                                f"{format_duration(left) if left is not None else '–'} left")
    return BarText(used, TIME_SCALE, f"step {m.step:,} · {activity}")


def _finished_bar(state: RunState) -> BarText:
    finished = state.finished
    if finished.status == "completed":
        return BarText(1, 1, f"done · {finished.step:,} steps")
    total = state.latest.total_steps if state.latest is not None else (
        state.started.total_steps if state.started is not None else 0)
    if state.started is None:           # ended before training began
        return BarText(0, 1, "failed before training began" if finished.status == "failed" else "stopped")
    words = "stopped" if finished.status == "stopped" else "failed"
    return BarText(finished.step, max(1, total, finished.step), f"%p% · {words} at step {finished.step:,}")


def _activity(state: RunState, running: str) -> str:
    """What the run is doing now, where a running run says `running`."""
    return {"pausing": "pausing after this step…", "paused": "paused",
            "stopping": "stopping: saving a checkpoint…"}.get(state.status, running)


def _time_left(state: RunState) -> str:
    left = state.countdown.left()
    if state.time_budget_minutes > 0:
        return (f"{format_duration(left)} left of the {state.time_budget_minutes:g} min budget" if left is not None
                else f"{state.time_budget_minutes:g} min budget")
    return f"ETA {format_duration(left)}" if left is not None else "ETA –"


def _rate(state: RunState) -> str:
    rate = state.latest.images_per_s
    return f"{rate:,.0f} img/s" if rate > 0 else "measuring speed…"


def _epoch_text(state: RunState) -> str:
    """"epoch 2/5": the epoch of the latest step, of those the planned step count makes (a time budget's plan,
    --max-steps or the epochs set)."""
    m = state.latest
    per_epoch = state.started.steps_per_epoch if state.started is not None else 0
    if per_epoch <= 0:                         # a run from before RunStarted said it
        return f"epoch {m.epoch + 1}/{state.epochs}" if state.epochs else f"epoch {m.epoch + 1}"
    epoch = max(1, math.ceil(m.step / per_epoch))
    return f"epoch {epoch}/{max(epoch, math.ceil(m.total_steps / per_epoch))}"


def _evaluation_phrase(state: RunState) -> str:
    if state.status == "stopping":
        return "stopping: the final evaluation is abandoned"
    left = state.countdown.left()
    if left is None:
        return "evaluating the final model…"
    if left <= 0:
        return "evaluating the final model: ending…"
    return f"evaluating the final model · {format_duration(left)} left of the {state.time_budget_minutes:g} min budget"


# ------------------------------------------------------------ the status line

def status_line(state: RunState) -> str:
    """Rich text: what the run is doing, in bold, and its details."""
    status = state.status
    if status == "idle":
        return IDLE_TEXT
    head = STATUS_HEADS.get(status, status.capitalize())
    if status in ("completed", "stopped", "failed"):
        return _with_message(head, state.message)
    return f"<b>{head}</b>{html.escape(_details(state))}"


def _details(state: RunState) -> str:
    name = state.run_name
    budget = state.time_budget_minutes > 0
    if state.status == "starting":
        return f": {state.message}" if state.message else "…"
    if state.started is None:
        return f": {BEFORE_TRAINING.get(state.status, '…')}"
    if state.status == "running":
        resumed = (f", resumed at step {state.started.start_step:,}" if state.started is not None
                   and state.started.resumed else "")
        planning = (" (measuring its speed to plan the time budget)" if budget and state.latest is not None
                    and not state.latest.planned else "")
        return f" {name}{resumed}{planning}"
    if state.status == "pausing":
        return f" {name} after the current step…"
    if state.status == "paused":
        at = f" at step {state.paused_at:,}" if state.paused_at is not None else ""
        waits = " (the time budget waits too)" if budget else ""
        return f" {name}{at}: press Resume to continue{waits}"
    if state.status == "stopping":
        if state.final_evaluation is not None:
            return f" {name}: the final evaluation is abandoned; the checkpoints are kept"
        return f" {name}: saving a checkpoint…"
    if state.status == "evaluating":
        shortened = ", shortened if needed to end within the time budget" if budget else ""
        return (f" {name}: the final model (best.pt) on the test images — metrics and latent statistics"
                f"{shortened}")
    return ""


def _with_message(head: str, message: str) -> str:
    if message.lower().startswith(head.lower()):      # "finished 24 steps" needs no "Finished:" before it
        return f"<b>{html.escape(message[:len(head)].capitalize())}</b>{html.escape(message[len(head):])}"
    return f"<b>{head}</b>" + (f": {html.escape(message)}" if message else "")
