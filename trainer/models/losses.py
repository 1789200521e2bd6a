"""Losses: reconstruction (summed per image) and the Gaussian KL term of a VAE."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

RECON_LOSSES = ("mse", "bce", "gaussian")
# Why a loss curve can go below zero, in words a student follows (the Train tab, the guide and the CLI say it).
NEGATIVE_LOSS_EXPLAINED = (
    "Negative losses are normal with the \"gaussian\" reconstruction loss (the photo preset): it is a negative "
    "log-likelihood under a Gaussian whose width the model fits to its own error, and once the reconstructions are "
    "close that width is small, the probability density is above 1 and its negative log below 0. Lower is still "
    "better.")
MIN_LOG_SIGMA = -6.0        # the calibrated decoder's noise level never goes below exp(-6) (~0.0025 of the range)


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Per-image reconstruction loss, summed over pixels and channels; shape (N,).

    `logits` are the decoder's pre-sigmoid outputs, `target` images in [0, 1]. Summing per image (rather than
    averaging per pixel) keeps the loss on the same scale as the summed KL, so beta means the same thing at any
    image size.

    "gaussian" is a calibrated decoder (sigma-VAE, Rybkin et al. 2021): the negative log-likelihood in nats under a
    Gaussian whose one shared standard deviation is the maximum-likelihood one for the batch, sigma^2 = the batch's
    mean squared error. With it beta = 1 is a true ELBO, and the balance between reconstruction and KL follows from
    how well the decoder already fits instead of from a hand-picked weight.
    """
    logits = logits.float()
    target = target.float()
    if kind == "gaussian":
        return gaussian_nll(torch.sigmoid(logits), target)
    if kind == "mse":
        per_pixel = (torch.sigmoid(logits) - target) ** 2
    elif kind == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    else:
        raise ValueError(f"unknown reconstruction loss {kind!r}; choose one of {RECON_LOSSES}")
    return per_pixel.flatten(1).sum(dim=1)


def gaussian_nll(images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image -log N(target | images, sigma^2 I) with the batch's optimal shared sigma; shape (N,)."""
    squared = (images - target) ** 2
    log_sigma = (0.5 * squared.mean().log()).clamp(min=MIN_LOG_SIGMA)
    per_pixel = 0.5 * squared * torch.exp(-2.0 * log_sigma) + log_sigma + 0.5 * math.log(2.0 * math.pi)
    return per_pixel.flatten(1).sum(dim=1)


def kl_per_dimension(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) for each image and latent dimension; shape (N, D)."""
    mean = mean.float()
    logvar = logvar.float()
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-image KL summed over latent dimensions; shape (N,)."""
    return kl_per_dimension(mean, logvar).sum(dim=1)


def total_correlation(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, dataset_size: int) -> torch.Tensor:
    """Minibatch-weighted estimate of the total correlation KL(q(z) || prod_d q(z_d)) (Chen et al. 2018, beta-TCVAE).

    Penalizing it pushes the aggregate posterior towards independent dimensions, which is what disentanglement
    metrics such as MIG reward; the plain KL term penalizes it only indirectly.
    """
    z, mean, logvar = z.float(), mean.float(), logvar.float()
    batch = z.shape[0]
    # log q(z_i,d | x_j) for every pair (i, j) and dimension d: (batch, batch, D)
    diff = z.unsqueeze(1) - mean.unsqueeze(0)
    log_density = -0.5 * (diff.pow(2) * torch.exp(-logvar.unsqueeze(0)) + logvar.unsqueeze(0) + math.log(2 * math.pi))
    log_norm = math.log(batch * dataset_size)
    log_q_z = torch.logsumexp(log_density.sum(2), dim=1) - log_norm
    log_prod_q_zd = (torch.logsumexp(log_density, dim=1) - log_norm).sum(1)
    return (log_q_z - log_prod_q_zd).mean()
