"""The training objective: reconstruction + beta * KL (beta warmed up), total correlation, factor supervision."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from trainer.config import TrainConfig
from trainer.models.losses import kl_divergence, reconstruction_loss, total_correlation
from trainer.models.networks import ModelOutput
from trainer.models.supervision import factor_alignment_loss


@dataclass
class Objective:
    """The loss of one batch and its parts (means over the batch); `total` is what the optimizer minimises."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor | None            # None for a plain autoencoder
    beta: float                        # the KL weight at this step (after warm-up)


def kl_weight(beta: float, warmup_steps: int, step: int) -> float:
    """beta at training step `step` (0-based): it ramps linearly from 0 over the first `warmup_steps` steps."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, (step + 1) / warmup_steps)


def compute_objective(out: ModelOutput, x: torch.Tensor, train: TrainConfig, step: int, warmup_steps: int,
                      dataset_size: int, factors: tuple[torch.Tensor, torch.Tensor] | None = None) -> Objective:
    """The objective of the model's output `out` for the batch `x`.

    warmup_steps: the KL warm-up actually used (a time budget may shorten train.kl_warmup_steps). dataset_size:
    the training set's size, for the total-correlation estimate. factors: (targets, labeled) of the batch's
    images, for factor supervision.
    """
    beta = kl_weight(train.beta, warmup_steps, step)
    recon = reconstruction_loss(out.logits, x, train.recon_loss).mean()
    kl = kl_divergence(out.mean, out.logvar).mean() if out.logvar is not None else None
    total = recon + beta * kl if kl is not None else recon
    if kl is not None and train.tc_weight > 0:
        warm = beta / train.beta if train.beta > 0 else 1.0       # the TC term warms up with the KL term
        total = total + warm * train.tc_weight * total_correlation(out.z, out.mean, out.logvar, dataset_size)
    if factors is not None:
        targets, labeled = factors
        total = total + train.factor_supervision * factor_alignment_loss(out.mean, targets, labeled)
    return Objective(total=total, recon=recon, kl=kl, beta=beta)
