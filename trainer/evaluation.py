"""Glue between checkpoints, data sets and the metrics: `vae-train eval` and the end of every training run use it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch

from .checkpoint import LoadedCheckpoint, load_checkpoint, update_checkpoint
from .data import FaceDataset

STATS_MAX_IMAGES = 5000      # enough for stable latent statistics, quick on a CPU


def evaluate_loaded(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu") -> dict:
    """The metrics report (trainer.metrics.EvalReport.to_dict()) on the data set's test split."""
    from .metrics import evaluate

    model = checkpoint.model.to(device)
    try:
        report = evaluate(model, dataset.test, factors=dataset.test_factors,
                          factor_names=dataset.factor_names or None,
                          categorical=dataset.factor_categorical or None,
                          recon_loss=checkpoint.config.train.recon_loss, device=device)
    finally:
        checkpoint.model.to("cpu")
    result = report.to_dict()
    result["data"] = dataset.source
    result["step"] = checkpoint.step
    return result


def latent_stats_for(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu"):
    """LatentStats of the test split (factors included on synthetic data); None with fewer than 2 test images,
    where spreads and directions are undefined."""
    from .latent import compute_latent_stats, encode_dataset

    if len(dataset.test) < 2:
        return None
    images = dataset.test[:STATS_MAX_IMAGES]
    factors = dataset.test_factors[:STATS_MAX_IMAGES] if dataset.test_factors is not None else None
    model = checkpoint.model.to(device)
    try:
        means, logvars = encode_dataset(model, images, device=device)
    finally:
        checkpoint.model.to("cpu")
    return compute_latent_stats(means, logvars, factors=factors, factor_names=dataset.factor_names or None,
                                categorical=dataset.factor_categorical or None)


def evaluate_checkpoint_file(path: Path | str, dataset: FaceDataset, device: str | torch.device = "cpu",
                             also_update: Iterable[Path | str] = (), store: bool = True) -> dict:
    """Evaluate a checkpoint and its latent statistics. With `store`, write them into it (and `also_update`): the
    training loop does so for the checkpoints it just wrote. Without, they go to the derived-results cache
    (trainer.derived), so reading the checkpoint leaves the file unchanged."""
    from .derived import store_derived

    checkpoint = load_checkpoint(path)
    report = evaluate_loaded(checkpoint, dataset, device)
    stats = latent_stats_for(checkpoint, dataset, device)
    stats = stats.to_dict() if stats is not None else None
    if stats is None:
        report["notes"] = [*report.get("notes", []), f"latent statistics skipped: the test split has "
                                                     f"{len(dataset.test)} image; they need at least 2"]
    if store:
        for target in [path, *also_update]:
            if Path(target).exists():
                update_checkpoint(target, eval=report, latent_stats=stats)
    else:
        store_derived(checkpoint.content_hash, eval=report, latent_stats=stats)
    return report
