"""The one training loop. The CLI, the GUI worker and torchrun all call `train()`.

It reports through an events callback and obeys a TrainingControl (pause / resume / stop between steps). The loop
emits, sinks write: the only files it writes itself are the checkpoints (through trainer.training.checkpoint) in the
run folder it creates and locks; config.json, train.log, metrics.jsonl/.csv, eval.json and the prediction grids are
written from its events by a RunDirectorySink (trainer.training.rundir_sink), as TensorBoard's logs are by theirs.
The caller's RunConfig is left as it was: the run's final name (a "-2" added to a taken one) is in the RunResult.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from trainer.errors import Cancelled
from trainer.training import device as devices
from trainer.training.budget import REPLAN_EVERY_STEPS, TimeBudget, count_evaluations
from trainer.config import ConfigError, RunConfig
from trainer.data.datasets import FaceDataset, load_dataset
from trainer.models.networks import FaceModel, build_model
from trainer.models.objective import compute_objective
from trainer.training.batches import check_batch_splits, epoch_order, factor_targets, rank_indices, step_noise
from trainer.training.checkpoint import CheckpointError, make_payload, save_checkpoint
from trainer.training.control import TrainingControl
from trainer.training.distributed import SINGLE_PROCESS, DistContext
from trainer.training.events import (CheckpointSaved, DataProgress, EvalMetrics, EventSink, FinalEvaluationDone,
                                     FinalEvaluationStarted, RunFinished, RunNote, RunStarted, StepMetrics, both)
from trainer.training.optimization import ScheduleProgress, lr_factor, make_optimizer, wrap_model
from trainer.training.previews import PreviewSet
from trainer.training.resume import restore_training_state, resume_config, rng_state
from trainer.training.rundir import RunDirectory, check_runs_dir
from trainer.training.rundir_sink import RunDirectorySink
from trainer.training.throughput import Throughput
from trainer.training.validation import final_evaluation, validate

__all__ = ["NonFiniteLossError", "RunResult", "resume_config", "train"]   # resume_config: callers import it here


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

    @property
    def run_name(self) -> str:
        """The run folder's name: the configured one, or the automatic one, with "-2"... when it was taken."""
        return self.run_dir.name


def train(config: RunConfig, events: EventSink | None = None, control: TrainingControl | None = None,
          resume: Path | str | None = None, dist: DistContext = SINGLE_PROCESS,
          dataset: FaceDataset | None = None, run_logs: bool = True) -> RunResult:
    """Train a model as `config` says; with `resume`, continue the run in that run directory.

    The run's logs are written by a RunDirectorySink that hears the events before `events` does; with
    run_logs=False none are (the checkpoints still are). `config` itself is not changed."""
    sink = events or (lambda event: None)
    run = _TrainingRun(config, both(RunDirectorySink(), sink) if run_logs else sink, control or TrainingControl(),
                       dist)
    try:
        run.setup(dataset, Path(resume) if resume else None)
        return run.execute()
    finally:
        run.release()


