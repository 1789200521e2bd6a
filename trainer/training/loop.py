"""The one training loop. The CLI, the GUI worker and torchrun all call `train()`.

It reports through an events callback and obeys a TrainingControl (pause / resume / stop between steps).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from trainer.training import device as devices
from trainer.training.budget import REPLAN_EVERY_STEPS, TimeBudget, count_evaluations
from trainer.training.checkpoint import CheckpointError, make_payload, read_checkpoint, save_checkpoint
from trainer.config import ConfigError, RunConfig
from trainer.training.control import StopRequested, TrainingControl
from trainer.data.datasets import FaceDataset, load_dataset
from trainer.training.distributed import SINGLE_PROCESS, DistContext
from trainer.training.interruptible import run_interruptibly
from trainer.training.events import (CheckpointSaved, EvalMetrics, EventSink, Preview, RunFinished, RunStarted, StepMetrics)
from trainer.models.losses import kl_divergence, kl_per_dimension, reconstruction_loss, total_correlation
from trainer.models.networks import FaceModel, build_model
from trainer.training.previews import PreviewSet, save_prediction_grids
from trainer.training.rundir import RunDirectory, check_runs_dir
from trainer.models.supervision import check_supervisable, factor_alignment_loss, gaussianized_targets, labeled_mask


class NonFiniteLossError(Exception):
    """The loss became NaN or infinite; the run stops and the last good checkpoint is kept."""


@dataclass
class RunResult:
    status: str                  # "completed" | "stopped" | "failed"
    message: str
    run_dir: Path
    step: int
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    final_eval: dict | None = None


def train(config: RunConfig, events: EventSink | None = None, control: TrainingControl | None = None,
          resume: Path | str | None = None, dist: DistContext = SINGLE_PROCESS,
          dataset: FaceDataset | None = None) -> RunResult:
    """Train a model as `config` says; with `resume`, continue the run in that run directory."""
    run = _TrainingRun(config, events or (lambda event: None), control or TrainingControl(), dist)
    try:
        run.setup(dataset, Path(resume) if resume else None)
        return run.execute()
    finally:
        run.release()


def resume_config(run_dir: Path | str, **train_overrides) -> RunConfig:
    """The config stored in a run's last checkpoint, with training fields overridden (e.g. epochs=40)."""
    payload = read_checkpoint(RunDirectory.open(run_dir).last_checkpoint)
    config = RunConfig.from_dict(payload["config"])
    config.train = replace(config.train, **{k: v for k, v in train_overrides.items() if v is not None})
    return config


