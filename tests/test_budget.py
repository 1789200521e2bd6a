"""Time budgets: the plan fits steps, validations and the final evaluation into the budget; a tiny run ends in time
with its learning-rate schedule at its end."""
import time

import pytest

from tests.conftest import tiny_config
from trainer.evaluation.evaluate import import_evaluation_modules
from trainer.training.budget import PLAN_AFTER_STEPS, SAFETY_SHARE, WARMUP_STEPS, TimeBudget, count_evaluations
from trainer.training.events import StepMetrics
from trainer.training.loop import train
from trainer.training.optimization import FINAL_LR_FRACTION, ScheduleProgress, lr_factor


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def measured_budget(minutes: float, step_s: float, clock: FakeClock, final_eval: bool = True) -> TimeBudget:
    budget = TimeBudget(minutes, final_eval=final_eval, clock=clock)
    for _ in range(WARMUP_STEPS):
        budget.record_step(step_s * 10)          # slow first steps must not count
        clock.now += step_s * 10
    for _ in range(PLAN_AFTER_STEPS):
        budget.record_step(step_s)
        clock.now += step_s
    return budget


@pytest.mark.parametrize("after, upto, per_epoch, every, expected", [
    (0, 100, 10, 0, 10),        # one per epoch
    (0, 95, 10, 0, 10),         # 9 epoch ends + the last step
    (5, 20, 10, 0, 2),
    (0, 100, 10, 25, 10 + 4 - 2),   # steps 50 and 100 are both: one validation each
    (0, 0, 10, 0, 0),
    (30, 30, 10, 0, 0),
])
def test_count_evaluations(after, upto, per_epoch, every, expected):
    assert count_evaluations(after, upto, per_epoch, every) == expected


def test_plan_fills_the_budget_without_overrunning_it():
    clock = FakeClock()
    budget = measured_budget(10, step_s=0.1, clock=clock)
    budget.record_eval(2.0)
    done = WARMUP_STEPS + PLAN_AFTER_STEPS
    evals = lambda a, b: count_evaluations(a, b, 100, 0)
    plan = budget.replan(done, upper_bound=10**6, evals_between=evals, n_test=300, batch_size=128)
    used = (plan.total_steps - done) * 0.1 + evals(done, plan.total_steps) * 2.0 + budget.final_eval_seconds(2.0)
    left = budget.remaining()
    assert used <= left
    assert used >= left - SAFETY_SHARE * 600 - 2.5      # nearly all of it: one more validation would not fit
    assert plan.finish_s == pytest.approx(budget.elapsed() + used)


def test_plan_respects_the_epoch_limit_and_a_slower_machine_shortens_it():
    clock = FakeClock()
    budget = measured_budget(10, step_s=0.1, clock=clock)
    evals = lambda a, b: count_evaluations(a, b, 100, 0)
    assert budget.replan(15, upper_bound=500, evals_between=evals, n_test=10, batch_size=10).total_steps == 500
    first = budget.replan(15, upper_bound=10**6, evals_between=evals, n_test=10, batch_size=10).total_steps
    for _ in range(200):                          # the machine gets twice as slow
        budget.record_step(0.2)
        clock.now += 0.2
    second = budget.replan(215, upper_bound=10**6, evals_between=evals, n_test=10, batch_size=10).total_steps
    assert second < first


def test_pauses_do_not_count_and_an_exhausted_budget_plans_no_more_steps():
    clock = FakeClock()
    budget = measured_budget(1, step_s=0.1, clock=clock)
    before = budget.remaining()
    clock.now += 30
    budget.add_pause(30)
    assert budget.remaining() == pytest.approx(before)
    clock.now += 120
    plan = budget.replan(15, upper_bound=1000, evals_between=lambda a, b: 1, n_test=10, batch_size=10)
    assert plan.total_steps == 15


def test_a_replan_keeps_the_schedule_progress_and_ends_it_at_the_new_total():
    progress = ScheduleProgress(100)
    assert progress.at(40) == pytest.approx(0.4)
    progress.replan(40, 160)                     # a slow start had planned too few steps
    assert progress.at(40) == pytest.approx(0.4)
    assert progress.at(100) == pytest.approx(0.4 + 0.6 * 60 / 120) and progress.at(160) == pytest.approx(1.0)
    progress.replan(100, 130)                    # the machine slowed down
    assert progress.at(100) == pytest.approx(0.7) and progress.at(130) == pytest.approx(1.0)
    assert progress.at(500) == 1.0
    assert lr_factor("cosine", 0.0) == pytest.approx(1.0)
    assert lr_factor("cosine", 1.0) == pytest.approx(FINAL_LR_FRACTION)
    assert lr_factor("cosine", 0.5) == pytest.approx((1 + FINAL_LR_FRACTION) / 2)
    assert lr_factor("constant", 0.7) == 1.0


