"""Latent-space tools for the explorer: statistics of encoded data, interpolation, directions, decoding, grids.

Everything works on numpy arrays and torch tensors; the GUI's explorer widgets are thin layers over these functions.
Latent vectors are float32 numpy arrays of shape (D,) or (N, D) unless a function says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torchvision.utils import make_grid

STATS_FORMAT_VERSION = 1
MAX_PCA_COMPONENTS = 32
ACTIVE_VARIANCE = 0.01          # kept for old imports; the definition is active_dimensions() below
MIN_SLIDER_STD = 0.05           # slider half-width floor, absolute ...
MIN_SLIDER_STD_FRACTION = 0.05  # ... and relative to the widest dim, so collapsed dims still move a little
PARALLEL_SIN = 1e-6             # slerp falls back to lerp when sin(angle) is below this
RANKINGS = ("kl", "std", "spread")   # "spread" is a synonym of "std"


# The one definition of an active latent dimension: the eval report (trainer.evaluation.metrics), the Train tab and the
# Explore tab all use active_dimensions().
ACTIVE_KL_NATS = 0.01          # a VAE dimension is active when its mean KL over the test images is >= this
ACTIVE_CODE_VARIANCE = 0.01    # an AE dimension (no KL) is active when its code's variance over the data is > this


def active_definition(variational: bool) -> str:
    """One sentence saying what 'active' means, for tooltips and reports."""
    if variational:
        return (f"A dimension is active when its mean KL over the test images is at least {ACTIVE_KL_NATS:g} nats "
                "(the model sends information through it); below that it has collapsed to the prior.")
    return (f"A dimension is active when the variance of its code over the test images is above "
            f"{ACTIVE_CODE_VARIANCE:g} (an autoencoder has no KL).")


def active_dimensions(kl_per_dim: np.ndarray | Sequence[float] | None = None,
                      code_variance: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
    """Boolean mask (D,) of active dimensions: by mean KL per dim when there is one (a VAE), else by the variance
    of the codes over the data (an AE). See ACTIVE_KL_NATS and ACTIVE_CODE_VARIANCE."""
    if kl_per_dim is not None:
        return np.asarray(kl_per_dim, dtype=np.float64) >= ACTIVE_KL_NATS
    if code_variance is None:
        raise ValueError("active_dimensions needs the KL per dimension (VAE) or the code variance (AE)")
    return np.asarray(code_variance, dtype=np.float64) > ACTIVE_CODE_VARIANCE


class LatentStatsError(ValueError):
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


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.float32))


def _numpy(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _array(values: Any) -> np.ndarray:
    return _numpy(values).astype(np.float32)


# ---------------------------------------------------------------- encoding and statistics

@torch.no_grad()
def encode_dataset(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256,
                   device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means (N, D) and log-variances (N, D) (None for an AE) of uint8 (N, C, H, W) images.

    Float images are taken to be in [0, 1] already. The model must already be on `device`; it runs in eval mode
    and its training flag is restored afterwards.
    """
    images = torch.as_tensor(images)
    was_training = model.training
    model.eval()
    means, logvars = [], []
    try:
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(device)
            x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
            mean, logvar = model.encode(x)
            means.append(mean.float().cpu().numpy())
            if logvar is not None:
                logvars.append(logvar.float().cpu().numpy())
    finally:
        model.train(was_training)
    if not means:
        empty = np.zeros((0, model.latent_dim), np.float32)
        return empty, (empty.copy() if model.is_variational else None)
    return np.concatenate(means), (np.concatenate(logvars) if logvars else None)


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
    dim_factors = directions = spans = None
    if factors is not None:
        factors, factor_names = _checked_factors(factors, factor_names, n)
        dim_factors = _dim_factors(means, factors, factor_names, categorical)
        directions, spans = factor_directions(means, factors, factor_names)
    return LatentStats(mean=means.mean(axis=0).astype(np.float32), std=std.astype(np.float32),
                       kl_per_dim=None if kl is None else kl.astype(np.float32),
                       active=_active(kl, std), pca_components=components.astype(np.float32),
                       pca_variance=variance.astype(np.float32), dim_factors=dim_factors,
                       factor_directions=directions, factor_spans=spans, n_samples=n)


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


def _dim_factors(means: np.ndarray, factors: np.ndarray, names: list[str],
                 categorical: Sequence[bool] | None) -> list[tuple[str, float]] | None:
    """Best factor per dim from trainer.evaluation.metrics; None while that module (written separately) is unavailable."""
    try:
        from trainer.evaluation.metrics import best_factor_per_dim
    except ImportError:
        return None
    found = best_factor_per_dim(means, factors, names, categorical=categorical)
    return [(str(name), float(score)) for name, score in found]


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


# ---------------------------------------------------------------- paths and directions

def lerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """(steps, D) points on the straight line from z0 to z1; the first and last rows are exactly z0 and z1."""
    z0, z1, dtype = _endpoints(z0, z1, steps)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    path = (1.0 - t) * z0 + t * z1
    path[0], path[-1] = z0, z1
    return path.astype(dtype)


def slerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """(steps, D) points along the great-circle arc from z0 to z1 (White 2016, "Sampling generative networks").

    Equal-norm endpoints give a path of constant norm, which stays where prior samples live in high dimensions
    (a straight line cuts through the low-density centre). Falls back to lerp when either endpoint is zero or the
    two are (anti-)parallel. The first and last rows are exactly z0 and z1.
    """
    a, b, dtype = _endpoints(z0, z1, steps)
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0 or norm_b == 0:
        return lerp(z0, z1, steps)
    omega = np.arccos(np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0))
    if np.sin(omega) < PARALLEL_SIN:
        return lerp(z0, z1, steps)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    path = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    path[0], path[-1] = a, b
    return path.astype(dtype)


