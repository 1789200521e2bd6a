"""What the loop does between training steps: validate on the test split, and the final full evaluation."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.config import TrainConfig
from trainer.data.datasets import FaceDataset
from trainer.deadline import Deadline
from trainer.models.inference import evaluating
from trainer.models.losses import kl_per_dimension, reconstruction_loss
from trainer.models.networks import FaceModel
from trainer.training import device as devices
from trainer.training.control import TrainingControl
from trainer.training.distributed import DistContext
from trainer.training.interruptible import run_interruptibly
from trainer.training.rundir import RunDirectory

VALIDATION_BATCH = 256


@dataclass
class Validation:
    """Mean validation losses per image: loss = recon + beta * kl (the full beta, no warm-up)."""

    loss: float
    recon: float
    kl: float | None                   # None for a plain autoencoder
    kl_per_dim: list[float] | None


def validate(model: FaceModel, test_images: torch.Tensor, train: TrainConfig, device: torch.device,
             precision: str, channels_last: bool, dist: DistContext) -> Validation:
    """The validation losses of `model` on the test images, each rank taking its share, reduced over ranks."""
    test = test_images[dist.rank::dist.world_size]
    sums = torch.zeros(2 + model.config.latent_dim, dtype=torch.float64)
    with evaluating(model):
        for start in range(0, len(test), VALIDATION_BATCH):
            x = devices.to_model_input(test[start:start + VALIDATION_BATCH], device, channels_last)
            with devices.autocast(device, precision):
                out = model(x)
            sums[0] += reconstruction_loss(out.logits, x, train.recon_loss).sum().item()
            if out.logvar is not None:
                sums[2:] += kl_per_dimension(out.mean, out.logvar).sum(0).double().cpu()
    counts = dist.all_reduce_sum(torch.tensor([float(len(test))], dtype=torch.float64))
    sums = dist.all_reduce_sum(sums) / counts.clamp(min=1)
    recon = sums[0].item()
    if not model.is_variational:
        return Validation(loss=recon, recon=recon, kl=None, kl_per_dim=None)
    kl_dims = sums[2:].tolist()
    kl = float(sum(kl_dims))
    return Validation(loss=recon + train.beta * kl, recon=recon, kl=kl, kl_per_dim=kl_dims)


def final_evaluation(run_dir: RunDirectory, data: FaceDataset, device: torch.device, control: TrainingControl,
                     also_update: list[Path], step: int, seconds: float | None = None) -> dict | None:
    """Full metrics and latent statistics of best.pt, stored in eval.json and in the checkpoint (and in
    `also_update`, checkpoints holding the same weights). None when a stop request abandoned it.

    With `seconds` (what a time budget leaves), it is shortened to end within them (fewer images, optional parts
    left out; train.log says what), or skipped when nothing is left."""
    from trainer.evaluation.evaluate import evaluate_checkpoint_file

    if seconds is not None and seconds <= 0:
        run_dir.log_line(f"final evaluation skipped: the time budget is used up; run `vae-train eval "
                         f"{run_dir.best_checkpoint}` to evaluate the model")
        return None
    deadline = Deadline(seconds) if seconds is not None else None
    # A stop request (closing the app) abandons the evaluation at once; the checkpoints are updated atomically.
    started = time.monotonic()
    report = run_interruptibly(
        lambda: evaluate_checkpoint_file(run_dir.best_checkpoint, data, device=device, also_update=also_update,
                                         deadline=deadline),
        should_stop=lambda: control.stop_requested, name="vae-final-eval")
    if report is None:
        run_dir.log_line("final evaluation skipped: stop requested")
        return None
    run_dir.log_line(f"final evaluation took {time.monotonic() - started:.1f} s"
                     + (f" of the {seconds:.1f} s the time budget left" if seconds is not None else ""))
    notes = report.get("notes", [])
    if deadline is not None and notes:
        run_dir.log_line("final evaluation shortened to end within the time budget: " + "; ".join(notes))
    else:
        for note in notes:
            run_dir.log_line(f"final evaluation: {note}")
    run_dir.write_json("eval.json", report)
    run_dir.log_metrics({"type": "final", "time": time.time(), "step": step, **report})
    return report
