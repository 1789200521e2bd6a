"""The explorer's sliders: each moves the current z along one unit direction (a latent axis, a principal
direction, a ground-truth factor direction or a user-made attribute direction) over a range taken from the data.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from trainer.evaluation.association import DimLabels
from trainer.latent.directions import SefaDirections, axis_direction, conditional_direction, unit
from trainer.latent.paths import traversal
from trainer.latent.stats import LatentStats

SLIDER_MODES = ("axes", "pca", "factors", "sefa", "labels")
MAX_ALL_SLIDERS = 32            # up to this many latent dims, every dim gets a slider
# A latent dim is labelled with the true factor it shares the most information with only when that association
# beats shuffled factors (trainer.evaluation.association) and its normalized mutual information with the chance
# level taken off (MI minus the shuffles' MI, over H(factor); 0..1) is at least this: a weaker link is not worth a name.
FACTOR_LABEL_MIN_SCORE = 0.25
# Statistics stored before the shuffled test have the plain normalized MI only, which chance inflates on few images
# (random latents: above 0.5 on 60 images, 0.29 on 200, 0.03 on 2,000): their names need this score and image count.
UNTESTED_MIN_SCORE = 0.5
UNTESTED_MIN_IMAGES = 2000

# Friendlier names for the synthetic faces' factors, shown next to the factor name on direction sliders.
FACTOR_LABELS = {
    "skin_tone": "darker skin", "face_width": "wider face", "face_length": "longer face",
    "eye_size": "bigger eyes", "eye_spacing": "eyes apart", "gaze_x": "look right", "brow_tilt": "angry brows",
    "mouth_curve": "smile", "mouth_width": "wider mouth", "hair_color": "darker hair", "hair_style": "hair style",
    "glasses": "glasses", "head_x": "head right", "head_y": "head down", "light_dir": "light from right",
    "background_hue": "background hue",
}


@dataclass
class SliderSpec:
    """One slider: it moves z along a unit `direction`; its value is the coordinate (z - origin) . direction.

    For a latent axis the origin is 0, so the value is z[dim] itself and moving it changes that dim only.
    With `readout` weights w (a label's linear model) the value is instead w . z + readout_offset, in the label's
    `unit` (a predicted age in years): moving sets that prediction by stepping along `direction`.
    """

    key: str                       # "dim:3", "pc:0", "factor:mouth_curve", "custom:smile"
    label: str                     # "dim 3", "PC 1", "smile"
    direction: np.ndarray          # unit (D,)
    origin: np.ndarray             # (D,)
    low: float
    high: float
    kl: float | None = None        # average KL of a latent dim (VAE)
    detail: str = ""               # e.g. "~ mouth_curve 0.62" or "12% of variance"
    active: bool = True            # False for a collapsed dim
    readout: np.ndarray | None = None      # (D,) weights of a label's prediction; None: the value is the coordinate
    readout_offset: float = 0.0
    unit: str = ""                 # of the value: "years"; "" for latent units

    def value(self, z: np.ndarray) -> float:
        return float(self.coordinates(z))

    def coordinates(self, latents: np.ndarray) -> np.ndarray:
        """The slider's value at each row of latents (N, D) (float64 (N,)), or at one z (D,): (z - origin) . direction,
        or the readout's prediction. The atlas colours points by it, so a point's colour is what this slider shows."""
        latents = np.asarray(latents, np.float64)
        if self.readout is not None:
            return latents @ np.asarray(self.readout, np.float64) + self.readout_offset
        return (latents - self.origin) @ self.direction

    def moved(self, z: np.ndarray, value: float) -> np.ndarray:
        """z with this slider's value set to `value`, by a step along its direction only."""
        if self.readout is None:
            return traversal(z, self.direction, [value], self.origin)[0]
        gain = float(np.asarray(self.readout, np.float64) @ self.direction)     # value per unit step (non-zero)
        step = (value - self.value(z)) / gain
        return (np.asarray(z, np.float64) + step * self.direction).astype(np.float32)

    def values(self, count: int) -> np.ndarray:
        return np.linspace(self.low, self.high, count)


def visible_dims(stats: LatentStats | None, latent_dim: int, k: int, rank_by: str = "kl") -> list[int]:
    """Which latent dims get a slider: all of them up to MAX_ALL_SLIDERS, else the top k by KL or spread."""
    if latent_dim <= MAX_ALL_SLIDERS:
        return list(range(latent_dim))
    if stats is None:
        return list(range(min(k, latent_dim)))
    return [int(d) for d in stats.ranked_dims("kl" if rank_by == "kl" else "spread")[:k]]


def axis_sliders(stats: LatentStats | None, dims: list[int], latent_dim: int, spread: float = 3.0,
                 labels: DimLabels | None = None) -> list[SliderSpec]:
    """A slider per latent dim; ranges from the data (mean +- 3 std), or +-3 before statistics exist. A dim is named
    after the factor, or else the user's label (`labels`, tested the same way), it tells about beyond chance."""
    specs = []
    for dim in dims:
        low, high = stats.slider_range(dim, spread) if stats is not None else (-spread, spread)
        kl = float(stats.kl_per_dim[dim]) if stats is not None and stats.kl_per_dim is not None else None
        detail = (factor_label(stats, dim) if stats is not None else "") or label_name(labels, dim)
        active = bool(stats.active[dim]) if stats is not None else True
        specs.append(SliderSpec(key=f"dim:{dim}", label=f"dim {dim}", direction=axis_direction(dim, latent_dim),
                                origin=np.zeros(latent_dim, np.float32), low=low, high=high, kl=kl,
                                detail=detail, active=active))
    return specs


def factor_label(stats: LatentStats, dim: int) -> str:
    """"~ glasses 0.80" when latent dim `dim` tells about a factor beyond chance (see FACTOR_LABEL_MIN_SCORE), else ""."""
    if stats.dim_labels is not None and dim < len(stats.dim_labels.names):
        shown = stats.dim_labels.shown(dim, FACTOR_LABEL_MIN_SCORE)
        name, score = stats.dim_labels.names[dim], stats.dim_labels.scores[dim]
    elif stats.dim_factors is not None and dim < len(stats.dim_factors):
        name, score = stats.dim_factors[dim]
        shown = score >= UNTESTED_MIN_SCORE and stats.n_samples >= UNTESTED_MIN_IMAGES
    else:
        return ""
    return f"~ {name} {score:.2f}" if shown else ""


def label_name(labels: DimLabels | None, dim: int) -> str:
    """"~ age 0.31" when latent dim `dim` tells about the user's label beyond chance, else ""."""
    if labels is None or dim >= len(labels.names) or not labels.shown(dim, FACTOR_LABEL_MIN_SCORE):
        return ""
    return f"~ {labels.names[dim]} {labels.scores[dim]:.2f}"


def pca_sliders(stats: LatentStats, k: int, spread: float = 3.0) -> list[SliderSpec]:
    """A slider per principal direction of the encoded data, centred on the data mean."""
    total = float(np.sum(stats.pca_variance)) or 1.0
    specs = []
    for i in range(min(k, len(stats.pca_components))):
        variance = float(stats.pca_variance[i])
        half = spread * max(math.sqrt(max(variance, 0.0)), 0.05)
        specs.append(SliderSpec(key=f"pc:{i}", label=f"PC {i + 1}", direction=unit(stats.pca_components[i]),
                                origin=np.asarray(stats.mean, np.float32), low=-half, high=half,
                                detail=f"{100 * variance / total:.0f}% of variance", active=variance > 1e-6))
    return specs


def factor_sliders(stats: LatentStats, spread: float = 1.5) -> list[SliderSpec]:
    """A slider per ground-truth factor direction (synthetic data), e.g. "smile (mouth_curve)"."""
    if not stats.factor_directions:
        return []
    specs = []
    for name, direction in stats.factor_directions.items():
        half = 0.5 * spread * float((stats.factor_spans or {}).get(name, 3.0))
        label = FACTOR_LABELS.get(name, name)
        specs.append(SliderSpec(key=f"factor:{name}", label=label, direction=unit(direction),
                                origin=np.asarray(stats.mean, np.float32), low=-half, high=half,
                                detail=name if label != name else ""))
    return specs


def sefa_sliders(sefa: SefaDirections, stats: LatentStats | None, k: int, spread: float = 3.0) -> list[SliderSpec]:
    """A slider per closed-form (SeFa) direction, centred on the data mean (0 before statistics exist).

    The range is +-3 times the data's spread along the direction, estimated from the per-dimension spreads (the
    encodings' correlations are ignored); +-3 before statistics exist (the prior's spread).
    """
    latent_dim = sefa.directions.shape[1]
    origin = np.asarray(stats.mean, np.float32) if stats is not None else np.zeros(latent_dim, np.float32)
    specs = []
    for i in range(min(k, len(sefa.directions))):
        direction = unit(sefa.directions[i])
        along = math.sqrt(float(np.sum((direction * stats.std) ** 2))) if stats is not None else 1.0
        half = spread * max(along, 0.05)
        specs.append(SliderSpec(key=f"sefa:{i}", label=f"SeFa {i + 1}", direction=direction, origin=origin,
                                low=-half, high=half, detail=f"{100 * sefa.share(i):.0f}% of the layer's gain",
                                active=along > 1e-3 if stats is not None else True))
    return specs


def custom_slider(name: str, vector: np.ndarray, origin: np.ndarray, spread: float = 1.5) -> SliderSpec:
    """A slider along a user-made direction (mean of group B - mean of group A), over +-1.5 times its length."""
    length = float(np.linalg.norm(vector))
    if length <= 1e-8:
        raise ValueError("the two groups encode to the same mean; pick images that differ")
    half = spread * length
    return SliderSpec(key=f"custom:{name}", label=name, direction=unit(np.asarray(vector, np.float32)),
                      origin=np.asarray(origin, np.float32), low=-half, high=half, detail=f"length {length:.2f}")


def traversal_latents(spec: SliderSpec, z: np.ndarray, columns: int) -> np.ndarray:
    """(columns, D): z moved along the slider's direction across its range."""
    if spec.readout is not None:
        return np.stack([spec.moved(z, value) for value in spec.values(columns)])
    return traversal(z, spec.direction, spec.values(columns), spec.origin)


def holding_fixed(specs: list[SliderSpec], held: SliderSpec) -> list[SliderSpec]:
    """The sliders with `held`'s direction projected out of every other one (conditional_direction), so moving any
    of them keeps the held coordinate; `held` itself stays as it is. A slider along the held direction itself
    cannot move without changing it and is marked inactive (unchanged)."""
    result = []
    for spec in specs:
        if spec.key == held.key:
            result.append(spec)
            continue
        try:
            direction = conditional_direction(spec.direction, [held.direction])
        except ValueError:
            result.append(dataclasses.replace(spec, active=False, detail=f"parallel to {held.label}"))
            continue
        note = f"{held.label} held fixed"
        result.append(dataclasses.replace(spec, direction=direction,
                                          detail=f"{spec.detail}, {note}" if spec.detail else note))
    return result