class _TrainingRun:
    def __init__(self, config: RunConfig, emit: EventSink, control: TrainingControl, dist: DistContext):
        config.validate()
        _check_batch_splits(config.train.batch_size, dist.world_size)
        self.config, self.emit, self.control, self.dist = config, emit, control, dist
        self.tc = config.train
        # The budget's clock starts here, so data loading and model building count against it too.
        self.budget = (TimeBudget(self.tc.time_budget_minutes, final_eval=self.tc.final_eval)
                       if self.tc.time_budget_minutes > 0 else None)
        self.step = 0
        self.best_val = math.inf
        self.best_step = None
        self.last_saved_step = None
        self.validated_step = None
        self.run_dir: RunDirectory | None = None

    # ------------------------------------------------------------ setup
    def setup(self, dataset: FaceDataset | None, resume: Path | None) -> None:
        tc = self.tc
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        # Under torchrun each process drives GPU number LOCAL_RANK (or the CPU).
        self.device = (devices.resolve_rank_device(tc.device, self.dist.local_rank) if self.dist.enabled
                       else devices.resolve_device(tc.device))
        devices.tune_backends(self.device)
        self.precision = devices.resolve_precision(tc.precision, self.device)
        self.channels_last = devices.resolve_channels_last(tc.channels_last, self.device)
        if self.dist.is_main:       # a bad output location fails now, not after the data has loaded
            if resume:
                self.run_dir = RunDirectory.open(resume)
                self.run_dir.lock()
            else:
                check_runs_dir(tc.runs_dir)
        self.data = dataset if dataset is not None else self._load_data()
        world = self.dist.world_size
        # The batch is the global one (split over the processes); a data set smaller than one batch gets the
        # largest batch that still splits evenly.
        self.batch_size = min(tc.batch_size, len(self.data.train)) // world * world
        if self.batch_size == 0:
            raise ConfigError(f"the training set has {len(self.data.train)} images; each of the {world} "
                              f"process(es) needs at least one per batch")
        self.train_images = devices.TrainImages(self.data.train, self.device)
        self.factor_targets = self._factor_targets()
        self.steps_per_epoch = max(1, len(self.data.train) // self.batch_size)
        self.total_steps = tc.epochs * self.steps_per_epoch
        if tc.max_steps:
            self.total_steps = min(self.total_steps, tc.max_steps)
        self.step_limit = self.total_steps          # a time budget plans within this limit

        torch.manual_seed(tc.seed)
        self.model: FaceModel = build_model(self.config.model).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = self._make_optimizer()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.previews = PreviewSet.create(self.data.test, self.config.model.latent_dim, tc.n_preview,
                                          tc.n_samples, seed=tc.seed)
        if resume:
            self.run_dir = self.run_dir or RunDirectory.open(resume)
        else:
            self.run_dir = self._create_run_dir()
        if resume:
            self._restore(self.run_dir.last_checkpoint)
        self.train_model = self._wrap_model()
        if self.dist.is_main:
            self.run_dir.write_config(self.config.to_dict())
            self.run_dir.log_line(f"{'resumed' if resume else 'started'} at step {self.step}: "
                                  f"{self.data.describe()}; {self.model.parameter_count():,} parameters; "
                                  f"device {self.device}, {self.precision}"
                                  + (f"; {self.dist.world_size} processes" if self.dist.enabled else "")
                                  + ("; training images on the GPU" if self.train_images.placement == "gpu" else ""))

    def _load_data(self) -> FaceDataset:
        """Each node's first process builds the data cache while the node's other processes wait, then read it."""
        builds_cache = self.dist.local_rank == 0
        if not builds_cache:
            self.dist.barrier()
        data = load_dataset(self.config.data)
        if builds_cache:
            self.dist.barrier()
        return data

    def _factor_targets(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(targets (N, F), labeled (N,)) for factor supervision, on the device the batch indices live on."""
        if self.tc.factor_supervision <= 0:
            return None
        factors = self.data.train_factors
        check_supervisable(0 if factors is None else factors.shape[1], self.config.model.latent_dim, self.data.source,
                           hflip=self.config.data.hflip)
        targets = torch.from_numpy(gaussianized_targets(factors))
        labeled = torch.from_numpy(labeled_mask(len(factors), self.tc.label_fraction, self.tc.seed))
        device = self.train_images.index_device
        return targets.to(device), labeled.to(device)

    def _create_run_dir(self) -> RunDirectory:
        name = self.tc.run_name or f"{self.config.model.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
        created = None
        if self.dist.is_main:
            created = RunDirectory.create(self.tc.runs_dir, name)
            created.lock()
            name = created.path.name
        # Rank 0 may have added "-2" to a taken name, and another rank's clock may read another second.
        name = self.dist.broadcast_object(name)
        self.config.train = replace(self.tc, run_name=name)
        self.tc = self.config.train
        return created or RunDirectory(Path(self.tc.runs_dir) / name)

    def release(self) -> None:
        """Let other processes open the run again (the OS would also drop the lock when this process ends)."""
        if self.run_dir is not None:
            self.run_dir.unlock()

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cls = torch.optim.AdamW if self.tc.optimizer == "adamw" else torch.optim.Adam
        return cls(self.model.parameters(), lr=self.tc.lr, weight_decay=self.tc.weight_decay)

    def _lr_factor(self, step: int) -> float:
        if self.tc.schedule == "constant":
            return 1.0
        progress = min(1.0, step / max(1, self.total_steps))
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))

    def _wrap_model(self) -> torch.nn.Module:
        model = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        if self.tc.compile:
            model = torch.compile(model)
        return model

    def _restore(self, path: Path) -> None:
        payload = read_checkpoint(path)
        for key in ("optimizer_state", "scheduler_state", "step"):
            if key not in payload:
                raise CheckpointError(path, f"has no {key.replace('_', ' ')} (it may have been exported for "
                                            f"inference), so training cannot resume from it; start a new run")
        stored = RunConfig.from_dict(payload["config"])
        self._check_resume_changes(path, stored)
        self.model.load_state_dict(payload["model_state"])
        try:
            self.optimizer.load_state_dict(payload["optimizer_state"])
            self.scheduler.load_state_dict(payload["scheduler_state"])
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            raise CheckpointError(path, f"its optimizer state does not fit the model ({error}); "
                                        f"training cannot resume from it") from None
        # The scheduler's state holds the learning rate of the earlier session; a resume may change it.
        self.scheduler.base_lrs = [self.tc.lr for _ in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["initial_lr"] = self.tc.lr
        self.step = int(payload["step"])
        self.last_saved_step = self.step      # last.pt of the earlier session is the last good checkpoint
        self.best_val = float(payload.get("best_val_loss", math.inf))
        self.best_step = payload.get("best_step")
        rng = payload.get("rng_state", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        for group in self.optimizer.param_groups:      # this session's lr at the restored step
            group["lr"] = self.tc.lr * self._lr_factor(self.step)

    def _check_resume_changes(self, path: Path, stored: RunConfig) -> None:
        """Refuse a resume that changes the model or the data; log the training settings that changed."""
        if stored.model != self.config.model:
            raise ConfigError(f"{path}: the model settings differ from the run's; a resume cannot change the "
                              f"model's shape (start a new run instead)")
        if not _same_data(stored.data, self.config.data):
            raise ConfigError(f"{path}: the data settings differ from the run's; a resume must train on the "
                              f"same data (start a new run instead)")
        if not self.dist.is_main:
            return
        for name, before in stored.train.__dict__.items():
            after = getattr(self.tc, name)
            if after != before and name not in ("run_name", "runs_dir"):
                self.run_dir.log_line(f"resume: {name} {before} -> {after}")

    # ------------------------------------------------------------ the loop
    def execute(self) -> RunResult:
        if self.dist.is_main:          # like every event: reported by rank 0 alone
            self.emit(RunStarted(run_dir=str(self.run_dir.path), config=self.config.to_dict(),
                                 total_steps=self.total_steps, start_step=self.step, n_train=len(self.data.train),
                                 n_test=len(self.data.test), param_count=self.model.parameter_count(),
                                 device=str(self.device), precision=self.precision, resumed=self.step > 0))
        try:
            self._run_steps()
        except StopRequested:
            self._save_checkpoint(best=False)
            return self._finish("stopped", f"stopped at step {self.step}; checkpoint saved")
        except NonFiniteLossError as error:
            return self._finish("failed", str(error))
        except BaseException as error:
            self._finish("failed", f"{type(error).__name__}: {error}")
            raise
        final_eval = self._final_evaluation_or_note() if self.tc.final_eval else None
        message = f"finished {self.step} steps"
        if self.budget is not None:
            message += (f" in {self.budget.elapsed() / 60:.2f} of {self.tc.time_budget_minutes:g} budgeted minutes")
        return self._finish("completed", message, final_eval)

    def _final_evaluation_or_note(self) -> dict | None:
        """The training itself succeeded and its checkpoints are saved: a failing final evaluation is logged,
        not allowed to turn the run into a crash without a "finished" record."""
        try:
            return self._final_evaluation()
        except CheckpointError:
            raise
        except (ValueError, RuntimeError, ArithmeticError) as error:
            if self.dist.is_main:
                self.run_dir.log_line(f"final evaluation failed ({type(error).__name__}: {error}); the checkpoints "
                                      f"are kept; run `vae-train eval` on best.pt to retry")
            return None

    def _run_steps(self) -> None:
        tc = self.tc
        timer = _Throughput()
        next_preview = time.monotonic() + tc.preview_every_s
        while self.step < self.total_steps:
            epoch, offset = divmod(self.step, self.steps_per_epoch)
            order = self._epoch_order(epoch)
            for batch_index in range(offset, self.steps_per_epoch):
                if self.step >= self.total_steps:
                    break
                if not self.dist.enabled:      # under torchrun, stops are agreed on in _reduce_step_values
                    self._wait_if_paused(timer)
                timer.resume()
                started = time.monotonic()
                stats = self._train_step(order, epoch, batch_index)
                self.step += 1
                rate = timer.tick(self.batch_size)
                if self.budget is not None:
                    self.budget.record_step(time.monotonic() - started)
                    self._plan_budget(on_schedule=True)
                self._report_step(epoch, stats, rate)
                if tc.preview_every_s > 0 and time.monotonic() >= next_preview and self.dist.is_main:
                    self.emit(self.previews.render(self.model, self.step, self.device))
                    next_preview = time.monotonic() + tc.preview_every_s
                if tc.eval_every_steps and self.step % tc.eval_every_steps == 0:
                    self._evaluate(epoch)
            # The periodic validation may just have run at this very step (eval_every divides the epoch).
            if (self.step % self.steps_per_epoch == 0 or self.step >= self.total_steps) \
                    and self.validated_step != self.step:
                self._evaluate(epoch)

    def _wait_if_paused(self, timer: "_Throughput") -> None:
        waiting = time.monotonic()
        self.control.checkpoint(on_pause=timer.pause)
        if self.budget is not None:
            self.budget.add_pause(time.monotonic() - waiting)     # a paused run's budget waits with it

    def _plan_budget(self, on_schedule: bool = False) -> None:
        """Fix the total step count to what the time budget allows (see trainer.training.budget)."""
        budget = self.budget
        if budget is None or not budget.can_plan:
            return
        if on_schedule and budget.plan is not None and self.step % REPLAN_EVERY_STEPS:
            return
        first = budget.plan is None
        plan = budget.replan(
            self.step, self.step_limit, n_test=len(self.data.test), batch_size=self.batch_size,
            evals_between=lambda a, b: count_evaluations(a, b, self.steps_per_epoch, self.tc.eval_every_steps))
        # Under torchrun every rank must run the same number of steps: rank 0's plan is the plan.
        self.total_steps = int(self.dist.broadcast_object(plan.total_steps)) if self.dist.enabled else plan.total_steps
        if first and self.dist.is_main:
            self.run_dir.log_line(
                f"time budget {self.tc.time_budget_minutes:g} min: {self.total_steps} steps planned "
                f"({budget.step_seconds() * 1000:.0f} ms per step, limit {self.step_limit})")

    def _kl_warmup_steps(self) -> int:
        """Under a time budget the warm-up is capped to a fifth of the planned steps, so it ends in time."""
        if self.budget is None:
            return self.tc.kl_warmup_steps
        return min(self.tc.kl_warmup_steps, max(1, self.total_steps // 5))

    def _epoch_order(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The epoch's shuffled order and flip mask, from (seed, epoch) alone so a resumed run sees the same."""
        generator = torch.Generator().manual_seed(self.tc.seed * 100_003 + epoch)
        order = torch.randperm(len(self.data.train), generator=generator)
        flips = torch.rand(len(self.data.train), generator=generator) < 0.5 if self.config.data.hflip else None
        device = self.train_images.index_device
        return order.to(device), (flips.to(device) if flips is not None else None)

    def _train_step(self, order, epoch: int, batch_index: int) -> dict[str, float]:
        perm, flips = order
        start = batch_index * self.batch_size
        # This rank's share of the global batch. Every rank computes the same global order from (seed, epoch), so
        # this is what a DistributedSampler with set_epoch gives, with the batch (not the epoch) split over ranks:
        # the global batch and its order stay the same for any number of processes, which makes the result match
        # a single process and lets a run resume with another world size.
        indices = perm[start:start + self.batch_size][self.dist.rank::self.dist.world_size]
        images = self.train_images.batch(indices)
        if flips is not None:
            flip = flips[indices].to(images.device, non_blocking=True).view(-1, 1, 1, 1)
            images = torch.where(flip, images.flip(-1), images)     # no host sync, unlike boolean-mask indexing
        x = devices.to_model_input(images, self.device, self.channels_last)
        noise = self._step_noise()
        self.train_model.train()
        beta = self._beta()
        with devices.autocast(self.device, self.precision):
            out = self.train_model(x, noise=noise)
        recon = reconstruction_loss(out.logits, x, self.tc.recon_loss).mean()
        kl = kl_divergence(out.mean, out.logvar).mean() if out.logvar is not None else None
        loss = recon + beta * kl if kl is not None else recon
        if kl is not None and self.tc.tc_weight > 0:
            warm = beta / self.tc.beta if self.tc.beta > 0 else 1.0
            loss = loss + warm * self.tc.tc_weight * total_correlation(out.z, out.mean, out.logvar,
                                                                        len(self.data.train))
        if self.factor_targets is not None:
            targets, labeled = (t[indices].to(self.device, non_blocking=True) for t in self.factor_targets)
            loss = loss + self.tc.factor_supervision * factor_alignment_loss(out.mean, targets, labeled)
        values = torch.stack([loss.detach(), recon.detach(), kl.detach() if kl is not None else recon.detach() * 0])
        values = self._reduce_step_values(values)
        if not all(math.isfinite(v) for v in values):
            raise NonFiniteLossError(
                f"the loss became {values[0]} at step {self.step + 1} (reconstruction {values[1]:.4g}, KL "
                f"{values[2]:.4g}); the run was stopped and {self._kept_checkpoint()}. "
                f"Try a lower learning rate or beta.")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return {"loss": values[0], "recon": values[1], "kl": values[2] if kl is not None else None, "beta": beta}

    def _step_noise(self) -> torch.Tensor | None:
        """This rank's rows of the reparameterization noise for the whole global batch, drawn from (seed, step)
        alone: a torchrun job draws exactly what one process would, and a resumed run what an uninterrupted one did."""
        if not self.model.is_variational:
            return None
        generator = torch.Generator().manual_seed(_stream_seed("noise", self.tc.seed, self.step))
        noise = self.model.draw_noise(self.batch_size, generator)
        return noise[self.dist.rank::self.dist.world_size].to(self.device, non_blocking=True)

    def _reduce_step_values(self, values: torch.Tensor) -> list[float]:
        """Loss terms as floats: under torchrun averaged over ranks (the global batch's), and in the same all-reduce
        whether any rank was asked to stop, so every rank takes the same decision on a NaN loss and on stopping
        (a rank that left alone would leave the others waiting in the gradient all-reduce)."""
        if not self.dist.enabled:
            return values.tolist()
        stop = torch.tensor([float(self.control.stop_requested)], device=values.device)
        total = self.dist.all_reduce_sum(torch.cat([values.float(), stop]))
        if total[-1].item() > 0:
            raise StopRequested()     # before the update: the checkpoint saved holds the state after self.step
        return (total[:-1] / self.dist.world_size).tolist()

    def _beta(self) -> float:
        warmup = self._kl_warmup_steps()
        if warmup <= 0:
            return self.tc.beta
        return self.tc.beta * min(1.0, (self.step + 1) / warmup)

    def _report_step(self, epoch: int, stats: dict, rate: float) -> None:
        eta = (self.total_steps - self.step) * self.batch_size / rate if rate > 0 else math.inf
        if self.budget is not None and self.budget.eta_seconds() is not None:
            eta = self.budget.eta_seconds()
        event = StepMetrics(step=self.step, epoch=epoch, total_steps=self.total_steps, loss=stats["loss"],
                            recon=stats["recon"], kl=stats["kl"], beta=stats["beta"],
                            lr=self.optimizer.param_groups[0]["lr"], images_per_s=rate, eta_s=eta)
        if not self.dist.is_main:
            return
        self.emit(event)
        if self.step % self.tc.log_every_steps == 0 or self.step == 1:
            self.run_dir.log_metrics({"type": "step", "time": time.time(), **event.__dict__})

    # ------------------------------------------------------------ validation and checkpoints
    @torch.no_grad()
    def _validate(self) -> tuple[float, float, float | None, list[float] | None]:
        """Mean validation reconstruction loss, KL and KL per dimension, reduced over ranks."""
        model = self.model
        model.eval()
        test = self.data.test[self.dist.rank::self.dist.world_size]
        latent = self.config.model.latent_dim
        sums = torch.zeros(2 + latent, dtype=torch.float64)
        for start in range(0, len(test), 256):
            x = devices.to_model_input(test[start:start + 256], self.device, self.channels_last)
            with devices.autocast(self.device, self.precision):
                out = model(x)
            sums[0] += reconstruction_loss(out.logits, x, self.tc.recon_loss).sum().item()
            if out.logvar is not None:
                sums[2:] += kl_per_dimension(out.mean, out.logvar).sum(0).double().cpu()
        counts = self.dist.all_reduce_sum(torch.tensor([float(len(test))], dtype=torch.float64))
        sums = self.dist.all_reduce_sum(sums) / counts.clamp(min=1)
        recon = sums[0].item()
        if not model.is_variational:
            return recon, recon, None, None
        kl_dims = sums[2:].tolist()
        kl = float(sum(kl_dims))
        return recon + self.tc.beta * kl, recon, kl, kl_dims

    def _evaluate(self, epoch: int) -> None:
        started = time.monotonic()
        self._validate_and_save(epoch)
        if self.budget is not None:
            self.budget.record_eval(time.monotonic() - started)
            self._plan_budget()

    def _validate_and_save(self, epoch: int) -> None:
        self.validated_step = self.step
        val_loss, recon, kl, kl_dims = self._validate()
        if not math.isfinite(val_loss):
            raise NonFiniteLossError(f"the validation loss became {val_loss} at step {self.step}; the run was "
                                     f"stopped and {self._kept_checkpoint()}")
        is_best = val_loss < self.best_val
        if is_best:
            self.best_val, self.best_step = val_loss, self.step
        if not self.dist.is_main:
            return
        preview = self.previews.render(self.model, self.step, self.device)
        save_prediction_grids(self.run_dir, preview)
        self.run_dir.log_metrics({"type": "eval", "time": time.time(), "step": self.step, "epoch": epoch,
                                  "val_loss": val_loss, "val_recon": recon, "val_kl": kl, "kl_per_dim": kl_dims,
                                  "is_best": is_best})
        self.run_dir.log_line(f"step {self.step} epoch {epoch + 1}: val loss {val_loss:.4f} "
                              f"(recon {recon:.4f}, KL {kl if kl is not None else 0:.4f}){' best' if is_best else ''}")
        self.emit(EvalMetrics(step=self.step, epoch=epoch, val_loss=val_loss, val_recon=recon, val_kl=kl,
                              kl_per_dim=kl_dims, is_best=is_best, preview=preview))
        self._save_checkpoint(best=is_best)

    def _kept_checkpoint(self) -> str:
        if self.last_saved_step is None:
            return "no checkpoint had been saved yet"
        return f"the last good checkpoint (step {self.last_saved_step}) was kept"

    def _save_checkpoint(self, best: bool) -> None:
        if not self.dist.is_main:
            return
        epoch = self.step // self.steps_per_epoch
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        payload = make_payload(self.config, self.model, step=self.step, epoch=epoch,
                               optimizer_state=self.optimizer.state_dict(),
                               scheduler_state=self.scheduler.state_dict(), best_val_loss=self.best_val,
                               best_step=self.best_step, rng_state=rng, data_source=self.data.source,
                               steps_per_epoch=self.steps_per_epoch,
                               created=time.strftime("%Y-%m-%dT%H:%M:%S"))
        save_checkpoint(self.run_dir.last_checkpoint, payload)
        self.last_saved_step = self.step
        self.emit(CheckpointSaved(step=self.step, path=str(self.run_dir.last_checkpoint), kind="last"))
        if best:
            save_checkpoint(self.run_dir.best_checkpoint, payload)
            self.emit(CheckpointSaved(step=self.step, path=str(self.run_dir.best_checkpoint), kind="best"))

    def _final_evaluation(self) -> dict | None:
        """Full metrics and latent statistics of the best model, stored in eval.json and in the checkpoints."""
        if not self.dist.is_main or not self.run_dir.best_checkpoint.exists():
            return None
        from trainer.evaluation.evaluate import evaluate_checkpoint_file
        # last.pt holds the same weights only when the last evaluation was also the best one.
        same_weights = [self.run_dir.last_checkpoint] if self.best_step == self.last_saved_step else []
        # A stop request (closing the app) abandons the evaluation at once; the checkpoints are updated atomically.
        started = time.monotonic()
        report = run_interruptibly(
            lambda: evaluate_checkpoint_file(self.run_dir.best_checkpoint, self.data, device=self.device,
                                             also_update=same_weights),
            should_stop=lambda: self.control.stop_requested, name="vae-final-eval")
        if report is None:
            self.run_dir.log_line("final evaluation skipped: stop requested")
            return None
        self.run_dir.log_line(f"final evaluation took {time.monotonic() - started:.1f} s")
        for note in report.get("notes", []):
            self.run_dir.log_line(f"final evaluation: {note}")
        self.run_dir.write_json("eval.json", report)
        self.run_dir.log_metrics({"type": "final", "time": time.time(), "step": self.step, **report})
        return report

    def _finish(self, status: str, message: str, final_eval: dict | None = None) -> RunResult:
        best = self.run_dir.best_checkpoint if self.run_dir.best_checkpoint.exists() else None
        last = self.run_dir.last_checkpoint if self.run_dir.last_checkpoint.exists() else None
        if self.dist.is_main:
            try:
                self.run_dir.log_line(f"{status}: {message}")
                self.run_dir.log_metrics({"type": "finished", "time": time.time(), "status": status,
                                          "message": message, "step": self.step})
            except OSError:         # e.g. the disk is full: the error being reported matters more than the log
                pass
            self.emit(RunFinished(status=status, message=message, step=self.step, run_dir=str(self.run_dir.path),
                                  best_checkpoint=str(best) if best else None,
                                  last_checkpoint=str(last) if last else None, final_eval=final_eval))
        return RunResult(status=status, message=message, run_dir=self.run_dir.path, step=self.step,
                         best_checkpoint=best, last_checkpoint=last, final_eval=final_eval)


def _same_data(a, b) -> bool:
    """Whether two DataConfigs name the same images (where their cache lives does not matter)."""
    def key(config):
        source = config.source if config.is_synthetic else str(Path(config.source).expanduser().resolve())
        return replace(config, source=source, cache_dir=None)
    return key(a) == key(b)


def _check_batch_splits(batch_size: int, world_size: int) -> None:
    if batch_size % world_size:
        suggestion = max(world_size, round(batch_size / world_size) * world_size)
        raise ConfigError(f"batch size {batch_size} is the global batch and must split evenly over the "
                          f"{world_size} processes: use a multiple of {world_size} (e.g. {suggestion})")


def _stream_seed(stream: str, seed: int, index: int) -> int:
    """A 64-bit generator seed for (stream, seed, index), the same on every machine, process and Python version."""
    digest = hashlib.blake2b(f"{stream}:{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class _Throughput:
    """Images per second over the recent past, not counting paused time."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self.samples: list[tuple[float, int]] = []
        self.paused_at: float | None = None
        self.offset = 0.0

    def pause(self) -> None:
        self.paused_at = time.monotonic()

    def resume(self) -> None:
        if self.paused_at is not None:
            self.offset += time.monotonic() - self.paused_at
            self.paused_at = None
            self.samples.clear()

    def tick(self, images: int) -> float:
        now = time.monotonic() - self.offset
        self.samples.append((now, images))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window_s:
            self.samples.pop(0)
        if len(self.samples) < 2:
            return 0.0
        elapsed = now - self.samples[0][0]
        return sum(n for _, n in self.samples[1:]) / elapsed if elapsed > 0 else 0.0
