"""The user's labels as latent directions: one linear model per label column, fitted to encoded training images.

A number (age) gets a ridge regression z -> label; a category (gender, race, CelebA's yes/no attributes) gets one
logistic regression per category against the rest (one for a two-category label: the second category against the
first). The same models read the current face's labels out ("age ≈ 34 years · gender = female (92%)"); a label's
slider moves along its pattern in the data (label_sliders) and shows the predicted label, over the range the training
faces' predictions span. Holding other labels fixed projects their directions out of a slider's
(trainer.latent.directions.conditional_direction): a linear model's prediction then does not move at all.

Probe quality is measured on held-out images: R² for numbers; balanced accuracy for categories, whose chance
level is 1 / (number of categories) however unbalanced the label is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from trainer.data.labels import LabelColumn
from trainer.latent.directions import conditional_direction, unit
from trainer.latent.factor_information import mig
from trainer.latent.sliders import SliderSpec

MIN_FIT_IMAGES = 10            # a label with fewer labelled training images gets no model
MIN_PER_CATEGORY = 2           # ... a category with fewer images is left out of its label's model
RIDGE_ALPHA = 1.0
LOGISTIC_C = 1.0
SLIDER_PERCENTILES = (1.0, 99.0)   # a label slider spans these percentiles of the training faces' predictions
NORMAL_99 = 2.326              # the 99th percentile of a standard normal (ranges of models stored without percentiles)
# Units of labels whose meaning their name gives away; any other number is shown in "its column's units".
KNOWN_UNITS = {"age": "years"}


@dataclass
class LabelProbe:
    """A fitted label: a number (one row) or categories (one row per category, a score against the rest)."""

    name: str
    categories: tuple[str, ...]        # empty for a number
    weights: np.ndarray                # (K, D): K = 1 for a number, else one row per category
    intercepts: np.ndarray             # (K,)
    n_train: int
    quality: float | None = None       # held-out R² (number) or balanced accuracy (category)
    chance: float | None = None        # a category's chance balanced accuracy, 1 / K
    n_test: int = 0
    mig: float | None = None           # the label's mutual information gap on the held-out images
    score_range: np.ndarray | None = None   # (K, 2): SLIDER_PERCENTILES of the training latents' scores

    @property
    def is_categorical(self) -> bool:
        return bool(self.categories)

    def scores(self, latents: np.ndarray) -> np.ndarray:
        """(N, K) linear scores: the predicted number, or each category's log-odds against the rest."""
        return np.atleast_2d(np.asarray(latents, np.float64)) @ self.weights.T + self.intercepts

    def predict(self, latents: np.ndarray) -> np.ndarray:
        """(N,) predicted numbers, or (N, K) category probabilities (summing to 1)."""
        scores = self.scores(latents)
        if not self.is_categorical:
            return scores[:, 0]
        p = 1.0 / (1.0 + np.exp(-np.clip(scores, -50, 50)))
        return p / p.sum(axis=1, keepdims=True)

    @property
    def unit(self) -> str:
        """What a slider's value is in: 'years' for an age, 'log-odds' for a category, '' when unknown."""
        return "log-odds" if self.is_categorical else KNOWN_UNITS.get(self.name.strip().lower(), "")

    def describe(self, z: np.ndarray) -> str:
        """'age ≈ 34 years' or 'gender = female (92%)' for one latent."""
        predicted = self.predict(z)
        if not self.is_categorical:
            return f"{self.name} ≈ {rounded(predicted[0])}" + (f" {self.unit}" if self.unit else "")
        best = int(predicted[0].argmax())
        return f"{self.name} = {self.categories[best]} ({predicted[0, best]:.0%})"

    def directions(self) -> dict[str, np.ndarray]:
        """Slider key suffix -> raw direction: the label itself, or 'label=category' per category."""
        if not self.is_categorical:
            return {self.name: self.weights[0]}
        return {f"{self.name}={category}": self.weights[k] for k, category in enumerate(self.categories)}

    def quality_text(self) -> str:
        """'R² 0.62' or 'balanced accuracy 0.88 (chance 0.50)'; '' before a held-out test."""
        if self.quality is None:
            return ""
        if not self.is_categorical:
            return f"R² {self.quality:.2f}"
        return f"balanced accuracy {self.quality:.2f} (chance {self.chance:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "categories": list(self.categories), "weights": self.weights.tolist(),
                "intercepts": self.intercepts.tolist(), "n_train": self.n_train, "quality": self.quality,
                "chance": self.chance, "n_test": self.n_test, "mig": self.mig,
                "score_range": None if self.score_range is None else self.score_range.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LabelProbe":
        return cls(name=str(d["name"]), categories=tuple(str(c) for c in d["categories"]),
                   weights=np.asarray(d["weights"], np.float64), intercepts=np.asarray(d["intercepts"], np.float64),
                   n_train=int(d["n_train"]), quality=_optional(d.get("quality")), chance=_optional(d.get("chance")),
                   n_test=int(d.get("n_test", 0)), mig=_optional(d.get("mig")),
                   score_range=None if d.get("score_range") is None else np.asarray(d["score_range"], np.float64))