def warm_imports() -> None:
    """What a run imports on first use, imported now: under load the first import of SciPy / scikit-learn took 10 s
    and torch's optimizer (torch._dynamo) 14 s, most of a 12 s budget; these tests are about the plan."""
    import torch

    import_evaluation_modules()
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


@pytest.mark.slow
def test_tiny_run_ends_within_its_budget_with_the_schedule_at_its_end(tmp_path, one_torch_thread):
    budget_s = 0.2 * 60
    warm_imports()
    config = tiny_config(tmp_path / "runs", tmp_path / "cache", epochs=10_000, time_budget_minutes=0.2,
                         log_every_steps=1000)
    steps: list[StepMetrics] = []
    started = time.monotonic()
    result = train(config, events=lambda e: steps.append(e) if isinstance(e, StepMetrics) else None)
    wall = time.monotonic() - started
    assert result.status == "completed", result.message
    assert 0.8 * budget_s <= wall <= 1.1 * budget_s, wall
    assert steps[-1].step == result.step
    # A plan renewed at the last validation may end the run a little early: in a 12-second run one slow
    # validation (a CI machine's hiccup) is worth ~5% of the steps. The budget wins; the cosine is then all but done.
    assert steps[-1].total_steps - result.step <= max(1, result.step // 20)
    assert result.step < 10_000 * 8                                  # the budget, not the epochs, ended it
    lr = config.train.lr
    assert 0.05 * lr * 0.98 <= steps[-1].lr <= 0.06 * lr             # the cosine reached (or all but) its floor
    lrs = [s.lr for s in steps]
    assert all(later <= earlier * (1 + 1e-9) for earlier, later in zip(lrs, lrs[1:]))   # re-plans never raise it
    # Until the machine is measured there is no plan, so nothing to decay towards: the lr stays full. (How fast it
    # then falls depends on how many steps this machine's speed buys, so no mid-run value is pinned.)
    first_plan = PLAN_AFTER_STEPS + WARMUP_STEPS
    assert min(s.lr for s in steps[:first_plan]) > 0.99 * lr
    assert steps[-1].eta_s < 0.3 * budget_s < steps[first_plan].eta_s   # the final evaluation's time is left
    log = (result.run_dir / "train.log").read_text()
    assert "time budget 0.2 min" in log and "final evaluation took" in log


# ---------------------------------------------------------------- the final evaluation fits what the budget leaves

def _slow_ssim(monkeypatch, seconds_per_image: float) -> None:
    """An artificially slow final evaluation: its metrics pass takes `seconds_per_image` per image (a loaded
    machine); validations during training do not compute SSIM, so training runs at its speed."""
    from trainer.evaluation import metrics

    original = metrics.ssim

    def slow(a, b):
        time.sleep(seconds_per_image * len(a))
        return original(a, b)

    monkeypatch.setattr(metrics, "ssim", slow)


def test_run_chunks_stops_before_the_deadline():
    from trainer.deadline import Deadline, run_chunks

    done_rows: list[int] = []

    def work(rows: slice) -> None:
        time.sleep(0.01 * (rows.stop - rows.start))
        done_rows.extend(range(rows.start, rows.stop))

    started = time.monotonic()
    done = run_chunks(1000, 64, work, Deadline(0.3))
    elapsed = time.monotonic() - started
    assert 8 <= done < 40 and done_rows == list(range(done))
    assert elapsed < 0.3 + 0.1
    assert run_chunks(5, 2, lambda rows: None, None) == 5
    assert run_chunks(100, 10, lambda rows: time.sleep(0.05), Deadline(-1), minimum=2) == 2


def test_a_slow_final_evaluation_is_shortened_to_its_deadline(tiny_checkpoint, tmp_path, monkeypatch):
    import shutil

    import torch

    from trainer.data.datasets import FaceDataset
    from trainer.deadline import Deadline
    from trainer.evaluation.evaluate import evaluate_checkpoint_file
    from trainer.training.checkpoint import load_checkpoint

    checkpoint = shutil.copy(tiny_checkpoint, tmp_path / "best.pt")
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (600, 3, 32, 32), dtype=torch.uint8, generator=generator)
    dataset = FaceDataset(train=images[:300], test=images[300:], source="random")
    _slow_ssim(monkeypatch, 0.02)             # the whole test split would take 6 s
    started = time.monotonic()
    report = evaluate_checkpoint_file(checkpoint, dataset, deadline=Deadline(2.0))
    elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 0.5, elapsed
    assert 8 <= report["n_images"] < 300
    assert f"metrics on {report['n_images']:,} of 300 test images" in report["notes"]
    stored = load_checkpoint(checkpoint)
    assert stored.eval_metrics["n_images"] == report["n_images"]       # written within the deadline too


