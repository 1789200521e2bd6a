"""Losses: reconstruction (summed per image) and the Gaussian KL term of a VAE."""
from __future__ import annotations

import torch
import torch.nn.functional as F

RECON_LOSSES = ("mse", "bce")


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Per-image reconstruction loss, summed over pixels and channels; shape (N,).

    `logits` are the decoder's pre-sigmoid outputs, `target` images in [0, 1]. Summing per image (rather than
    averaging per pixel) keeps the loss on the same scale as the summed KL, so beta means the same thing at any
    image size.
    """
    logits = logits.float()
    target = target.float()
    if kind == "mse":
        per_pixel = (torch.sigmoid(logits) - target) ** 2
    elif kind == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    else:
        raise ValueError(f"unknown reconstruction loss {kind!r}; choose one of {RECON_LOSSES}")
    return per_pixel.flatten(1).sum(dim=1)


def kl_per_dimension(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) for each image and latent dimension; shape (N, D)."""
    mean = mean.float()
    logvar = logvar.float()
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-image KL summed over latent dimensions; shape (N,)."""
    return kl_per_dimension(mean, logvar).sum(dim=1)
