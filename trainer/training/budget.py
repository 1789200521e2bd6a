"""Planning a run to a wall-clock budget ("train for ten minutes").

The loop measures how long a training step and a validation take, then fixes the total step count so that the
steps, every validation on the way and the final evaluation end within the budget. The learning-rate schedule reads
the total, so a cosine schedule reaches its end instead of being cut off. The plan is renewed at each validation
(and every few hundred steps), so a machine that slows down shortens the run instead of overrunning it.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable

WARMUP_STEPS = 3            # the first steps allocate and tune kernels: too slow to plan from
PLAN_AFTER_STEPS = 12       # measured steps before the first plan
REPLAN_EVERY_STEPS = 200
SAFETY_SHARE = 0.015        # of the budget, kept free for what no measurement sees (logging, the last save)
FINAL_EVAL_FACTOR = 3.0     # final evaluation ~ this many validations (metrics, latent statistics) until measured
FINAL_EVAL_EXTRA_S = 2.0         # loading best.pt, imports, writing eval.json ...
FINAL_EVAL_EXTRA_SHARE = 0.05   # ... but at most this share of the budget: a short run must not idle a sixth of it
# The final evaluation is planned to take at most this share of the budget; when the machine is slower than
# planned it is shortened to fit what the budget has left (trainer.evaluation.evaluate).
FINAL_EVAL_MAX_SHARE = 0.1


@dataclass
class BudgetPlan:
    total_steps: int         # the run's planned step count (never below the steps already done)
    finish_s: float          # planned active seconds from the start of the run to the end of the final evaluation


class TimeBudget:
    """Active time (pauses excluded) against a budget, and the step count that fits into what is left."""

    def __init__(self, minutes: float, final_eval: bool = True, clock: Callable[[], float] = time.monotonic):
        self.seconds = minutes * 60.0
        self.final_eval = final_eval
        self.clock = clock
        self.started = clock()
        self.paused_s = 0.0
        self.step_times: list[float] = []
        self.eval_times: list[float] = []
        self.plan: BudgetPlan | None = None

    def elapsed(self) -> float:
        return self.clock() - self.started - self.paused_s

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def add_pause(self, seconds: float) -> None:
        self.paused_s += max(0.0, seconds)

    def record_step(self, seconds: float) -> None:
        self.step_times.append(seconds)

    def record_eval(self, seconds: float) -> None:
        self.eval_times.append(seconds)

    @property
    def can_plan(self) -> bool:
        return len(self.step_times) >= WARMUP_STEPS + PLAN_AFTER_STEPS

    def step_seconds(self) -> float:
        """A robust recent step time: the median of the last 100 measured steps after the warm-up."""
        recent = self.step_times[WARMUP_STEPS:][-100:] or self.step_times
        return statistics.median(recent)

    def eval_seconds(self, n_test: int, batch_size: int) -> float:
        """The last measured validation, or before any: forward passes over the test set (~1/3 of a training step
        per batch) plus writing the checkpoint and preview grids."""
        if self.eval_times:
            return max(self.eval_times[-3:])
        return self.step_seconds() * math.ceil(n_test / batch_size) / 3.0 + 0.5

    def final_eval_seconds(self, eval_s: float) -> float:
        """What the plan keeps for the final evaluation."""
        if not self.final_eval:
            return 0.0
        wanted = FINAL_EVAL_FACTOR * eval_s + min(FINAL_EVAL_EXTRA_S, FINAL_EVAL_EXTRA_SHARE * self.seconds)
        return min(wanted, FINAL_EVAL_MAX_SHARE * self.seconds)

    def final_eval_allowance(self) -> float:
        """The seconds the final evaluation may take now that training is over: what is left of the budget but
        half the safety share (for writing the run's last records); <= 0 when nothing is left."""
        return self.remaining() - SAFETY_SHARE / 2 * self.seconds

    def replan(self, step: int, upper_bound: int, evals_between: Callable[[int, int], int], n_test: int,
               batch_size: int) -> BudgetPlan:
        """The largest total step count (<= upper_bound) whose steps and validations still fit; `step` itself
        when none does (the run then ends after its last validation).

        `evals_between(a, b)` counts the validations the loop runs after steps a+1 .. b (the last one included).
        """
        step_s = self.step_seconds()
        eval_s = self.eval_seconds(n_test, batch_size)
        available = self.remaining() - self.final_eval_seconds(eval_s) - SAFETY_SHARE * self.seconds

        def cost(total: int) -> float:
            return (total - step) * step_s + evals_between(step, total) * eval_s

        low, high = step, max(step, upper_bound)
        while low < high:                     # cost grows with the total: bisect for the last one that fits
            middle = (low + high + 1) // 2
            if cost(middle) <= available:
                low = middle
            else:
                high = middle - 1
        total = low
        finish = self.elapsed() + cost(total) + self.final_eval_seconds(eval_s)
        self.plan = BudgetPlan(total_steps=total, finish_s=finish)
        return self.plan

    def eta_seconds(self) -> float | None:
        """Seconds until the planned end (final evaluation included), or None before the first plan."""
        if self.plan is None:
            return None
        return max(0.0, self.plan.finish_s - self.elapsed())


def count_evaluations(after: int, upto: int, steps_per_epoch: int, eval_every: int = 0) -> int:
    """How many validations the loop runs after steps after+1 .. upto: one at each epoch end and every
    `eval_every` steps (once where both fall on the same step), and one after the last step."""
    if upto <= after:
        return 0

    def multiples(k: int) -> int:
        return upto // k - after // k

    count = multiples(steps_per_epoch)
    if eval_every:
        both = steps_per_epoch * eval_every // math.gcd(steps_per_epoch, eval_every)
        count += multiples(eval_every) - multiples(both)
    on_schedule = upto % steps_per_epoch == 0 or (eval_every and upto % eval_every == 0)
    return count + (0 if on_schedule else 1)
