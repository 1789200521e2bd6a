"""Which factor (or label) a latent dimension tells about, named only when that is not chance. Qt-free.

The plug-in mutual information of binned values is biased upwards, the more so the fewer the images: on random
latents every one of 16 dimensions scored a normalized MI above 0.5 with 60 test images. So we compare with the
images at hand with their factor rows shuffled (which breaks any association and keeps every marginal):

* **corrected score** of a (dimension, factor) pair: (MI - mean MI over the shuffles) / H(factor), the plug-in
  normalized MI with its chance level taken off;
* **threshold**: in each shuffle, the largest corrected score any pair reaches; the threshold is the 95th
  percentile of those maxima (a max-statistic permutation test, so the 5% holds for all pairs together, not for
  each one);
* a pair is **significant** when its corrected score is above the threshold. A name is shown beside a dimension
  when its best pair is significant and its corrected score reaches trainer.latent.sliders.FACTOR_LABEL_MIN_SCORE.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from trainer.latent.factor_information import _factor_codes, discretize

SHUFFLES = 100                 # shuffled-factor repeats for the baseline
FAMILY_LEVEL = 0.95            # the threshold is this quantile of the shuffles' largest corrected score
SEED = 0                       # fixed, so a report is reproducible


@dataclass
class DimLabels:
    """Per latent dimension: its best factor, the corrected score and whether it beats the shuffled baseline."""

    names: list[str]               # (D,) best factor of each dimension
    scores: list[float]            # (D,) corrected normalized MI of that pair (can be slightly negative)
    significant: list[bool]        # (D,)
    threshold: float               # the shuffled baseline's 95th percentile of the largest corrected score
    n_images: int                  # images the statistic used
    shuffles: int

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "scores": [float(s) for s in self.scores],
                "significant": [bool(s) for s in self.significant], "threshold": float(self.threshold),
                "n_images": int(self.n_images), "shuffles": int(self.shuffles)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DimLabels":
        return cls(names=[str(n) for n in d["names"]], scores=[float(s) for s in d["scores"]],
                   significant=[bool(s) for s in d["significant"]], threshold=float(d["threshold"]),
                   n_images=int(d["n_images"]), shuffles=int(d["shuffles"]))

    def pairs(self) -> list[tuple[str, float]]:
        """(name, corrected score) per dimension, the shape of the reports' `dim_factors`."""
        return list(zip(self.names, self.scores))

    def shown(self, dim: int, min_score: float) -> bool:
        """Whether dimension `dim` may carry its factor's name: significant and at least `min_score`."""
        return bool(self.significant[dim]) and self.scores[dim] >= min_score


def dim_labels(latents: np.ndarray, factors: np.ndarray, names: Sequence[str], n_bins: int = 20,
               categorical: Sequence[bool] | None = None, shuffles: int = SHUFFLES, seed: int = SEED) -> DimLabels:
    """The best factor of each latent dimension (N, D) among factors (N, F), tested against shuffled factors."""
    latents, factors = np.asarray(latents, np.float64), np.asarray(factors, np.float64)
    if latents.ndim != 2 or factors.ndim != 2 or len(latents) != len(factors) or len(names) != factors.shape[1]:
        raise ValueError(f"expected latents (N, D), factors (N, F) and F names, got {latents.shape}, "
                         f"{factors.shape} and {len(names)} names")
    latent_codes = discretize(latents, n_bins)
    factor_codes = _factor_codes(factors, n_bins, categorical)
    entropy = np.array([_entropy(factor_codes[:, k]) for k in range(factor_codes.shape[1])])
    observed = information_matrix(latent_codes, factor_codes)
    rng = np.random.default_rng(seed)
    null = np.stack([information_matrix(latent_codes, factor_codes[rng.permutation(len(factor_codes))])
                     for _ in range(shuffles)])                                   # (S, D, F)
    chance = null.mean(axis=0)
    scale = np.where(entropy > 0, entropy, np.inf)                                # constant factors score 0
    corrected = (observed - chance) / scale
    threshold = float(np.quantile(((null - chance) / scale).reshape(shuffles, -1).max(axis=1), FAMILY_LEVEL))
    best = corrected.argmax(axis=1)
    scores = corrected[np.arange(len(best)), best]
    return DimLabels(names=[str(names[k]) for k in best], scores=[float(s) for s in scores],
                     significant=[bool(s > threshold) for s in scores], threshold=threshold,
                     n_images=len(latents), shuffles=shuffles)


def information_matrix(latent_codes: np.ndarray, factor_codes: np.ndarray) -> np.ndarray:
    """Plug-in mutual information (D, F) in nats between integer-coded latent dims (N, D) and factors (N, F); the
    same estimate as trainer.evaluation.metrics.mutual_information, as H(z) + H(f) - H(z, f) from the counts of
    one contingency table of every pair (a shuffle only changes H(z, f))."""
    n, dims = latent_codes.shape
    count = factor_codes.shape[1]
    z_levels = int(latent_codes.max()) + 1 if latent_codes.size else 1
    f_levels = int(factor_codes.max()) + 1 if factor_codes.size else 1
    z = latent_codes.astype(np.int64) + np.arange(dims, dtype=np.int64) * z_levels                    # (N, D)
    f = factor_codes.astype(np.int64) + np.arange(count, dtype=np.int64) * f_levels                   # (N, F)
    cells = (z[:, :, None] * (count * f_levels) + f[:, None, :]).ravel()
    joint = np.bincount(cells, minlength=dims * z_levels * count * f_levels)
    joint = joint.reshape(dims, z_levels, count, f_levels)
    c_log_c = _c_log_c(n)
    h_joint = np.log(n) - c_log_c[joint].sum(axis=(1, 3)) / n                                          # (D, F)
    h_z = np.log(n) - c_log_c[joint.sum(axis=(2, 3)) // count].sum(axis=1) / n                         # (D,)
    h_f = np.log(n) - c_log_c[joint[0].sum(axis=0)].sum(axis=1) / n                                    # (F,)
    return np.maximum(h_z[:, None] + h_f[None, :] - h_joint, 0.0)


def _c_log_c(n: int) -> np.ndarray:
    """c * log(c) for the counts 0..n (0 for 0)."""
    c = np.arange(n + 1, dtype=np.float64)
    return c * np.log(np.maximum(c, 1.0))


def _entropy(codes: np.ndarray) -> float:
    p = np.bincount(codes.astype(np.int64)) / len(codes)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())
