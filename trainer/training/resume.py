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

MIN_BUDGET_LEFT_S = 6.0           # less is not enough to measure the speed, train and evaluate


@dataclass(frozen=True)
class ResumePoint:
    """Where a run stands, for a person choosing how to continue it."""

    name: str
    step: int
    epoch: int                         # epochs trained
    epochs: int                        # the epochs it was set to train (a limit under a time budget)
    time_budget_minutes: float         # 0: none
    budget_left_s: float | None        # of the time budget; None without one, or from an older checkpoint

    @property
    def can_use_budget_left(self) -> bool:
        return self.budget_left_s is not None and self.budget_left_s >= MIN_BUDGET_LEFT_S


def resume_point(run_dir: Path | str) -> ResumePoint:
    run = RunDirectory.open(run_dir)
    payload = read_checkpoint(run.last_checkpoint)
    train = RunConfig.from_dict(payload["config"]).train
    budget = train.time_budget_minutes
    return ResumePoint(name=run.path.name, step=int(payload.get("step", 0)), epoch=int(payload.get("epoch", 0)),
                       epochs=train.epochs, time_budget_minutes=budget,
                       budget_left_s=budget_left_seconds(run, payload) if budget > 0 else None)


@dataclass
class RestoredState:
    """Where the restored run stands."""

    step: int
    best_val: float
    best_step: int | None


def resume_config(run_dir: Path | str, **train_overrides) -> RunConfig:
    """The config stored in a run's last checkpoint, with training fields overridden (e.g. epochs=40).

    A run with a time budget resumes with what is left of it unless `time_budget_minutes` is given; a run that
    used all of its budget needs a new one (ConfigError)."""
    run = RunDirectory.open(run_dir)
    payload = read_checkpoint(run.last_checkpoint)
    config = RunConfig.from_dict(payload["config"])
    overrides = {k: v for k, v in train_overrides.items() if v is not None}
    budget = config.train.time_budget_minutes
    if budget > 0 and "time_budget_minutes" not in overrides:
        left = budget_left_seconds(run, payload)
        if left is not None and left < MIN_BUDGET_LEFT_S:
            raise ConfigError(f"{run.path.name} has used its {budget:g} min time budget; give a new time budget to "
                              f"train it further (--time-budget MINUTES)")
        if left is not None:
            overrides["time_budget_minutes"] = left / 60
    config.train = replace(config.train, **overrides)
    return config


def budget_left_seconds(run: RunDirectory, payload: dict | None = None) -> float | None:
    """Seconds of the run's time budget not used yet: 0 once the run completed (its final evaluation took the
    rest), else what its last checkpoint kept; None without a budget or from a checkpoint that did not keep it."""
    from trainer.training.rundir import read_metrics

    payload = read_checkpoint(run.last_checkpoint) if payload is None else payload
    left = payload.get("budget_left_s")
    if left is None:
        return None
    finished = [r for r in read_metrics(run.metrics_file) if r.get("type") == "finished"]
    if finished and finished[-1].get("status") == "completed" and finished[-1].get("step") == payload.get("step"):
        return 0.0
    return float(left)


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