@dataclass
class LabelModels:
    """Every label's probe, with the training latents' mean and covariance (for slider ranges)."""

    probes: list[LabelProbe]
    mean: np.ndarray                   # (D,) of the training latents
    covariance: np.ndarray             # (D, D)
    skipped: dict[str, str] = field(default_factory=dict)      # label -> why it has no model

    def probe(self, name: str) -> LabelProbe:
        return next(p for p in self.probes if p.name == name)

    def readout(self, z: np.ndarray) -> str:
        """Every label's prediction for one latent: 'age ≈ 34 years · gender = 1 (92%) · race = 0 (61%)'."""
        return "  ·  ".join(probe.describe(z) for probe in self.probes)

    def score_range(self, probe: LabelProbe, row: int) -> tuple[float, float]:
        """The range of a probe's score `row` over the training faces (SLIDER_PERCENTILES); for models stored
        without it, the normal approximation from the training latents' mean and covariance."""
        if probe.score_range is not None:
            low, high = probe.score_range[row]
            return float(low), float(high)
        weights = probe.weights[row]
        centre = float(weights @ self.mean + probe.intercepts[row])
        half = NORMAL_99 * math.sqrt(max(float(weights @ self.covariance @ weights), 0.0))
        return centre - half, centre + half

    def to_dict(self) -> dict[str, Any]:
        return {"probes": [p.to_dict() for p in self.probes], "mean": self.mean.tolist(),
                "covariance": self.covariance.tolist(), "skipped": dict(self.skipped)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LabelModels":
        return cls(probes=[LabelProbe.from_dict(p) for p in d["probes"]], mean=np.asarray(d["mean"], np.float64),
                   covariance=np.asarray(d["covariance"], np.float64), skipped=dict(d.get("skipped", {})))


def stored_label_models(payload: dict[str, Any], latent_dim: int) -> LabelModels | None:
    """The label models an evaluation stored with a checkpoint (its report's "labels", see `vae-train eval`), when
    they are of a latent of `latent_dim` and have at least one label; else None."""
    report = payload.get("eval") if isinstance(payload, dict) else None
    stored = report.get("labels") if isinstance(report, dict) else None
    if not isinstance(stored, dict) or "error" in stored:
        return None
    try:
        models = LabelModels.from_dict(stored)
    except (KeyError, TypeError, ValueError):
        return None
    if not models.probes or models.mean.shape != (latent_dim,):
        return None
    return models


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def rounded(value: float) -> str:
    """A predicted number as a reader wants it: 34, 7.5, 0.42."""
    size = abs(value)
    if size >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}".removesuffix(".0") if size >= 1 else f"{value:.2g}"


# ---------------------------------------------------------------- fitting

def fit_label_models(train_latents: np.ndarray, train_columns: Sequence[LabelColumn],
                     test_latents: np.ndarray | None = None,
                     test_columns: Sequence[LabelColumn] | None = None) -> LabelModels:
    """A probe per label column from the training latents (N, D), its quality measured on the test latents when
    given (images without that label are left out of both). Columns that cannot be fitted are in `skipped`."""
    train_latents = np.asarray(train_latents, np.float64)
    probes, skipped = [], {}
    for k, column in enumerate(train_columns):
        try:
            probe = fit_probe(train_latents, column)
        except ValueError as reason:
            skipped[column.name] = str(reason)
            continue
        if test_latents is not None and test_columns is not None:
            measure_probe(probe, np.asarray(test_latents, np.float64), test_columns[k])
        probe.score_range = slider_range(probe, train_latents, column)
        probes.append(probe)
    covariance = np.atleast_2d(np.cov(train_latents, rowvar=False)) if len(train_latents) > 1 else \
        np.eye(train_latents.shape[1])
    return LabelModels(probes, train_latents.mean(axis=0), covariance, skipped)


def slider_range(probe: LabelProbe, latents: np.ndarray, column: LabelColumn) -> np.ndarray:
    """(K, 2): SLIDER_PERCENTILES of the probe's scores on the training latents; a number's kept within the values
    its column holds (a linear model predicts babies' ages below 0)."""
    ranges = np.percentile(probe.scores(latents), SLIDER_PERCENTILES, axis=0).T
    if not probe.is_categorical:
        known = column.values[_known(column)]
        ranges = np.clip(ranges, known.min(), known.max())
    return ranges


