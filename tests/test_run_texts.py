"""The progress bar and status line tell the truth at every moment of a run's life: before a time budget's plan,
planned, pausing, paused, resumed, stopping, stopped, in the final evaluation, finished, failed, after a resume.

RunState is driven with the updates the worker sends and a fake clock; the texts are read at each step."""
from __future__ import annotations

import re

import pytest

from trainer.training.events import DataProgress, FinalEvaluationStarted, RunFinished, RunStarted, StepMetrics
from vae_gui.training.run_state import Countdown, RunState
from vae_gui.training.run_texts import IDLE_TEXT, TIME_SCALE, BarText, progress_bar, status_line
from vae_gui.training.updates import TrainingUpdate

BUDGET_MIN = 3.0
LIMIT_STEPS = 80_000 * 8                     # a budgeted run's epoch limit: its step count before the plan


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(budget: float = BUDGET_MIN, resumed_at: int = 0, total: int = LIMIT_STEPS) -> RunStarted:
    config = {"model": {"family": "vae"}, "train": {"epochs": 80_000 if budget else 4,
                                                     "time_budget_minutes": budget}}
    return RunStarted(run_dir="/runs/demo", config=config, total_steps=total, start_step=resumed_at, n_train=800,
                      n_test=200, param_count=1000, device="cpu", precision="fp32", resumed=resumed_at > 0,
                      steps_per_epoch=8)


def step(n: int, total: int, eta: float, planned: bool = True) -> StepMetrics:
    return StepMetrics(step=n, epoch=(n - 1) // 8, total_steps=total, loss=1.0, recon=1.0, kl=0.1, beta=1.0,
                       lr=1e-3, images_per_s=120.0, eta_s=eta, planned=planned)


def finished(status: str, at: int, message: str, run_dir: str = "/runs/demo") -> RunFinished:
    return RunFinished(status=status, message=message, step=at, run_dir=run_dir, best_checkpoint=None,
                       last_checkpoint=None)


def texts(state: RunState) -> tuple[str, str]:
    bar = progress_bar(state)
    assert 0 <= bar.value <= bar.maximum
    shown = bar.format.replace("%p", str(round(100 * bar.value / bar.maximum)))
    return shown, status_line(state)


def times_left(text: str) -> list[int]:
    """Seconds of every 'M:SS left' in a text."""
    return [int(m) * 60 + int(s) for m, s in re.findall(r"(\d+):(\d\d) left", text)]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(qapp, clock):
    return RunState(clock=clock)


def test_a_budgeted_run_from_start_to_finish(state, clock):
    assert texts(state) == ("", IDLE_TEXT)
    state.begin("loading data…")
    bar, status = texts(state)
    assert bar == "loading data…" and status == "<b>Starting</b>: loading data…"

    state.apply(TrainingUpdate(started=started()))
    bar, status = texts(state)
    assert "measuring speed" in bar and status == "<b>Training</b> demo"

    # Before the plan the step count is only a limit: no percentage of it, no ETA from it (was "55:29 left of the
    # 3 min budget"); the time left is the budget's.
    state.apply(TrainingUpdate(latest=step(5, LIMIT_STEPS, eta=170.0, planned=False)))
    bar, status = texts(state)
    assert "%" not in bar and "measuring speed to plan the 3 min budget" in bar
    assert times_left(bar) == [170]
    assert progress_bar(state).maximum == TIME_SCALE and progress_bar(state).value == 55   # 10 s of 180 used
    assert "measuring its speed" in status
    clock.now += 5                                     # no report for a while: the time left still goes down
    assert times_left(texts(state)[0]) == [165]

    state.apply(TrainingUpdate(latest=step(20, 1000, eta=160.0)))
    bar, status = texts(state)
    assert bar == "2% · epoch 3/125 · step 20/1,000 · 120 img/s · 2:40 left of the 3 min budget"
    assert status == "<b>Training</b> demo"

    state.request_pause()
    bar, status = texts(state)
    assert "pausing after this step" in bar and "left" not in bar and status.startswith("<b>Pausing</b>")
    state.apply(TrainingUpdate(paused=True))
    bar, status = texts(state)
    assert bar.endswith("· paused") and "left" not in bar
    assert status == ("<b>Paused</b> demo at step 20: press Resume to continue (the time budget waits too)")
    clock.now += 60                                    # a minute's pause costs the budget nothing

    state.resume_after_pause()
    bar, status = texts(state)
    assert times_left(bar) == [160] and status == "<b>Training</b> demo"      # no "resumed" lingering
    clock.now += 10
    state.apply(TrainingUpdate(latest=step(600, 1000, eta=150.0)))
    assert texts(state)[1] == "<b>Training</b> demo"

    state.apply(TrainingUpdate(final_evaluation=FinalEvaluationStarted(step=1000, seconds=12.0)))
    bar, status = texts(state)
    assert bar == "training done · evaluating the final model · 0:12 left of the 3 min budget"
    assert status.startswith("<b>Evaluating</b> demo") and "within the time budget" in status
    clock.now += 5
    assert times_left(texts(state)[0]) == [7]
    clock.now += 30                                    # slower than planned: no negative time
    assert "ending" in texts(state)[0] and times_left(texts(state)[0]) == []

    state.apply(TrainingUpdate(finished=finished("completed", 1000, "finished 1000 steps in 2.96 of 3 budgeted "
                                                                   "minutes")))
    bar, status = texts(state)
    assert bar == "done · 1,000 steps" and progress_bar(state).value == progress_bar(state).maximum
    assert status.startswith("<b>Finished</b> 1000 steps in 2.96 of 3 budgeted minutes")
    assert "left" not in bar + status


