"""Statistics of a data set's encodings: LatentStats (stored in checkpoints, lays out the explorer) and the one
definition of an active latent dimension, used by the eval report, the Train tab and the Explore tab.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from trainer.errors import UserError
from trainer.latent.directions import factor_directions, principal_components
from trainer.evaluation.association import DimLabels, dim_labels

STATS_FORMAT_VERSION = 1
STATS_MAX_IMAGES = 5000         # test images encoded for latent statistics: stable statistics, quick on a CPU
MAX_PCA_COMPONENTS = 32
MIN_SLIDER_STD = 0.05           # slider half-width floor, absolute ...
MIN_SLIDER_STD_FRACTION = 0.05  # ... and relative to the widest dim, so collapsed dims still move a little
RANKINGS = ("kl", "std", "spread")   # "spread" is a synonym of "std"


# The one definition of an active latent dimension: the eval report (trainer.evaluation.metrics), the Train tab and the
# Explore tab all use active_dimensions().
ACTIVE_KL_NATS = 0.01          # a VAE dimension is active when its mean KL over the test images is >= this
ACTIVE_CODE_VARIANCE = 0.01    # an AE dimension (no KL) is active when its code's variance over the data is > this


def active_definition(variational: bool) -> str:
    """One sentence saying what 'active' means, for tooltips, reports and the README."""
    if variational:
        return (f"A VAE dimension is active when its mean KL over the test images is at least {ACTIVE_KL_NATS:g} "
                "nats (the model sends information through it); below that it has collapsed to the prior.")
    return (f"An autoencoder's dimension (no KL) is active when the variance of its code over the test images is "
            f"above {ACTIVE_CODE_VARIANCE:g}.")


def active_rule(variational: bool) -> str:
    """The rule in a few words, for a label: "KL >= 0.01 nats" or "code variance > 0.01"."""
    return f"KL >= {ACTIVE_KL_NATS:g} nats" if variational else f"code variance > {ACTIVE_CODE_VARIANCE:g}"


def active_dimensions(kl_per_dim: np.ndarray | Sequence[float] | None = None,
                      code_variance: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
    """Boolean mask (D,) of active dimensions: by mean KL per dim when there is one (a VAE), else by the variance
    of the codes over the data (an AE). See ACTIVE_KL_NATS and ACTIVE_CODE_VARIANCE."""
    if kl_per_dim is not None:
        return np.asarray(kl_per_dim, dtype=np.float64) >= ACTIVE_KL_NATS
    if code_variance is None:
        raise ValueError("active_dimensions needs the KL per dimension (VAE) or the code variance (AE)")
    return np.asarray(code_variance, dtype=np.float64) > ACTIVE_CODE_VARIANCE


class LatentStatsError(UserError, ValueError):
    """Stored latent statistics cannot be read (missing or malformed field)."""


@dataclass
class LatentStats:
    """Statistics of a data set's posterior means, stored in checkpoints and used to lay out the explorer."""

    mean: np.ndarray                                  # (D,) mean over data of posterior means
    std: np.ndarray                                   # (D,) spread over data of posterior means
    kl_per_dim: np.ndarray | None                     # (D,) average KL per dim (VAE), None for an AE
    active: np.ndarray                                # (D,) bool, active_dimensions() (KL, or spread for an AE)
    pca_components: np.ndarray                        # (K, D) unit rows, K = min(D, 32)
    pca_variance: np.ndarray                          # (K,) variance along each component
    dim_factors: list[tuple[str, float]] | None       # per dim: (factor it captures best, score)
    factor_directions: dict[str, np.ndarray] | None   # factor -> unit (D,) direction that changes that factor
    factor_spans: dict[str, float] | None             # factor -> latent distance covering its observed range
    n_samples: int
    # per dim: best factor tested against shuffled factors (trainer.evaluation.association); None in older files
    dim_labels: "DimLabels | None" = None
    # The flow sampler the evaluation fitted to the encoded *training* images (trainer.latent.flow.FlowSampler
    # .to_dict(): plain types and tensors), kept here so the explorer and `predict` need not train it again.
    flow: dict | None = None

    @property
    def latent_dim(self) -> int:
        return int(self.mean.shape[0])

    def to_dict(self) -> dict:
        """Plain Python types and tensors only, so torch.load(weights_only=True) can read it back."""
        return {
            "format_version": STATS_FORMAT_VERSION,
            "mean": _tensor(self.mean), "std": _tensor(self.std),
            "kl_per_dim": None if self.kl_per_dim is None else _tensor(self.kl_per_dim),
            "active": torch.as_tensor(np.asarray(self.active, dtype=bool)),
            "pca_components": _tensor(self.pca_components), "pca_variance": _tensor(self.pca_variance),
            "dim_factors": None if self.dim_factors is None else [[str(n), float(s)] for n, s in self.dim_factors],
            "factor_directions": None if self.factor_directions is None else
            {str(k): _tensor(v) for k, v in self.factor_directions.items()},
            "factor_spans": None if self.factor_spans is None else
            {str(k): float(v) for k, v in self.factor_spans.items()},
            "n_samples": int(self.n_samples),
            "dim_labels": None if self.dim_labels is None else self.dim_labels.to_dict(),
            "flow": self.flow,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatentStats":
        """Inverse of to_dict; raises LatentStatsError naming the missing field (re-run evaluation to rebuild)."""
        for key in ("mean", "std", "active", "pca_components", "pca_variance", "n_samples"):
            if key not in d:
                raise LatentStatsError(f"latent statistics lack the field {key!r}; re-run the evaluation "
                                       "of this checkpoint to store them again")
        directions = d.get("factor_directions")
        dim_factors = d.get("dim_factors")
        spans = d.get("factor_spans")
        return cls(
            mean=_array(d["mean"]), std=_array(d["std"]),
            kl_per_dim=None if d.get("kl_per_dim") is None else _array(d["kl_per_dim"]),
            # Recomputed from KL (or spread) so stats stored under an older definition agree with the rest.
            active=_active(None if d.get("kl_per_dim") is None else _array(d["kl_per_dim"]), _array(d["std"])),
            pca_components=_array(d["pca_components"]), pca_variance=_array(d["pca_variance"]),
            dim_factors=None if dim_factors is None else [(str(n), float(s)) for n, s in dim_factors],
            factor_directions=None if directions is None else {k: _array(v) for k, v in directions.items()},
            factor_spans=None if spans is None else {k: float(v) for k, v in spans.items()},
            n_samples=int(d["n_samples"]),
            dim_labels=_dim_labels_from(d.get("dim_labels")),
            flow=d.get("flow") if isinstance(d.get("flow"), dict) else None,
        )

    def slider_range(self, dim: int, spread: float = 3.0) -> tuple[float, float]:
        """mean +- spread * std of one dim; std is floored (MIN_SLIDER_STD, or 5% of the widest dim's std if
        larger) so that a collapsed dim still gets a slider that moves."""
        floor = max(MIN_SLIDER_STD, MIN_SLIDER_STD_FRACTION * float(np.max(self.std, initial=0.0)))
        half = spread * max(float(self.std[dim]), floor)
        return float(self.mean[dim]) - half, float(self.mean[dim]) + half

    def ranked_dims(self, by: str = "kl") -> np.ndarray:
        """Dim indices, most important first: by average KL ("kl"; an AE has none, so std is used) or by the
        spread of the posterior means ("std" or "spread"). Ties keep index order."""
        if by not in RANKINGS:
            raise ValueError(f"unknown ranking {by!r}; choose one of {RANKINGS}")
        score = self.kl_per_dim if by == "kl" and self.kl_per_dim is not None else self.std
        return np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")


def _dim_labels_from(stored: dict | None) -> "DimLabels | None":
    if stored is None:
        return None
    try:
        return DimLabels.from_dict(stored)
    except (KeyError, TypeError, ValueError):
        raise LatentStatsError("latent statistics hold a malformed 'dim_labels'; re-run the evaluation of this "
                               "checkpoint to store them again") from None


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.float32))


