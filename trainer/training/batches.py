"""What each training step sees: the epoch's order and flips, the noise, factor targets, each rank's share.

All of it is drawn from (seed, epoch) or (seed, step) alone, so a resumed run sees what an uninterrupted one did,
and a torchrun job what one process would.
"""
from __future__ import annotations

import hashlib

import torch

from trainer.config import ConfigError, RunConfig
from trainer.data.datasets import FaceDataset
from trainer.models.networks import FaceModel
from trainer.models.supervision import check_supervisable, gaussianized_targets, labeled_mask
from trainer.training.distributed import DistContext


def check_batch_splits(batch_size: int, world_size: int) -> None:
    """The batch is the global one: refuse one that does not split evenly over the processes."""
    if batch_size % world_size:
        suggestion = max(world_size, round(batch_size / world_size) * world_size)
        raise ConfigError(f"batch size {batch_size} is the global batch and must split evenly over the "
                          f"{world_size} processes: use a multiple of {world_size} (e.g. {suggestion})")


def epoch_order(seed: int, epoch: int, count: int, hflip: bool,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The epoch's shuffled order of `count` images and, with hflip, which of them to flip."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(count, generator=generator)
    flips = torch.rand(count, generator=generator) < 0.5 if hflip else None
    return order.to(device), (flips.to(device) if flips is not None else None)


def rank_indices(order: torch.Tensor, batch_index: int, batch_size: int, dist: DistContext) -> torch.Tensor:
    """This rank's share of global batch `batch_index`. Every rank computes the same global order, so this is
    what a DistributedSampler with set_epoch gives, with the batch (not the epoch) split over ranks: the global
    batch and its order stay the same for any number of processes, which makes the result match a single process
    and lets a run resume with another world size."""
    start = batch_index * batch_size
    return order[start:start + batch_size][dist.rank::dist.world_size]


def step_noise(model: FaceModel, seed: int, step: int, batch_size: int, dist: DistContext,
               device: torch.device) -> torch.Tensor | None:
    """This rank's rows of the reparameterization noise for the whole global batch of `step`."""
    if not model.is_variational:
        return None
    generator = torch.Generator().manual_seed(stream_seed("noise", seed, step))
    noise = model.draw_noise(batch_size, generator)
    return noise[dist.rank::dist.world_size].to(device, non_blocking=True)


def factor_targets(data: FaceDataset, config: RunConfig,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(targets (N, F), labeled (N,)) for factor supervision, on `device` (where the batch indices live)."""
    train = config.train
    if train.factor_supervision <= 0:
        return None
    factors = data.train_factors
    check_supervisable(0 if factors is None else factors.shape[1], config.model.latent_dim, data.source,
                       hflip=config.data.hflip)
    targets = torch.from_numpy(gaussianized_targets(factors))
    labeled = torch.from_numpy(labeled_mask(len(factors), train.label_fraction, train.seed))
    return targets.to(device), labeled.to(device)


def stream_seed(stream: str, seed: int, index: int) -> int:
    """A 64-bit generator seed for (stream, seed, index), the same on every machine, process and Python version."""
    digest = hashlib.blake2b(f"{stream}:{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")