def fit_probe(latents: np.ndarray, column: LabelColumn) -> LabelProbe:
    """One label's linear model (scikit-learn); raises ValueError saying why the column cannot be fitted."""
    from sklearn.linear_model import LogisticRegression, Ridge

    known = _known(column)
    x, y = latents[known], column.values[known]
    if len(x) < MIN_FIT_IMAGES:
        raise ValueError(f"{len(x)} labelled training images; at least {MIN_FIT_IMAGES} are needed")
    if not column.is_categorical:
        if np.ptp(y) == 0:
            raise ValueError("every labelled training image has the same value")
        model = Ridge(alpha=RIDGE_ALPHA).fit(x, y)
        return LabelProbe(column.name, (), model.coef_[None, :].astype(np.float64),
                          np.array([float(model.intercept_)]), len(x))
    codes, counts = np.unique(y.astype(np.int64), return_counts=True)
    codes = codes[counts >= MIN_PER_CATEGORY]
    if len(codes) < 2:
        raise ValueError(f"fewer than two categories have {MIN_PER_CATEGORY} labelled training images")
    keep = np.isin(y, codes)
    x, y = x[keep], y[keep].astype(np.int64)
    names = tuple(column.categories[c] for c in codes)
    rows, intercepts = [], []
    for code in (codes[1:] if len(codes) == 2 else codes):       # two categories: one model, the other its mirror
        # Newton-Cholesky: a few exact steps on these few hundred dimensions (lbfgs took ~200 iterations, 2 s a
        # category on UTKFace, and 9 s for gender and race together).
        model = LogisticRegression(C=LOGISTIC_C, solver="newton-cholesky", max_iter=100)
        model.fit(x, (y == code).astype(int))
        rows.append(model.coef_[0])
        intercepts.append(float(model.intercept_[0]))
    if len(codes) == 2:
        rows, intercepts = [-rows[0], rows[0]], [-intercepts[0], intercepts[0]]
    return LabelProbe(column.name, names, np.asarray(rows, np.float64), np.asarray(intercepts), len(x))


def measure_probe(probe: LabelProbe, latents: np.ndarray, column: LabelColumn) -> None:
    """Set the probe's held-out quality, chance level, test count and mutual information gap."""
    from sklearn.metrics import balanced_accuracy_score, r2_score

    known = _known(column)
    if probe.is_categorical:      # test images of a category the model never saw cannot be scored
        known &= np.isin(column.values, [column.categories.index(c) for c in probe.categories])
    x, y = latents[known], column.values[known]
    probe.n_test = int(len(x))
    probe.chance = 1.0 / len(probe.categories) if probe.is_categorical else None
    if len(x) < 2:
        return
    if probe.is_categorical:
        truth = [column.categories[int(c)] for c in y]
        predicted = [probe.categories[int(i)] for i in probe.predict(x).argmax(axis=1)]
        probe.quality = float(balanced_accuracy_score(truth, predicted))
    elif np.ptp(y) > 0:
        probe.quality = float(r2_score(y, probe.predict(x)))
    gap = mig(x, y[:, None], categorical=[probe.is_categorical])[0]
    probe.mig = None if math.isnan(gap) else float(gap)


def _known(column: LabelColumn) -> np.ndarray:
    values = column.values
    return values >= 0 if column.is_categorical else np.isfinite(values)


# ---------------------------------------------------------------- sliders

def label_sliders(models: LabelModels, held: Sequence[str] = ()) -> list[SliderSpec]:
    """A slider per label direction ("age", "gender=1"). It moves along the label's pattern, the covariance of the
    training latents times the model's weights (Haufe et al. 2014, "On the interpretation of weight vectors of
    linear models"): how the codes move with the label. The weights themselves read the label out best, but on a wide
    latent they lean on directions the data hardly varies along, which the decoder ignores: on UTKFace (256 dims) a
    step along them moved the read-out age by 82 years while the decoded face, encoded again, aged by 0.2.

    The slider's value is the label predicted for the face (years for an age, log-odds against the rest for a
    category), over the range the training faces' predictions span (LabelModels.score_range). With labels `held`
    fixed, their directions are projected out of every other slider's, so moving it leaves their predictions where
    they are."""
    held_rows = [row for probe in models.probes if probe.name in held for row in probe.weights]
    specs = []
    for probe in models.probes:
        rows = list(enumerate(probe.directions().items()))
        for row, (key, weights) in rows[1:] if len(rows) == 2 else rows:     # two categories: one is the other's mirror
            try:
                direction = unit(conditional_direction(models.covariance @ weights,
                                                       held_rows if probe.name not in held else []))
            except ValueError:
                continue                       # nothing left of it once the held labels are fixed
            gain = float(weights @ direction)  # label units per unit step
            if abs(gain) < 1e-9:
                continue                       # the held labels' directions take all of it
            low, high = models.score_range(probe, row)
            detail = _slider_detail(probe, low, high)
            if held and probe.name not in held:
                detail += f" · {', '.join(held)} held fixed"
            specs.append(SliderSpec(key=f"label:{key}", label=key, direction=direction.astype(np.float32),
                                    origin=models.mean.astype(np.float32), low=low, high=high, detail=detail,
                                    readout=weights.astype(np.float64), readout_offset=float(probe.intercepts[row]),
                                    unit=probe.unit))
    return specs


def _slider_detail(probe: LabelProbe, low: float, high: float) -> str:
    """'years · training faces 3 to 80' or 'log-odds vs 0' (two categories) or 'log-odds vs the rest'."""
    if probe.is_categorical:
        return f"log-odds vs {probe.categories[0]}" if len(probe.categories) == 2 else "log-odds vs the rest"
    unit_name = probe.unit or "its column's units"
    return f"{unit_name} · training faces {rounded(low)} to {rounded(high)}"
