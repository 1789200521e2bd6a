"""The optimizer, the learning-rate schedule, and the model as it is trained (DDP, torch.compile)."""
from __future__ import annotations

import math

import torch

from trainer.config import TrainConfig
from trainer.training.distributed import DistContext

FINAL_LR_FRACTION = 0.05       # the cosine schedule decays to this share of lr


def make_optimizer(model: torch.nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if train.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """The learning rate at `step` as a share of lr."""
    if schedule == "constant":
        return 1.0
    progress = min(1.0, step / max(1, total_steps))
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1.0 + math.cos(math.pi * progress))


def wrap_model(model: torch.nn.Module, dist: DistContext, device: torch.device, compile: bool) -> torch.nn.Module:
    """The module the training step calls: DDP under torchrun, compiled when asked; `model` itself is saved."""
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel
        ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    if compile:
        model = torch.compile(model)
    return model
