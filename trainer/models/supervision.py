"""Weak factor supervision: pull the first latent dimensions onto the known factors of synthetic faces.

Unsupervised disentanglement is not identifiable in general (Locatello et al. 2019), and on our 16-factor faces a
beta-TCVAE reaches a MIG of about 0.1 within a CPU-sized budget. Our synthetic data knows every face's factors, so a
run may use the labels of a share of its training faces (`label_fraction`) to tie latent dimension k to factor k
("Disentangling Factors of Variation Using Few Labels", Locatello et al. 2020). The rest of the objective is the
usual VAE loss, so the labels only decide which axis carries which factor.

Each factor is mapped to a standard-normal target through its empirical CDF (Gaussianized): the factors are
independent uniforms or categories, so the aggregate posterior of the supervised dimensions then matches the
N(0, I) prior and samples drawn from the prior stay inside what the decoder has seen.
"""
from __future__ import annotations

import numpy as np
import torch

from trainer.config import ConfigError


class SupervisionError(ConfigError):
    """Factor supervision was asked for where it cannot work (no factors, too few latent dimensions)."""


def gaussianized_targets(factors: np.ndarray) -> np.ndarray:
    """float32 (N, F): each factor column through its empirical CDF (mid-ranks, so ties share one value) and the
    standard-normal quantile function. Monotone per column; a uniform factor becomes close to N(0, 1)."""
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or len(factors) == 0:
        raise SupervisionError(f"factors must be a non-empty (N, F) array, got shape {factors.shape}")
    n = len(factors)
    cdf = np.empty_like(factors)
    for column in range(factors.shape[1]):
        ordered = np.sort(factors[:, column])
        below = np.searchsorted(ordered, factors[:, column], side="left")
        up_to = np.searchsorted(ordered, factors[:, column], side="right")
        cdf[:, column] = (below + up_to) / (2.0 * n)        # in (0, 1): mid-rank of the tie group
    return torch.special.ndtri(torch.from_numpy(cdf)).numpy().astype(np.float32)


def labeled_mask(count: int, fraction: float, seed: int) -> np.ndarray:
    """bool (count,): which training faces lend their labels, round(fraction * count) of them, fixed by seed."""
    if not 0.0 <= fraction <= 1.0:
        raise SupervisionError(f"label fraction must be between 0 and 1, got {fraction}")
    chosen = np.random.default_rng(seed).permutation(count)[:round(fraction * count)]
    mask = np.zeros(count, dtype=bool)
    mask[chosen] = True
    return mask


def check_supervisable(factor_count: int, latent_dim: int, source: str, hflip: bool = False) -> None:
    """Raise SupervisionError unless the data has factors, the latent has a dimension for each and the images are
    not mirrored (a flip would contradict the head position, gaze and light labels)."""
    if factor_count == 0:
        raise SupervisionError(f"factor supervision needs ground-truth factors, which only synthetic data has; "
                               f"{source!r} has none. Set the factor supervision weight to 0 for this data.")
    if latent_dim < factor_count:
        raise SupervisionError(f"factor supervision ties one latent dimension to each of the {factor_count} factors, "
                               f"but the latent has only {latent_dim}; use a latent size of at least {factor_count}.")
    if hflip:
        raise SupervisionError("factor supervision cannot be combined with horizontal flips: a mirrored face no "
                               "longer matches its head position, gaze and light labels. Turn off flips.")


def factor_alignment_loss(mean: torch.Tensor, targets: torch.Tensor, labeled: torch.Tensor) -> torch.Tensor:
    """Squared distance of the first F latent means to their targets, summed over dimensions and averaged over the
    whole batch (unlabeled rows add 0), so its weight means the same under any number of processes."""
    supervised = mean[:, :targets.shape[1]].float()
    per_image = (supervised - targets).pow(2).sum(dim=1)
    return (per_image * labeled.to(per_image.dtype)).mean()
