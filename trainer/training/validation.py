"""What the loop does between training steps: validate on the test split, and the final full evaluation."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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


def final_evaluation(best_checkpoint: Path, data: FaceDataset, device: torch.device, control: TrainingControl,
                     also_update: list[Path], note: Callable[[str], None], seconds: float | None = None) -> dict | None:
    """Full metrics and latent statistics of best.pt, stored in the checkpoint (and in `also_update`, checkpoints
    holding the same weights) and returned for eval.json. None when a stop request abandoned it.

    With `seconds` (what a time budget leaves), it is shortened to end within them (fewer images, optional parts
    left out; `note`, a line for train.log, says what), or skipped when nothing is left."""
    from trainer.evaluation.evaluate import evaluate_checkpoint_file

    if seconds is not None and seconds <= 0:
        note(f"final evaluation skipped: the time budget is used up; run `vae-train eval {best_checkpoint}` to "
             f"evaluate the model")
        return None
    deadline = Deadline(seconds) if seconds is not None else None
    # A stop request (closing the app) abandons the evaluation at once; the checkpoints are updated atomically.
    started = time.monotonic()
    report = run_interruptibly(
        lambda: evaluate_checkpoint_file(best_checkpoint, data, device=device, also_update=also_update,
                                         deadline=deadline),
        should_stop=lambda: control.stop_requested, name="vae-final-eval")
    if report is None:
        note("final evaluation skipped: stop requested")
        return None
    note(f"final evaluation took {time.monotonic() - started:.1f} s"
         + (f" of the {seconds:.1f} s the time budget left" if seconds is not None else ""))
    notes = report.get("notes", [])
    if deadline is not None and notes:
        note("final evaluation shortened to end within the time budget: " + "; ".join(notes))
    else:
        for text in notes:
            note(f"final evaluation: {text}")
    return report
