"""The optimizer, the learning-rate schedule, and the model as it is trained (DDP, torch.compile)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from trainer.config import TrainConfig
from trainer.training.distributed import DistContext

FINAL_LR_FRACTION = 0.05       # the cosine schedule decays to this share of lr


def make_optimizer(model: torch.nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW with the fused kernel where torch has one for the device (one pass over all parameters
    instead of a dozen element-wise passes: 4% of the photo step on a CPU), else torch's default (foreach)."""
    cls = torch.optim.AdamW if train.optimizer == "adamw" else torch.optim.Adam
    params = list(model.parameters())
    try:
        return cls(params, lr=train.lr, weight_decay=train.weight_decay, fused=True)
    except (RuntimeError, ValueError):        # a device or dtype without a fused kernel
        return cls(params, lr=train.lr, weight_decay=train.weight_decay)


def keep_optimizer_kernel(optimizer: torch.optim.Optimizer, load: Callable[[], None]) -> None:
    """Run `load` (optimizer.load_state_dict) but keep this session's kernel choice (fused or foreach): a state
    saved by a run without the fused kernel would otherwise switch it off for the rest of the run."""
    kernel = [{key: group.get(key) for key in ("fused", "foreach")} for group in optimizer.param_groups]
    load()
    for group, chosen in zip(optimizer.param_groups, kernel):
        group.update(chosen)
        if not chosen["fused"]:
            continue
        for param in group["params"]:       # the fused kernel wants its step counter on the parameter's device
            state = optimizer.state.get(param, {})
            if torch.is_tensor(state.get("step")):
                state["step"] = state["step"].to(device=param.device, dtype=torch.float32)


class ScheduleProgress:
    """How far the run is through its learning-rate schedule: 0 at the start, 1 at the planned last step.

    A time budget re-plans the total step count as it measures the machine. Progress is then kept where it is and
    the rest of the schedule is spread over the steps now left, so the learning rate never jumps back up when a
    slow start had planned too few steps (nor drops when a machine slows down); it still ends at the plan's end."""

    def __init__(self, total_steps: int):
        self.total_steps = total_steps
        self.anchor_step = 0
        self.anchor_progress = 0.0

    def at(self, step: int) -> float:
        left = self.total_steps - self.anchor_step
        if left <= 0:
            return 1.0
        return min(1.0, self.anchor_progress + (1.0 - self.anchor_progress) * (step - self.anchor_step) / left)

    def replan(self, step: int, total_steps: int) -> None:
        """The plan now ends at `total_steps` (>= step); the progress at `step` stays as it is."""
        if total_steps != self.total_steps:
            self.anchor_progress, self.anchor_step = self.at(step), step
            self.total_steps = total_steps


def lr_factor(schedule: str, progress: float) -> float:
    """The learning rate at this schedule progress (0-1) as a share of lr."""
    if schedule == "constant":
        return 1.0
    progress = min(1.0, max(0.0, progress))
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
