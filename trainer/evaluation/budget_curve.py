"""What a time budget buys: a measured curve of quality against training time, and the words that describe it.

tests/bench/bench_budget_curve.py trains one recipe on one data set for several budgets and writes the curve as
JSON (BudgetCurve.to_dict()); the package ships the measured one as the resource budget_curve.json. The Train tab
reads it to say, before Start, what a budget should give, and after a run how the run compares.

Between measured points a figure is interpolated linearly in log(steps): quality grows roughly with the logarithm
of the training done. Outside the measured steps nothing is extrapolated (the caller says so instead).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from trainer.errors import UserError
from trainer.resources import resource_path

BUDGET_CURVE_NAME = "budget_curve.json"
FORMAT = "budget-curve-1"
QUALITY_KEYS = ("psnr", "ssim", "same_person_rate", "sample_face_detect", "sample_face_fd")

# The wording rule (see quality_words): reconstructions below BLURRY_PSNR dB are blurry ovals, whatever else the
# curve says; above it, the same-person rate (dlib, trainer/evaluation/identity.py) names how often the person is
# kept, else PSNR names how much detail is left. Thresholds in ascending order.
BLURRY_PSNR = 18.0
SAME_PERSON_WORDS = ((0.15, "rarely"), (0.4, "now and then"), (0.6, "about half the time"),
                     (0.85, "most of the time"), (math.inf, "nearly always"))
DETAIL_WORDS = ((22.0, "soft faces: pose, hair and skin tone, little detail"),
                (25.0, "faces with pose, hair, expression and glasses"),
                (math.inf, "sharp faces with fine detail"))


class BudgetCurveError(UserError):
    """A budget curve file that cannot be read."""


@dataclass(frozen=True)
class BudgetPoint:
    """One budget's run: what it did and the quality of its best checkpoint on the test split."""
    minutes: float
    steps: int
    images_per_s: float                          # the training rate the run's step records show
    psnr: float
    ssim: float
    same_person_rate: float | None = None        # the figures below need the faces extra
    sample_face_detect: float | None = None
    sample_face_fd: float | None = None

    @property
    def steps_per_minute(self) -> float:
        return self.steps / self.minutes


@dataclass(frozen=True)
class BudgetCurve:
    preset: str
    image_size: int
    batch_size: int
    data: str                                    # the data set's name (its folder's name)
    date: str                                    # ISO date of the measurement
    machine: dict = field(default_factory=dict)  # cores, threads, torch version, processor
    points: tuple[BudgetPoint, ...] = ()

    def to_dict(self) -> dict:
        return {"format": FORMAT, **asdict(self), "points": [asdict(p) for p in self.points]}

    @classmethod
    def from_dict(cls, d: dict) -> "BudgetCurve":
        points = tuple(sorted((BudgetPoint(**p) for p in d["points"]), key=lambda p: p.steps))
        if not points or any(p.steps <= 0 or p.minutes <= 0 for p in points):
            raise ValueError("a curve needs points with steps and minutes above 0")
        return cls(preset=str(d["preset"]), image_size=int(d["image_size"]), batch_size=int(d["batch_size"]),
                   data=str(d["data"]), date=str(d["date"]), machine=dict(d.get("machine", {})), points=points)

    def applies_to(self, preset: str, image_size: int) -> bool:
        return preset == self.preset and image_size == self.image_size

    @property
    def reference_images_per_s(self) -> float:
        return float(np.median([p.images_per_s for p in self.points]))

    def steps_for(self, minutes: float, images_per_s: float | None = None) -> int:
        """Steps a budget of `minutes` gives: the measured steps per minute (interpolated in log-minutes, held at
        the ends) times minutes, scaled by a machine's training rate against the reference machine's."""
        rate = np.interp(math.log(minutes), [math.log(p.minutes) for p in self.points],
                         [p.steps_per_minute for p in self.points])
        scale = images_per_s / self.reference_images_per_s if images_per_s else 1.0
        return max(0, int(round(rate * minutes * scale)))

    def quality_at(self, steps: int) -> dict[str, float]:
        """Each quality figure the curve has at `steps`, interpolated in log(steps) and held at the ends."""
        result = {}
        for key in QUALITY_KEYS:
            known = [(p.steps, getattr(p, key)) for p in self.points if getattr(p, key) is not None]
            if known:
                xs, ys = zip(*known)
                result[key] = float(np.interp(math.log(max(steps, 1)), np.log(xs), ys))
        return result

    @property
    def first_steps(self) -> int:
        return self.points[0].steps

    @property
    def last_steps(self) -> int:
        return self.points[-1].steps


def quality_words(quality: dict[str, float]) -> str:
    """Plain words for a point of the curve, by the rule above, with its PSNR: 'faces that keep the person about
    half the time (PSNR ≈ 23 dB)'."""
    psnr = quality["psnr"]
    figure = f"(PSNR ≈ {psnr:.0f} dB)"
    if psnr < BLURRY_PSNR:
        return f"blurry ovals {figure}"
    rate = quality.get("same_person_rate")
    if rate is not None:
        return f"faces that keep the person {_first_above(SAME_PERSON_WORDS, rate)} {figure}"
    return f"{_first_above(DETAIL_WORDS, psnr)} {figure}"


def _first_above(table: tuple[tuple[float, str], ...], value: float) -> str:
    return next(words for limit, words in table if value < limit)


def read_budget_curve(path: Path | str) -> BudgetCurve:
    """A curve file written by bench_budget_curve.py --out. Raises BudgetCurveError naming the file."""
    try:
        return BudgetCurve.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except OSError as error:
        raise BudgetCurveError(f"budget curve {path} cannot be read ({error.strerror or error})") from None
    except (ValueError, KeyError, TypeError):
        raise BudgetCurveError(f"budget curve {path} is not a curve written by bench_budget_curve.py") from None


def shipped_budget_curve() -> BudgetCurve | None:
    """The curve the package ships, or None when this installation has none (or a damaged one): the Train tab then
    states no expectation."""
    path = resource_path(BUDGET_CURVE_NAME)
    if path is None:
        return None
    try:
        return read_budget_curve(path)
    except BudgetCurveError:
        return None