def _numpy(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _array(values: Any) -> np.ndarray:
    return _numpy(values).astype(np.float32)



# ---------------------------------------------------------------- computing statistics

def compute_latent_stats(means: np.ndarray, logvars: np.ndarray | None = None, factors: np.ndarray | None = None,
                         factor_names: Sequence[str] | None = None,
                         categorical: Sequence[bool] | None = None) -> LatentStats:
    """Statistics of posterior means (N, D); with ground-truth factors (N, F) also the factor of each dim and a
    latent direction per factor. `categorical` flags factors whose values are class labels."""
    means = _checked_latents(means)
    n, d = means.shape
    std = means.std(axis=0)
    kl = None
    if logvars is not None:
        logvars = np.asarray(logvars, dtype=np.float64)
        if logvars.shape != means.shape:
            raise ValueError(f"logvars shape {logvars.shape} does not match means shape {means.shape}")
        kl = (0.5 * (means ** 2 + np.exp(logvars) - 1.0 - logvars)).mean(axis=0)
    components, variance = principal_components(means, min(d, MAX_PCA_COMPONENTS))
    dim_factors = directions = spans = labels = None
    if factors is not None:
        factors, factor_names = _checked_factors(factors, factor_names, n)
        labels = _dim_labels(means, factors, factor_names, categorical)
        dim_factors = None if labels is None else labels.pairs()
        directions, spans = factor_directions(means, factors, factor_names)
    return LatentStats(mean=means.mean(axis=0).astype(np.float32), std=std.astype(np.float32),
                       kl_per_dim=None if kl is None else kl.astype(np.float32),
                       active=_active(kl, std), pca_components=components.astype(np.float32),
                       pca_variance=variance.astype(np.float32), dim_factors=dim_factors,
                       factor_directions=directions, factor_spans=spans, n_samples=n, dim_labels=labels)


def _active(kl_per_dim: np.ndarray | None, std: np.ndarray) -> np.ndarray:
    return active_dimensions(kl_per_dim, np.asarray(std, dtype=np.float64) ** 2)


def _checked_latents(means: np.ndarray) -> np.ndarray:
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) < 2:
        raise ValueError(f"latent statistics need at least 2 encoded images as an (N, D) array, "
                         f"got shape {means.shape}")
    if not np.isfinite(means).all():
        raise ValueError("the encoded latents contain NaN or infinite values; the model has diverged")
    return means


def _checked_factors(factors: np.ndarray, names: Sequence[str] | None, n: int) -> tuple[np.ndarray, list[str]]:
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or len(factors) != n:
        raise ValueError(f"factors must be an (N, F) array with N = {n} rows like the latents, got {factors.shape}")
    names = list(names) if names is not None else [f"factor_{i}" for i in range(factors.shape[1])]
    if len(names) != factors.shape[1]:
        raise ValueError(f"{len(names)} factor names for {factors.shape[1]} factor columns")
    return factors, names


def _dim_labels(means: np.ndarray, factors: np.ndarray, names: list[str],
                categorical: Sequence[bool] | None) -> "DimLabels | None":
    """Best factor per dim, tested against shuffled factors (trainer.evaluation.association)."""
    return dim_labels(means, factors, names, categorical=categorical)