def _endpoints(z0: np.ndarray, z1: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    z0, z1 = np.asarray(z0), np.asarray(z1)
    if z0.ndim != 1 or z0.shape != z1.shape:
        raise ValueError(f"interpolation needs two latent vectors of the same shape (D,), got {z0.shape} "
                         f"and {z1.shape}")
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    # Keep float64 inputs in float64 (so the endpoints stay exact); everything else becomes float32.
    dtype = np.result_type(z0.dtype, z1.dtype, np.float32)
    return z0.astype(np.float64), z1.astype(np.float64), dtype


def traversal(z: np.ndarray, direction: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(len(values), D) copies of z whose coordinate along `direction` is set to each value.

    Row i is z + (values[i] - z.d) * d with d the normalized direction, so row i . d == values[i] and the part of
    z orthogonal to d is unchanged. `values` are coordinates along d (e.g. from LatentStats.slider_range).
    """
    z = np.asarray(z, dtype=np.float64)
    unit = _unit(direction)
    if z.shape != unit.shape:
        raise ValueError(f"latent shape {z.shape} does not match direction shape {unit.shape}")
    values = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return (z + (values - z @ unit) * unit).astype(np.float32)


def _unit(direction: np.ndarray) -> np.ndarray:
    direction = np.asarray(direction, dtype=np.float64)
    norm = np.linalg.norm(direction)
    if direction.ndim != 1 or norm == 0 or not np.isfinite(norm):
        raise ValueError(f"a direction must be a non-zero finite vector (D,), got shape {direction.shape}")
    return direction / norm


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
    normalize it yourself to use it as a slider direction.
    """
    a, b = np.atleast_2d(np.asarray(latents_a, dtype=np.float64)), np.atleast_2d(np.asarray(latents_b, np.float64))
    if a.size == 0 or b.size == 0 or a.shape[1] != b.shape[1]:
        raise ValueError(f"both groups need at least one latent of the same size, got {a.shape} and {b.shape}")
    return (b.mean(axis=0) - a.mean(axis=0)).astype(np.float32)


# ---------------------------------------------------------------- decoding and grids

@torch.no_grad()
def decode_latents(model: torch.nn.Module, z: np.ndarray | torch.Tensor, batch_size: int = 256,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """uint8 (N, H, W, 3) images decoded from latents (N, D) or one latent (D,); grey models are repeated to RGB.

    The model must already be on `device`; it runs in eval mode and its training flag is restored afterwards.
    """
    latents = torch.as_tensor(np.asarray(z, dtype=np.float32)) if not isinstance(z, torch.Tensor) else z.float()
    latents = latents.reshape(1, -1) if latents.ndim == 1 else latents
    was_training = model.training
    model.eval()
    try:
        parts = [_to_uint8_hwc(model.decode(latents[i:i + batch_size].to(device)))
                 for i in range(0, len(latents), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(parts) if parts else np.zeros((0, 1, 1, 3), np.uint8)


def sample_images(model: torch.nn.Module, n: int, seed: int, sampler_kind: str = "prior",
                  fit_images: torch.Tensor | None = None, device: str | torch.device = "cpu") -> np.ndarray:
    """uint8 (n, H, W, 3) random images: latents from trainer.latent.samplers' `sampler_kind`, decoded.

    "gaussian" and "mixture" are fitted to the posterior means of `fit_images` (uint8 (N, C, H, W)). The model
    must already be on `device`.
    """
    from trainer.latent.samplers import make_sampler

    latents = None
    if sampler_kind != "prior" and fit_images is not None:
        latents, _ = encode_dataset(model, fit_images, device=device)
    sampler = make_sampler(sampler_kind, model.latent_dim, latents=latents, seed=seed)
    return decode_latents(model, sampler.sample(n, seed), device=device)


def _to_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    """[0, 1] images (N, C, H, W) -> uint8 (N, H, W, 3); one channel is repeated, an alpha channel dropped."""
    channels = images.shape[1]
    if channels == 1:
        images = images.expand(-1, 3, -1, -1)
    elif channels in (3, 4):
        images = images[:, :3]
    else:
        raise ValueError(f"cannot show images with {channels} channels as RGB; expected 1, 3 or 4")
    return (images.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().contiguous().numpy()


def images_to_grid(images_hwc: np.ndarray, nrow: int, padding: int = 2) -> np.ndarray:
    """uint8 (H, W, 3) grid of uint8 (N, h, w, 3) images, `nrow` images per row, white padding between them."""
    images_hwc = np.asarray(images_hwc)
    if images_hwc.ndim != 4 or len(images_hwc) == 0:
        raise ValueError(f"a grid needs a non-empty (N, H, W, C) image array, got shape {images_hwc.shape}")
    images_hwc = images_hwc[..., :3]            # drop an alpha channel; make_grid repeats a grey one to RGB
    tensor = torch.from_numpy(np.ascontiguousarray(images_hwc, dtype=np.uint8)).permute(0, 3, 1, 2)
    grid = make_grid(tensor, nrow=max(1, int(nrow)), padding=padding, pad_value=255)
    return grid.permute(1, 2, 0).contiguous().numpy()
