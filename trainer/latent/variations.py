"""Variations of one face (as Artbreeder's "children"): random steps of a chosen strength around a latent."""
from __future__ import annotations

import numpy as np


def variation_latents(z: np.ndarray, n: int, strength: float, rng: np.random.Generator,
                      scale: np.ndarray | None = None) -> np.ndarray:
    """(n, D) float32 latents z + strength * scale * eps, eps ~ N(0, I), drawn from `rng`.

    `scale` is the per-dimension step (typically LatentStats.std, the spread of the encoded data, so a dimension
    the model does not use barely moves); None steps every dimension by 1, the prior's spread. Strength 0 gives n
    copies of z; the same rng state gives the same variations.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1:
        raise ValueError(f"variations need one latent vector (D,), got shape {z.shape}")
    if n < 0:
        raise ValueError(f"the number of variations must be at least 0, got {n}")
    if not (np.isfinite(strength) and strength >= 0):
        raise ValueError(f"the strength must be a finite number >= 0, got {strength}")
    step = np.ones_like(z) if scale is None else np.asarray(scale, dtype=np.float64)
    if step.shape != z.shape:
        raise ValueError(f"scale shape {step.shape} does not match the latent shape {z.shape}")
    noise = rng.standard_normal((n, z.shape[0]))
    return (z + float(strength) * step * noise).astype(np.float32)


def place_in_centre(z: np.ndarray, variations: np.ndarray, side: int) -> tuple[np.ndarray, int]:
    """(side * side, D) latents for a side x side grid: z at the centre tile (for an even side, the tile just above
    and left of the centre), the variations around it; and the index of z's tile. Needs side * side - 1 variations.
    """
    if len(variations) != side * side - 1:
        raise ValueError(f"a {side} x {side} grid needs {side * side - 1} variations, got {len(variations)}")
    centre = ((side - 1) // 2) * side + (side - 1) // 2
    latents = np.insert(np.asarray(variations, dtype=np.float32), centre, np.asarray(z, np.float32), axis=0)
    return latents, centre