def test_the_bar_is_full_when_a_run_ends_before_its_last_plan(state):
    """A re-plan at the last validation may end the run before the total its last step reported (was 91% and
    '0:02 left' after the run)."""
    state.begin("loading data…")
    state.apply(TrainingUpdate(started=started()))
    state.apply(TrainingUpdate(latest=step(910, 1000, eta=2.0)))
    state.apply(TrainingUpdate(finished=finished("completed", 910, "finished 910 steps")))
    bar, _ = texts(state)
    assert bar == "done · 910 steps" and progress_bar(state).value == progress_bar(state).maximum


def test_stopping_and_stopped(state):
    state.begin("loading data…")
    state.apply(TrainingUpdate(started=started(budget=0.0, total=32)))
    state.apply(TrainingUpdate(latest=step(10, 32, eta=83.0)))
    assert texts(state)[0] == "31% · epoch 2/4 · step 10/32 · 120 img/s · ETA 1:23"
    state.request_stop()
    bar, status = texts(state)
    assert bar.endswith("stopping: saving a checkpoint…") and "ETA" not in bar
    assert status == "<b>Stopping</b> demo: saving a checkpoint…"
    state.apply(TrainingUpdate(latest=step(11, 32, eta=80.0)))              # the step in flight still reports
    assert "ETA" not in texts(state)[0]
    state.apply(TrainingUpdate(finished=finished("stopped", 11, "stopped at step 11; checkpoint saved")))
    bar, status = texts(state)
    assert bar == "34% · stopped at step 11"
    assert status.startswith("<b>Stopped</b> at step 11; checkpoint saved")


def test_stop_during_the_final_evaluation(state):
    state.begin("loading data…")
    state.apply(TrainingUpdate(started=started(budget=0.0, total=32)))
    state.apply(TrainingUpdate(latest=step(32, 32, eta=0.0)))
    state.apply(TrainingUpdate(final_evaluation=FinalEvaluationStarted(step=32, seconds=None)))
    assert texts(state)[0] == "training done · evaluating the final model…"
    state.request_stop()
    bar, status = texts(state)
    assert "final evaluation is abandoned" in bar and "final evaluation is abandoned" in status


def test_failures_before_and_during_training(state):
    state.begin("loading data…")
    state.apply(TrainingUpdate(finished=finished("failed", 0, "the folder has no images")))
    bar, status = texts(state)
    assert bar == "failed before training began" and status == "<b>Failed</b>: the folder has no images"

    state.begin("loading data…")
    state.apply(TrainingUpdate(started=started(budget=0.0, total=32)))
    state.apply(TrainingUpdate(latest=step(16, 32, eta=10.0)))
    state.apply(TrainingUpdate(finished=finished("failed", 16, "the loss became nan at step 16")))
    bar, status = texts(state)
    assert bar == "50% · failed at step 16" and "ETA" not in bar
    assert status == "<b>Failed</b>: the loss became nan at step 16"


def test_a_resumed_run_says_so_while_it_trains_and_then_only_its_progress(state):
    state.begin("resuming demo, loading data…")
    assert texts(state) == ("resuming demo, loading data…", "<b>Starting</b>: resuming demo, loading data…")
    state.apply(TrainingUpdate(started=started(budget=0.0, resumed_at=500, total=1000)))
    bar, status = texts(state)
    assert progress_bar(state).value == 500 and bar == "step 500 · measuring speed…"
    assert status == "<b>Training</b> demo, resumed at step 500"
    state.apply(TrainingUpdate(latest=step(510, 1000, eta=50.0)))
    assert texts(state)[0].startswith("51% · epoch 64/125 · step 510/1,000")


def test_a_pause_taken_back_before_the_loop_reached_it_leaves_the_run_running(state):
    state.begin("loading data…")
    state.apply(TrainingUpdate(started=started(budget=0.0, total=32)))
    state.apply(TrainingUpdate(latest=step(3, 32, eta=20.0)))
    state.request_pause()
    state.resume_after_pause()
    state.apply(TrainingUpdate(paused=True))                 # news of the pause arriving late
    assert state.status == "running" and texts(state)[1] == "<b>Training</b> demo"


def test_the_data_set_loading_then_pause_and_stop_asked_before_training(state):
    state.begin("loading data…")
    state.apply(TrainingUpdate(loading=DataProgress(done=0, total=0, what="listing the folder")))
    assert progress_bar(state) == BarText(0, 0, "listing the folder…")             # a busy bar
    state.apply(TrainingUpdate(loading=DataProgress(done=300, total=3000, what="decoding images")))
    assert texts(state) == ("10% · decoding images: 300 of 3,000", "<b>Starting</b>: loading data…")
    state.request_pause()
    assert texts(state) == ("pausing once training starts…", "<b>Pausing</b>: pausing once training starts…")
    state.request_stop()
    assert texts(state) == ("stopping…", "<b>Stopping</b>: stopping…")
    state.apply(TrainingUpdate(finished=finished("stopped", 0, "stopped before training started", run_dir="")))
    assert texts(state) == ("stopped", "<b>Stopped</b> before training started")


def test_countdown_freezes_and_thaws(clock):
    countdown = Countdown(clock)
    assert countdown.left() is None
    countdown.set(10)
    clock.now += 4
    countdown.freeze()
    clock.now += 100
    assert countdown.left() == 6
    countdown.thaw()
    clock.now += 2
    assert countdown.left() == 4
    countdown.set(float("inf"))
    assert countdown.left() is None