class _TrainingRun:
    def __init__(self, config: RunConfig, emit: EventSink, control: TrainingControl, dist: DistContext):
        config.validate()
        check_batch_splits(config.train.batch_size, dist.world_size)
        self.config, self.emit, self.control, self.dist = config, emit, control, dist
        self.train_config = config.train
        # The budget's clock starts here, so data loading and model building count against it too.
        self.budget = (TimeBudget(self.train_config.time_budget_minutes, final_eval=self.train_config.final_eval)
                       if self.train_config.time_budget_minutes > 0 else None)
        self.step = 0
        self.best_val = math.inf
        self.best_step = None
        self.last_saved_step = None
        self.validated_step = None
        self.run_dir: RunDirectory | None = None
        self.setup_notes: list[str] = []         # train.log lines found before RunStarted, emitted after it

    # ------------------------------------------------------------ setup
    def setup(self, dataset: FaceDataset | None, resume: Path | None) -> None:
        train_config = self.train_config
        if self.budget is not None and train_config.final_eval:
            from trainer.evaluation.evaluate import import_evaluation_modules
            import_evaluation_modules()            # now, where the budget's plan sees the time it takes
        if train_config.threads > 0:
            torch.set_num_threads(train_config.threads)
        # Under torchrun each process drives GPU number LOCAL_RANK (or the CPU).
        self.device = (devices.resolve_rank_device(train_config.device, self.dist.local_rank) if self.dist.enabled
                       else devices.resolve_device(train_config.device))
        devices.tune_backends(self.device)
        self.precision = devices.resolve_precision(train_config.precision, self.device)
        self.channels_last = devices.resolve_channels_last(train_config.channels_last, self.device)
        if self.dist.is_main:       # a bad output location fails now, not after the data has loaded
            if resume:
                self.run_dir = RunDirectory.open(resume)
                self.run_dir.lock()
            else:
                check_runs_dir(train_config.runs_dir)
        self.data = dataset if dataset is not None else self._load_data()
        world = self.dist.world_size
        # The batch is the global one (split over the processes); a data set smaller than one batch gets the
        # largest batch that still splits evenly.
        self.batch_size = min(train_config.batch_size, len(self.data.train)) // world * world
        if self.batch_size == 0:
            raise ConfigError(f"the training set has {len(self.data.train)} images; each of the {world} "
                              f"process(es) needs at least one per batch")
        self.train_images = devices.TrainImages(self.data.train, self.device)
        self.factor_targets = factor_targets(self.data, self.config, self.train_images.index_device)
        self.steps_per_epoch = max(1, len(self.data.train) // self.batch_size)
        self.total_steps = train_config.epochs * self.steps_per_epoch
        if train_config.max_steps:
            self.total_steps = min(self.total_steps, train_config.max_steps)
        self.step_limit = self.total_steps          # a time budget plans within this limit

        torch.manual_seed(train_config.seed)
        self.model: FaceModel = build_model(self.config.model).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model, train_config)
        self.progress = ScheduleProgress(self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.previews = PreviewSet.create(self.data.test, self.config.model.latent_dim, train_config.n_preview,
                                          train_config.n_samples, seed=train_config.seed)
        self._stop_before_creating("preparing the run")
        if resume:
            self.run_dir = self.run_dir or RunDirectory.open(resume)
        else:
            self.run_dir = self._create_run_dir()
        if resume:
            self._restore(self.run_dir.last_checkpoint)
        self.train_model = wrap_model(self.model, self.dist, self.device, train_config.compile)
        self.setup_notes.append(f"{'resumed' if resume else 'started'} at step {self.step}: "
                                f"{self.data.describe()}; {self.model.parameter_count():,} parameters; "
                                f"device {self.device}, {self.precision}"
                                + (f"; {self.dist.world_size} processes" if self.dist.enabled else "")
                                + ("; training images on the GPU" if self.train_images.placement == "gpu" else ""))

    def _load_data(self) -> FaceDataset:
        """Each node's first process builds the data cache while the node's other processes wait, then read it."""
        builds_cache = self.dist.local_rank == 0
        if not builds_cache:
            self.dist.barrier()
        # A stop request (Ctrl-C, SIGTERM, the Stop button) ends a long load at once, creating nothing (Cancelled).
        data = load_dataset(self.config.data, should_stop=lambda: self.control.stop_requested,
                            progress=self._data_progress if self.dist.is_main else None)
        if builds_cache:
            self.dist.barrier()
        self._stop_before_creating("loading the data")
        return data

    def _stop_before_creating(self, what: str) -> None:
        """A stop asked before the first step (while the data loaded, the model was built) creates nothing: no run
        folder, no step-0 checkpoint. (Under torchrun the ranks agree on a stop in the loop instead.)"""
        if self.control.stop_requested and not self.dist.enabled:
            raise Cancelled(what)

    def _data_progress(self, done: int, total: int, what: str) -> None:
        self.emit(DataProgress(done=done, total=total, what=what))

    def _create_run_dir(self) -> RunDirectory:
        name = self.train_config.run_name or f"{self.config.model.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
        created = None
        if self.dist.is_main:
            created = RunDirectory.create(self.train_config.runs_dir, name)
            created.lock()
            name = created.path.name
        # Rank 0 may have added "-2" to a taken name, and another rank's clock may read another second.
        name = self.dist.broadcast_object(name)
        self.config = replace(self.config, train=replace(self.train_config, run_name=name))   # the caller's is kept
        self.train_config = self.config.train
        return created or RunDirectory(Path(self.train_config.runs_dir) / name)

    def release(self) -> None:
        """Let other processes open the run again (the OS would also drop the lock when this process ends)."""
        if self.run_dir is not None:
            self.run_dir.unlock()

    def _lr_factor(self, step: int) -> float:
        return lr_factor(self.train_config.schedule, self.progress.at(step))

    def _restore(self, path: Path) -> None:
        restored = restore_training_state(path, self.config, self.model, self.optimizer, self.scheduler,
                                          self._lr_factor, self.setup_notes.append)
        self.step = restored.step
        self.last_saved_step = self.step      # last.pt of the earlier session is the last good checkpoint
        self.best_val, self.best_step = restored.best_val, restored.best_step

    # ------------------------------------------------------------ the loop
    def execute(self) -> RunResult:
        self._announce_start()
        try:
            self._run_steps()
        except Cancelled:
            self._save_checkpoint(best=False)
            return self._finish("stopped", f"stopped at step {self.step}; checkpoint saved")
        except NonFiniteLossError as error:
            return self._finish("failed", str(error))
        except BaseException as error:
            self._finish("failed", f"{type(error).__name__}: {error}")
            raise
        final_eval = self._final_evaluation() if self.train_config.final_eval else None
        message = f"finished {self.step} steps"
        if self.budget is not None:
            message += (f" in {self.budget.elapsed() / 60:.2f} of {self.train_config.time_budget_minutes:g} "
                        f"budgeted minutes")
        return self._finish("completed", message, final_eval)

    def _run_steps(self) -> None:
        """Epochs of batches; each step trains on one batch, then does the bookkeeping of _after_step."""
        timer = Throughput()
        self.next_preview = time.monotonic() + self.train_config.preview_every_s
        while self.step < self.total_steps:
            epoch, first_batch = divmod(self.step, self.steps_per_epoch)
            order = epoch_order(self.train_config.seed, epoch, len(self.data.train), self.config.data.hflip,
                                self.train_images.index_device)
            for batch_index in range(first_batch, self.steps_per_epoch):
                if self.step >= self.total_steps:
                    break
                self._wait_if_paused(timer)
                timer.resume()
                started = time.monotonic()
                stats = self._train_step(order, batch_index)
                self.step += 1
                self._after_step(epoch, stats, timer.tick(self.batch_size), time.monotonic() - started)
            # The epoch (or the run) ends here; the periodic validation may just have run at this very step.
            if self.validated_step != self.step:
                self._evaluate(epoch)

    def _after_step(self, epoch: int, stats: dict, rate: float, seconds: float) -> None:
        """Bookkeeping after a step: the time budget's plan, the step's metrics, a preview and a validation when due."""
        if self.budget is not None:
            self.budget.record_step(seconds)
            self._plan_budget(on_schedule=True)
        self._report_step(epoch, stats, rate)
        self._preview_if_due()
        if self.train_config.eval_every_steps and self.step % self.train_config.eval_every_steps == 0:
            self._evaluate(epoch)

    def _announce_start(self) -> None:
        """RunStarted, then the train.log lines setup found (like every event: reported by rank 0 alone)."""
        if not self.dist.is_main:
            return
        self.emit(RunStarted(run_dir=str(self.run_dir.path), config=self.config.to_dict(),
                             total_steps=self.total_steps, start_step=self.step, n_train=len(self.data.train),
                             n_test=len(self.data.test), param_count=self.model.parameter_count(),
                             device=str(self.device), precision=self.precision, resumed=self.step > 0,
                             steps_per_epoch=self.steps_per_epoch))
        for text in self.setup_notes:
            self.emit(RunNote(text))

    def _note(self, text: str) -> None:
        """A line for train.log (written by the run directory's sink)."""
        if self.dist.is_main:
            self.emit(RunNote(text))

    def _wait_if_paused(self, timer: Throughput) -> None:
        if self.dist.enabled:           # under torchrun, stops are agreed on in _reduce_step_values
            return
        waiting = time.monotonic()
        self.control.pause_point(on_pause=timer.pause)
        if self.budget is not None:
            self.budget.add_pause(time.monotonic() - waiting)     # a paused run's budget waits with it

    def _preview_if_due(self) -> None:
        every = self.train_config.preview_every_s
        if every > 0 and time.monotonic() >= self.next_preview and self.dist.is_main:
            self.emit(self.previews.render(self.model, self.step, self.device))
            self.next_preview = time.monotonic() + every

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
            evals_between=lambda a, b: count_evaluations(a, b, self.steps_per_epoch,
                                                         self.train_config.eval_every_steps))
        # Under torchrun every rank must run the same number of steps: rank 0's plan is the plan.
        self.total_steps = int(self.dist.broadcast_object(plan.total_steps)) if self.dist.enabled else plan.total_steps
        if first:      # the schedule was spread over the step limit until now: plan it over the budget
            self.progress = ScheduleProgress(self.total_steps)
        else:
            self.progress.replan(self.step, self.total_steps)
        if first:
            self._note(
                f"time budget {self.train_config.time_budget_minutes:g} min: {self.total_steps} steps planned "
                f"({budget.step_seconds() * 1000:.0f} ms per step, limit {self.step_limit})")

    def _kl_warmup_steps(self) -> int:
        """Under a time budget the warm-up is capped to a fifth of the planned steps, so it ends in time."""
        if self.budget is None:
            return self.train_config.kl_warmup_steps
        return min(self.train_config.kl_warmup_steps, max(1, self.total_steps // 5))

    def _train_step(self, order, batch_index: int) -> dict[str, float]:
        x, indices = self._batch(order, batch_index)
        noise = step_noise(self.model, self.train_config.seed, self.step, self.batch_size, self.dist, self.device)
        self.train_model.train()
        with devices.autocast(self.device, self.precision):
            out = self.train_model(x, noise=noise)
        objective = compute_objective(out, x, self.train_config, self.step, self._kl_warmup_steps(),
                                      len(self.data.train), self._factor_batch(indices))
        loss, recon, kl = self._checked_losses(objective)
        self.optimizer.zero_grad(set_to_none=True)
        objective.total.backward()
        if self.train_config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.train_config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return {"loss": loss, "recon": recon, "kl": kl, "beta": objective.beta}

    def _batch(self, order, batch_index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's share of the batch as model input (flipped where the epoch's order says), and its
        indices into the training set."""
        perm, flips = order
        indices = rank_indices(perm, batch_index, self.batch_size, self.dist)
        images = self.train_images.batch(indices)
        if flips is not None:
            flip = flips[indices].to(images.device, non_blocking=True).view(-1, 1, 1, 1)
            images = torch.where(flip, images.flip(-1), images)     # no host sync, unlike boolean-mask indexing
        return devices.to_model_input(images, self.device, self.channels_last), indices

    def _factor_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
        """The batch's ground-truth factors when the run supervises them (synthetic data), else None."""
        if self.factor_targets is None:
            return None
        return tuple(t[indices].to(self.device, non_blocking=True) for t in self.factor_targets)

    def _checked_losses(self, objective) -> tuple[float, float, float | None]:
        """The step's loss, reconstruction and KL (None for an AE) as floats (under torchrun the global batch's);
        NonFiniteLossError when the loss is not finite."""
        kl = objective.kl
        values = torch.stack([objective.total.detach(), objective.recon.detach(),
                              kl.detach() if kl is not None else objective.recon.detach() * 0])
        values = self._reduce_step_values(values)
        if not all(math.isfinite(v) for v in values):
            raise NonFiniteLossError(
                f"the loss became {values[0]} at step {self.step + 1} (reconstruction {values[1]:.4g}, KL "
                f"{values[2]:.4g}); the run was stopped and {self._kept_checkpoint()}. "
                f"Try a lower learning rate or beta.")
        return values[0], values[1], values[2] if kl is not None else None

    def _reduce_step_values(self, values: torch.Tensor) -> list[float]:
        """Loss terms as floats: under torchrun averaged over ranks (the global batch's), and in the same all-reduce
        whether any rank was asked to stop, so every rank takes the same decision on a NaN loss and on stopping
        (a rank that left alone would leave the others waiting in the gradient all-reduce)."""
        if not self.dist.enabled:
            return values.tolist()
        stop = torch.tensor([float(self.control.stop_requested)], device=values.device)
        total = self.dist.all_reduce_sum(torch.cat([values.float(), stop]))
        if total[-1].item() > 0:
            raise Cancelled("training")     # before the update: the checkpoint saved holds the state after self.step
        return (total[:-1] / self.dist.world_size).tolist()

    def _report_step(self, epoch: int, stats: dict, rate: float) -> None:
        eta = (self.total_steps - self.step) * self.batch_size / rate if rate > 0 else math.inf
        planned = self.budget is None or self.budget.plan is not None
        if self.budget is not None:      # before its plan, the run still ends by the budget's end
            eta = self.budget.eta_seconds() if planned else max(0.0, self.budget.remaining())
        event = StepMetrics(step=self.step, epoch=epoch, total_steps=self.total_steps, loss=stats["loss"],
                            recon=stats["recon"], kl=stats["kl"], beta=stats["beta"],
                            lr=self.optimizer.param_groups[0]["lr"], images_per_s=rate, eta_s=eta, planned=planned)
        if self.dist.is_main:
            self.emit(event)

    # ------------------------------------------------------------ validation and checkpoints
    def _evaluate(self, epoch: int) -> None:
        started = time.monotonic()
        self._validate_and_save(epoch)
        if self.budget is not None:
            self.budget.record_eval(time.monotonic() - started)
            self._plan_budget()

    def _validate_and_save(self, epoch: int) -> None:
        self.validated_step = self.step
        result = validate(self.model, self.data.test, self.train_config, self.device, self.precision,
                          self.channels_last, self.dist)
        val_loss, recon, kl, kl_dims = result.loss, result.recon, result.kl, result.kl_per_dim
        if not math.isfinite(val_loss):
            raise NonFiniteLossError(f"the validation loss became {val_loss} at step {self.step}; the run was "
                                     f"stopped and {self._kept_checkpoint()}")
        is_best = val_loss < self.best_val
        if is_best:
            self.best_val, self.best_step = val_loss, self.step
        if not self.dist.is_main:
            return
        preview = self.previews.render(self.model, self.step, self.device)
        self.emit(EvalMetrics(step=self.step, epoch=epoch, val_loss=val_loss, val_recon=recon, val_kl=kl,
                              kl_per_dim=kl_dims, is_best=is_best, preview=preview))
        self._save_checkpoint(best=is_best)

    def _budget_state(self) -> dict:
        """What a checkpoint keeps of the time budget: the seconds left, so a resume can train on with them."""
        return {"budget_left_s": max(0.0, self.budget.remaining())} if self.budget is not None else {}

    def _kept_checkpoint(self) -> str:
        if self.last_saved_step is None:
            return "no checkpoint had been saved yet"
        return f"the last good checkpoint (step {self.last_saved_step}) was kept"

    def _save_checkpoint(self, best: bool) -> None:
        if not self.dist.is_main:
            return
        payload = make_payload(self.config, self.model, step=self.step, epoch=self.step // self.steps_per_epoch,
                               optimizer_state=self.optimizer.state_dict(),
                               scheduler_state=self.scheduler.state_dict(), best_val_loss=self.best_val,
                               best_step=self.best_step, rng_state=rng_state(), data_source=self.data.source,
                               steps_per_epoch=self.steps_per_epoch,
                               created=time.strftime("%Y-%m-%dT%H:%M:%S"), **self._budget_state())
        save_checkpoint(self.run_dir.last_checkpoint, payload)
        self.last_saved_step = self.step
        self.emit(CheckpointSaved(step=self.step, path=str(self.run_dir.last_checkpoint), kind="last"))
        if best:
            save_checkpoint(self.run_dir.best_checkpoint, payload)
            self.emit(CheckpointSaved(step=self.step, path=str(self.run_dir.best_checkpoint), kind="best"))

    def _final_evaluation(self) -> dict | None:
        """Full metrics and latent statistics of the best model, stored in eval.json and in the checkpoints.

        The training itself succeeded and its checkpoints are saved: a failing final evaluation is logged, not
        allowed to turn the run into a crash without a "finished" record."""
        if not self.dist.is_main or not self.run_dir.best_checkpoint.exists():
            return None
        # last.pt holds the same weights only when the last evaluation was also the best one.
        same_weights = [self.run_dir.last_checkpoint] if self.best_step == self.last_saved_step else []
        seconds = self.budget.final_eval_allowance() if self.budget is not None else None
        self.emit(FinalEvaluationStarted(step=self.step, seconds=max(0.0, seconds) if seconds is not None else None))
        try:
            report = final_evaluation(self.run_dir.best_checkpoint, self.data, self.device, self.control,
                                      same_weights, self._note, seconds)
        except CheckpointError:
            raise
        except (ValueError, RuntimeError, ArithmeticError) as error:
            self._note(f"final evaluation failed ({type(error).__name__}: {error}); the checkpoints are kept; run "
                       f"`vae-train eval` on best.pt to retry")
            return None
        if report is not None:
            self.emit(FinalEvaluationDone(step=self.step, report=report))
        return report

    def _finish(self, status: str, message: str, final_eval: dict | None = None) -> RunResult:
        best = self.run_dir.best_checkpoint if self.run_dir.best_checkpoint.exists() else None
        last = self.run_dir.last_checkpoint if self.run_dir.last_checkpoint.exists() else None
        if self.dist.is_main:
            self.emit(RunFinished(status=status, message=message, step=self.step, run_dir=str(self.run_dir.path),
                                  best_checkpoint=str(best) if best else None,
                                  last_checkpoint=str(last) if last else None, final_eval=final_eval))
        return RunResult(status=status, message=message, run_dir=self.run_dir.path, step=self.step,
                         best_checkpoint=best, last_checkpoint=last, final_eval=final_eval)
