"""Directions in latent space: unit vectors, latent axes, principal directions of encoded data, directions that
change one ground-truth factor, attribute vectors from two groups of images, conditional directions (one attribute
with others held fixed) and closed-form SeFa directions read from the decoder's weights.

Directions are numpy vectors (D,); a "unit" direction has length 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from torch import nn

DEPENDENT_FRACTION = 1e-6      # a direction (or a held one) shorter than this after projection adds nothing new


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


def conditional_direction(direction: np.ndarray, held: Sequence[np.ndarray]) -> np.ndarray:
    """The unit part of `direction` orthogonal to every `held` direction (float32).

    Moving along it leaves the coordinate along each held direction unchanged, e.g. "older, but keep the glasses".
    Held directions need not be orthogonal to each other or of unit length; ones that repeat another are ignored.
    Raises ValueError when nothing of `direction` is left (it lies within the held directions).
    """
    d = np.asarray(direction, dtype=np.float64)
    length = np.linalg.norm(d)
    if d.ndim != 1 or length == 0 or not np.isfinite(length):
        raise ValueError(f"a direction must be a non-zero finite vector (D,), got shape {d.shape}")
    if len(held):
        basis = np.stack([np.asarray(h, dtype=np.float64) for h in held], axis=1)
        if basis.shape[0] != d.shape[0]:
            raise ValueError(f"held directions have {basis.shape[0]} values; the direction has {d.shape[0]}")
        q, r = np.linalg.qr(basis)
        scale = np.abs(np.diag(r))
        q = q[:, scale > DEPENDENT_FRACTION * max(float(scale.max(initial=0.0)), 1e-300)]
        d = d - q @ (q.T @ d)
    if np.linalg.norm(d) <= DEPENDENT_FRACTION * length:
        raise ValueError("this direction lies within the directions held fixed, so nothing is left to move along")
    return unit(d).astype(np.float32)


# ---------------------------------------------------------------- closed-form (SeFa) directions

@dataclass
class SefaDirections:
    """Closed-form directions of a decoder (Shen & Zhou 2021, "Closed-Form Factorization of Latent Semantics").

    The first layer the latent passes through computes W z + b. A step n in z changes that layer's output by W n,
    and |W n|^2 = n^T W^T W n, so the unit n that change the output most are the top eigenvectors of W^T W; their
    eigenvalues are how much (squared output change per unit step). No data is needed.
    """

    directions: np.ndarray     # (K, D) unit rows, largest eigenvalue first
    eigenvalues: np.ndarray    # (K,)
    layer: str                 # which layer the weight came from, e.g. "from_latent (Linear 16 -> 2048)"

    def share(self, index: int) -> float:
        """Fraction of the summed eigenvalues carried by direction `index` (0..1)."""
        total = float(np.sum(self.eigenvalues))
        return float(self.eigenvalues[index]) / total if total > 0 else 0.0


def sefa_directions(weight: np.ndarray, k: int | None = None, layer: str = "") -> SefaDirections:
    """Top-k eigenvectors of W^T W for a weight W (out, D) that maps a latent of size D.

    Signs are fixed (largest entry positive) so the sliders keep their meaning from one load to the next.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] < 1 or not np.isfinite(w).all():
        raise ValueError(f"SeFa needs a finite weight matrix (out, D), got shape {w.shape}")
    eigenvalues, vectors = np.linalg.eigh(w.T @ w)        # ascending, orthonormal columns
    order = np.argsort(-eigenvalues, kind="stable")[:k]
    rows = vectors[:, order].T
    largest = rows[np.arange(len(rows)), np.abs(rows).argmax(axis=1)]
    rows = rows * np.where(largest < 0, -1.0, 1.0)[:, None]
    return SefaDirections(rows.astype(np.float32), np.clip(eigenvalues[order], 0.0, None).astype(np.float32), layer)


def decoder_first_layer(model: nn.Module) -> tuple[np.ndarray, str]:
    """The weight (out, D) of the first layer our decoder applies to z, and a description of it.

    For FaceModel that is `latent_fc`'s Linear (D -> D) when the model has that extra layer, else `from_latent`, the
    Linear (D -> C*s*s) whose output is reshaped into the decoder's first feature map. A convolutional first layer
    (on a 1x1 latent "image") is flattened to (out_channels * kh * kw, D).
    """
    extra = getattr(model, "latent_fc", None)
    candidates = ([("latent_fc", extra[0])] if isinstance(extra, nn.Sequential) and len(extra) else []) + \
        [("from_latent", getattr(model, "from_latent", None))]
    name, layer = candidates[0]
    if layer is None:
        raise ValueError("this model has no from_latent layer, so it has no SeFa directions")
    weight = layer.weight.detach().float().cpu().numpy()
    if isinstance(layer, nn.Linear):
        kind = f"Linear {weight.shape[1]} -> {weight.shape[0]}"
    elif isinstance(layer, nn.ConvTranspose2d):          # weight (D, out, kh, kw)
        weight = weight.reshape(weight.shape[0], -1).T
        kind = f"ConvTranspose2d {weight.shape[1]} -> {layer.out_channels}"
    elif isinstance(layer, nn.Conv2d):                   # weight (out, D, kh, kw)
        weight = np.moveaxis(weight, 1, -1).reshape(-1, weight.shape[1])
        kind = f"Conv2d {weight.shape[1]} -> {layer.out_channels}"
    else:
        raise ValueError(f"the decoder's first layer ({type(layer).__name__}) has no weight matrix for SeFa")
    return weight, f"{name} ({kind})"


def model_sefa_directions(model: nn.Module, k: int | None = None) -> SefaDirections:
    """SeFa directions of a FaceModel's decoder (see decoder_first_layer for which layer)."""
    weight, layer = decoder_first_layer(model)
    return sefa_directions(weight, k, layer)
