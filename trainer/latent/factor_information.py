"""How much each latent dimension tells about each ground-truth factor: discretized mutual information, MIG and the
best factor of each dimension (definitions in trainer.evaluation.metrics' docstring). Below both the evaluation
report and the latent statistics, which label sliders with it."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def discretize(values: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Integer codes (N, K) in [0, n_bins): each column cut into n_bins equal-width bins over its own range."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"discretize: expected values shaped (N, K), got {values.shape}")
    if n_bins < 1:
        raise ValueError(f"discretize: n_bins must be at least 1, got {n_bins}")
    if not np.isfinite(values).all():
        raise ValueError("discretize: values contain NaN or infinity (did the model diverge?)")
    codes = np.empty(values.shape, dtype=np.int64)
    for column in range(values.shape[1]):
        edges = np.histogram_bin_edges(values[:, column], bins=n_bins)
        # inner edges only: the minimum lands in bin 0 and the maximum in bin n_bins - 1
        codes[:, column] = np.digitize(values[:, column], edges[1:-1])
    return codes


def _factor_codes(factors: np.ndarray, n_bins: int, categorical: Sequence[bool] | None) -> np.ndarray:
    """Integer codes (N, F): continuous factors binned like latents, categorical ones keep their levels."""
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2:
        raise ValueError(f"expected factors shaped (N, F), got {factors.shape}")
    if categorical is None:
        categorical = [False] * factors.shape[1]
    if len(categorical) != factors.shape[1]:
        raise ValueError(f"categorical has {len(categorical)} entries but factors have {factors.shape[1]} columns")
    codes = discretize(factors, n_bins)
    for column, is_categorical in enumerate(categorical):
        if is_categorical:
            codes[:, column] = np.unique(factors[:, column], return_inverse=True)[1].reshape(-1)
    return codes


def mutual_information_matrix(latents: np.ndarray, factors: np.ndarray, n_bins: int = 20,
                              categorical: Sequence[bool] | None = None) -> np.ndarray:
    """Discretized mutual information (D, F) in nats between each latent dimension and each factor."""
    latents = np.asarray(latents)
    factors = np.asarray(factors)
    if latents.ndim != 2 or factors.ndim != 2 or len(latents) != len(factors):
        raise ValueError(f"expected latents (N, D) and factors (N, F) with the same N, "
                         f"got {latents.shape} and {factors.shape}")
    latent_codes = discretize(latents, n_bins)
    factor_codes = _factor_codes(factors, n_bins, categorical)
    matrix = np.zeros((latent_codes.shape[1], factor_codes.shape[1]))
    for d in range(latent_codes.shape[1]):
        for k in range(factor_codes.shape[1]):
            matrix[d, k] = mutual_information(factor_codes[:, k], latent_codes[:, d])
    return matrix


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information in nats of two arrays of non-negative integer codes: the estimate scikit-learn's
    mutual_info_score makes, from the same contingency table, without its per-call input checks (most of its time:
    its 336 calls took 7.4 s of a tiny run's 9.2 s final evaluation on a busy 2-core machine; the whole evaluation
    took 1.4 s with this)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    if len(a) == 0:
        return 0.0
    levels_b = int(b.max()) + 1
    joint = np.bincount(a * levels_b + b, minlength=(int(a.max()) + 1) * levels_b).reshape(-1, levels_b)
    joint = joint / len(a)
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    seen = joint > 0
    return max(0.0, float((joint[seen] * np.log(joint[seen] / outer[seen])).sum()))


def factor_entropies(factors: np.ndarray, n_bins: int = 20, categorical: Sequence[bool] | None = None) -> np.ndarray:
    """Entropy (F,) in nats of each discretized factor (H(v) = MI(v; v))."""
    codes = _factor_codes(factors, n_bins, categorical)
    return np.array([mutual_information(codes[:, k], codes[:, k]) for k in range(codes.shape[1])])


def mig(latents: np.ndarray, factors: np.ndarray, n_bins: int = 20,
        categorical: Sequence[bool] | None = None) -> tuple[float, np.ndarray]:
    """Mutual information gap and the gap of each factor (F,).

    Factors with zero entropy have no gap (NaN in the array) and are left out of the mean; when no factor
    varies the MIG itself is NaN.
    """
    info = mutual_information_matrix(latents, factors, n_bins, categorical)
    entropy = factor_entropies(factors, n_bins, categorical)
    ranked = np.sort(info, axis=0)[::-1]                     # per factor, MI from the largest down
    second = ranked[1] if len(ranked) > 1 else np.zeros(info.shape[1])
    gaps = np.full(info.shape[1], np.nan)
    varies = entropy > 0
    gaps[varies] = (ranked[0, varies] - second[varies]) / entropy[varies]
    return (float(gaps[varies].mean()) if varies.any() else math.nan), gaps


def best_factor_per_dim(latents: np.ndarray, factors: np.ndarray, factor_names: Sequence[str], n_bins: int = 20,
                        categorical: Sequence[bool] | None = None) -> list[tuple[str, float]]:
    """For each latent dimension: the factor it shares the most normalized MI (MI / H, in [0, 1]) with, and that score.

    Constant factors score 0; a dimension that tells nothing about any factor gets the first factor with score 0.
    """
    factors = np.asarray(factors)
    if factors.ndim != 2 or len(factor_names) != factors.shape[1]:
        raise ValueError(f"got {len(factor_names)} factor names for factors shaped {factors.shape}")
    info = mutual_information_matrix(latents, factors, n_bins, categorical)
    entropy = factor_entropies(factors, n_bins, categorical)
    normalized = np.divide(info, entropy, out=np.zeros_like(info), where=entropy > 0)
    normalized = np.clip(normalized, 0.0, 1.0)               # rounding can overshoot 1 by a hair
    best = normalized.argmax(axis=1)
    return [(str(factor_names[k]), float(normalized[d, k])) for d, k in enumerate(best)]
