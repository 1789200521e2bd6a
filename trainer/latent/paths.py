"""Paths through latent space: straight lines (lerp), great circles (slerp), traversals along a direction.

Latents are numpy vectors (D,); a path is an array (steps, D).
"""
from __future__ import annotations

import numpy as np

from trainer.latent.directions import unit

INTERPOLATIONS = ("lerp", "slerp")
PARALLEL_SIN = 1e-6             # slerp falls back to lerp when sin(angle) is below this


def lerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """(steps, D) points on the straight line from z0 to z1; the first and last rows are exactly z0 and z1."""
    return _path(z0, z1, steps, "lerp")


def slerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """(steps, D) points along the great-circle arc from z0 to z1 (White 2016, "Sampling generative networks").

    Equal-norm endpoints give a path of constant norm, which stays where prior samples live in high dimensions
    (a straight line cuts through the low-density centre). Falls back to lerp when either endpoint is zero or the
    two are (anti-)parallel. The first and last rows are exactly z0 and z1.
    """
    return _path(z0, z1, steps, "slerp")


def interpolation_path(a: np.ndarray, b: np.ndarray, steps: int, kind: str = "lerp") -> np.ndarray:
    """(steps, D) float32 latents from a to b inclusive, on a line ("lerp") or a great circle ("slerp")."""
    _check_kind(kind)
    return _path(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32), steps, kind)


def interpolate(a: np.ndarray, b: np.ndarray, t: float, kind: str = "lerp") -> np.ndarray:
    """The one float32 point at fraction t in [0, 1] of the way from a to b (the morph slider); the same paths
    as interpolation_path."""
    _check_kind(kind)
    a, b = _checked_pair(a, b)
    fraction = np.array([[float(np.clip(t, 0.0, 1.0))]])
    return _points(a, b, fraction, kind)[0].astype(np.float32)


def traversal(z: np.ndarray, direction: np.ndarray, values: np.ndarray,
              origin: np.ndarray | None = None) -> np.ndarray:
    """(len(values), D) float32 copies of z whose coordinate along `direction` is set to each value.

    The coordinate of a point p is (p - origin) . d with d the normalized direction (origin 0 by default), so
    row i is z + (values[i] - (z - origin) . d) * d and the part of z orthogonal to d is unchanged.
    """
    z = np.asarray(z, dtype=np.float64)
    d = unit(np.asarray(direction, dtype=np.float64))
    if z.shape != d.shape:
        raise ValueError(f"latent shape {z.shape} does not match direction shape {d.shape}")
    start = z if origin is None else z - np.asarray(origin, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return (z + (values - start @ d) * d).astype(np.float32)


def _path(z0: np.ndarray, z1: np.ndarray, steps: int, kind: str) -> np.ndarray:
    z0, z1 = np.asarray(z0), np.asarray(z1)
    a, b = _checked_pair(z0, z1)
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    path = _points(a, b, np.linspace(0.0, 1.0, steps)[:, None], kind)
    path[0], path[-1] = a, b
    # Keep float64 inputs in float64 (so the endpoints stay exact); everything else becomes float32.
    return path.astype(np.result_type(z0.dtype, z1.dtype, np.float32))


def _points(a: np.ndarray, b: np.ndarray, t: np.ndarray, kind: str) -> np.ndarray:
    """Points (K, D) at fractions t (K, 1) from a to b (float64 vectors): the one lerp and slerp formula."""
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if kind == "slerp" and norm_a > 0 and norm_b > 0:
        omega = np.arccos(np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0))
        if np.sin(omega) >= PARALLEL_SIN:
            return (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    return (1.0 - t) * a + t * b


def _checked_pair(z0: np.ndarray, z1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z0, z1 = np.asarray(z0), np.asarray(z1)
    if z0.ndim != 1 or z0.shape != z1.shape:
        raise ValueError(f"interpolation needs two latent vectors of the same shape (D,), got {z0.shape} "
                         f"and {z1.shape}")
    return z0.astype(np.float64), z1.astype(np.float64)


def _check_kind(kind: str) -> None:
    if kind not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {kind!r}; use 'lerp' or 'slerp'")