def test_a_mixture_fit_gives_up_at_its_deadline_and_otherwise_fits_as_usual():
    import numpy as np

    from trainer.deadline import Deadline
    from trainer.latent.samplers import MixtureSampler, choose_sampler

    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(i, 0.5, (200, 4)) for i in range(3)]).astype(np.float32)
    assert MixtureSampler.fit(codes, n_components=3, deadline=Deadline(-1)) is None
    in_time = MixtureSampler.fit(codes, n_components=3, deadline=Deadline(60))
    plain = MixtureSampler.fit(codes, n_components=3)
    assert np.allclose(in_time.means, plain.means) and np.allclose(in_time.weights, plain.weights)
    choice = choose_sampler(codes[::2], codes[1::2], deadline=Deadline(-1))
    assert "mixture" not in choice.log_likelihood and {"prior", "gaussian"} <= set(choice.log_likelihood)


@pytest.mark.slow
def test_a_budgeted_run_with_a_slow_final_evaluation_ends_within_its_budget(tmp_path, monkeypatch,
                                                                             one_torch_thread):
    """A 3-minute run ended at 3.44 minutes when its final evaluation took 29 s on a loaded machine: the
    evaluation is now shortened to what the budget leaves, and train.log says how."""
    budget_s = 0.2 * 60
    warm_imports()
    _slow_ssim(monkeypatch, 0.1)              # 32 test images: 3.2 s of metrics, more than the budget keeps
    config = tiny_config(tmp_path / "runs", tmp_path / "cache", epochs=10_000, time_budget_minutes=0.2,
                         log_every_steps=1000)
    started = time.monotonic()
    result = train(config)
    wall = time.monotonic() - started
    assert result.status == "completed", result.message
    assert wall <= 1.1 * budget_s, wall
    log = (result.run_dir / "train.log").read_text()
    assert "final evaluation shortened to end within the time budget: metrics on" in log, log
    assert result.final_eval is not None and result.final_eval["n_images"] < 32


# ---------------------------------------------------------------- resuming a run with a time budget

def test_a_budgeted_run_resumes_with_what_is_left_of_its_budget_or_a_new_one(tmp_path, one_torch_thread):
    from trainer.config import ConfigError
    from trainer.training.control import TrainingControl
    from trainer.training.resume import resume_config, resume_point
    from trainer.training.rundir import RunDirectory

    control = TrainingControl()

    def stop_at_five(event):
        if isinstance(event, StepMetrics) and event.step == 5:
            control.stop()

    config = tiny_config(tmp_path / "runs", tmp_path / "cache", epochs=10_000, time_budget_minutes=0.5,
                         final_eval=False)
    stopped = train(config, events=stop_at_five, control=control)
    assert stopped.status == "stopped"
    point = resume_point(stopped.run_dir)
    assert point.time_budget_minutes == 0.5 and 0 < point.budget_left_s < 30 and point.can_use_budget_left
    assert resume_config(stopped.run_dir).train.time_budget_minutes == point.budget_left_s / 60 < 0.5
    assert resume_config(stopped.run_dir, time_budget_minutes=2.0).train.time_budget_minutes == 2.0

    # Once a run has completed, its final evaluation has taken what was left: a resume needs a new budget.
    RunDirectory.open(stopped.run_dir).log_metrics({"type": "finished", "status": "completed", "step": point.step})
    assert resume_point(stopped.run_dir).budget_left_s == 0.0
    with pytest.raises(ConfigError, match="has used its 0.5 min time budget"):
        resume_config(stopped.run_dir)
    assert resume_config(stopped.run_dir, time_budget_minutes=1.0).train.time_budget_minutes == 1.0
