"""Directions in latent space: unit vectors, latent axes, principal directions of encoded data, directions that
change one ground-truth factor, attribute vectors from two groups of images.

Directions are numpy vectors (D,); a "unit" direction has length 1.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def unit(direction: np.ndarray) -> np.ndarray:
    """`direction` scaled to length 1 (float32 stays float32, float64 stays float64).

    Raises ValueError for a zero, non-finite or non-vector input.
    """
    direction = np.asarray(direction)
    dtype = np.result_type(direction.dtype, np.float32)
    values = direction.astype(np.float64)
    norm = np.linalg.norm(values)
    if values.ndim != 1 or norm == 0 or not np.isfinite(norm):
        raise ValueError(f"a direction must be a non-zero finite vector (D,), got shape {direction.shape}")
    return (values / norm).astype(dtype)


def axis_direction(dim: int, latent_dim: int) -> np.ndarray:
    """Unit vector (latent_dim,) along latent dimension `dim`."""
    if not 0 <= dim < latent_dim:
        raise IndexError(f"latent dimension {dim} does not exist; the latent has {latent_dim} dimensions")
    direction = np.zeros(latent_dim, dtype=np.float32)
    direction[dim] = 1.0
    return direction


def attribute_direction(latents_a: np.ndarray, latents_b: np.ndarray) -> np.ndarray:
    """mean(B) - mean(A), the "attribute vector" from group A to group B (e.g. no smile -> smile).

    Not normalized on purpose: adding it once to a latent of group A moves it to where group B lives on average;
    normalize it (unit()) to use it as a slider direction.
    """
    a, b = np.atleast_2d(np.asarray(latents_a, dtype=np.float64)), np.atleast_2d(np.asarray(latents_b, np.float64))
    if a.size == 0 or b.size == 0 or a.shape[1] != b.shape[1]:
        raise ValueError(f"both groups need at least one latent of the same size, got {a.shape} and {b.shape}")
    return (b.mean(axis=0) - a.mean(axis=0)).astype(np.float32)


def principal_components(latents: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k principal directions (k, D) as unit rows and the variance along each (k,).

    Signs are fixed (largest entry positive) so the explorer's PCA sliders keep their meaning between runs.
    With fewer samples than k, the extra directions complete an orthonormal basis and have zero variance.
    """
    centered = latents - latents.mean(axis=0)
    _, singular, rows = np.linalg.svd(centered, full_matrices=len(latents) < k)
    rows = rows[:k]
    variance = np.zeros(k)
    variance[:min(k, len(singular))] = singular[:k] ** 2 / len(latents)
    largest = rows[np.arange(k), np.abs(rows).argmax(axis=1)]
    return rows * np.where(largest < 0, -1.0, 1.0)[:, None], variance


def factor_directions(latents: np.ndarray, factors: np.ndarray,
                      names: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per factor, the unit latent direction that changes it and the latent distance spanning its observed range.

    We fit latents as a linear function of all factors at once (least squares: z ~ c + sum_k f_k b_k). b_k is how
    the latents move per unit of factor k with the other factors held fixed, so stepping along b_k changes factor
    k and leaves the others alone, even when the encoder mixes the factors non-orthogonally. (The readout
    direction from regressing f_k on z would predict f_k best but, for a non-orthogonal mix, moving along it also
    changes other factors; and its weights blow up on near-constant collapsed dims.) For a binary factor b_k is
    the difference of the class means with the other factors held fixed. Categorical factors with more than two
    levels are treated as numbers, so their direction walks through the levels in index order. Factors that are
    constant in the data get no direction.
    """
    latents = np.asarray(latents, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    centered_factors = factors - factors.mean(axis=0)
    coefficients, *_ = np.linalg.lstsq(centered_factors, latents - latents.mean(axis=0), rcond=None)
    directions, spans = {}, {}
    for k, name in enumerate(names):
        value_range = float(factors[:, k].max() - factors[:, k].min())
        norm = float(np.linalg.norm(coefficients[k]))
        if value_range <= 0 or norm <= 1e-12:
            continue
        directions[str(name)] = (coefficients[k] / norm).astype(np.float32)
        spans[str(name)] = norm * value_range
    return directions, spans
