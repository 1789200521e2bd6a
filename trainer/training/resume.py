"""Resuming a run: its stored config, and restoring the model, optimizer, scheduler and random state."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from trainer.config import ConfigError, DataConfig, RunConfig
from trainer.training.checkpoint import CheckpointError, read_checkpoint
from trainer.training.optimization import keep_optimizer_kernel
from trainer.training.rundir import RunDirectory


@dataclass
class RestoredState:
    """Where the restored run stands."""

    step: int
    best_val: float
    best_step: int | None


def resume_config(run_dir: Path | str, **train_overrides) -> RunConfig:
    """The config stored in a run's last checkpoint, with training fields overridden (e.g. epochs=40)."""
    payload = read_checkpoint(RunDirectory.open(run_dir).last_checkpoint)
    config = RunConfig.from_dict(payload["config"])
    config.train = replace(config.train, **{k: v for k, v in train_overrides.items() if v is not None})
    return config


def restore_training_state(path: Path, config: RunConfig, model: torch.nn.Module,
                           optimizer: torch.optim.Optimizer, scheduler, lr_factor: Callable[[int], float],
                           log: Callable[[str], None] | None) -> RestoredState:
    """Load last.pt into the model, optimizer and scheduler, at this session's learning rate; `log` (rank 0's
    train.log) hears which training settings the resume changed."""
    payload = read_checkpoint(path)
    for key in ("optimizer_state", "scheduler_state", "step"):
        if key not in payload:
            raise CheckpointError(path, f"has no {key.replace('_', ' ')} (it may have been exported for "
                                        f"inference), so training cannot resume from it; start a new run")
    check_resume_changes(path, RunConfig.from_dict(payload["config"]), config, log)
    model.load_state_dict(payload["model_state"])
    try:
        keep_optimizer_kernel(optimizer, lambda: optimizer.load_state_dict(payload["optimizer_state"]))
        scheduler.load_state_dict(payload["scheduler_state"])
    except (ValueError, KeyError, TypeError, RuntimeError) as error:
        raise CheckpointError(path, f"its optimizer state does not fit the model ({error}); "
                                    f"training cannot resume from it") from None
    lr = config.train.lr
    # The scheduler's state holds the learning rate of the earlier session; a resume may change it.
    scheduler.base_lrs = [lr for _ in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["initial_lr"] = lr
    step = int(payload["step"])
    rng = payload.get("rng_state", {})
    if "torch" in rng:
        torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    for group in optimizer.param_groups:      # this session's lr at the restored step
        group["lr"] = lr * lr_factor(step)
    return RestoredState(step=step, best_val=float(payload.get("best_val_loss", math.inf)),
                         best_step=payload.get("best_step"))


def rng_state() -> dict:
    """The random state a checkpoint keeps, so a resumed run draws what an uninterrupted one would."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def check_resume_changes(path: Path, stored: RunConfig, config: RunConfig,
                         log: Callable[[str], None] | None) -> None:
    """Refuse a resume that changes the model or the data; log the training settings that changed."""
    if stored.model != config.model:
        raise ConfigError(f"{path}: the model settings differ from the run's; a resume cannot change the "
                          f"model's shape (start a new run instead)")
    if not same_data(stored.data, config.data):
        raise ConfigError(f"{path}: the data settings differ from the run's; a resume must train on the "
                          f"same data (start a new run instead)")
    if log is None:
        return
    for name, before in stored.train.__dict__.items():
        after = getattr(config.train, name)
        if after != before and name not in ("run_name", "runs_dir"):
            log(f"resume: {name} {before} -> {after}")


def same_data(a: DataConfig, b: DataConfig) -> bool:
    """Whether two DataConfigs name the same images (where their cache lives does not matter)."""
    def key(config: DataConfig) -> DataConfig:
        source = config.source if config.is_synthetic else str(Path(config.source).expanduser().resolve())
        return replace(config, source=source, cache_dir=None)
    return key(a) == key(b)
