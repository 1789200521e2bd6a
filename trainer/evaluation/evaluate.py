"""Glue between checkpoints, data sets and the metrics: `vae-train eval` and the end of every training run use it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from trainer.training.checkpoint import LoadedCheckpoint, load_checkpoint, update_checkpoint
from trainer.data.datasets import FaceDataset
from trainer.latent.samplers import SamplerChoice

STATS_MAX_IMAGES = 5000      # enough for stable latent statistics, quick on a CPU


def evaluate_loaded(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu") -> dict:
    """The metrics report (trainer.evaluation.metrics.EvalReport.to_dict()) on the data set's test split."""
    from trainer.evaluation.metrics import evaluate

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
    choice = sampler_choice_for(checkpoint, dataset, device)
    if choice is not None:
        result["sampler"] = choice.to_dict()
    return result


def sampler_choice_for(checkpoint: LoadedCheckpoint, dataset: FaceDataset,
                       device: str | torch.device = "cpu") -> "SamplerChoice | None":
    """Which sampler draws this model's faces by default (see trainer.latent.samplers.choose_sampler); None when the data
    set is too small to fit one (fewer than 2 training or 1 test image)."""
    from trainer.latent.codec import encode_images
    from trainer.latent.samplers import SamplerError, choose_sampler

    if len(dataset.train) < 2 or len(dataset.test) < 1:
        return None
    model = checkpoint.model.to(device)
    try:
        train_means, _ = encode_images(model, dataset.train[:STATS_MAX_IMAGES], device=device)
        test_means, _ = encode_images(model, dataset.test[:STATS_MAX_IMAGES], device=device)
    finally:
        checkpoint.model.to("cpu")
    try:
        return choose_sampler(train_means, test_means, is_variational=checkpoint.model.is_variational)
    except (SamplerError, ValueError, np.linalg.LinAlgError):     # degenerate codes (a diverged model)
        return None


def latent_stats_for(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu"):
    """LatentStats of the test split (factors included on synthetic data); None with fewer than 2 test images,
    where spreads and directions are undefined."""
    from trainer.latent.codec import encode_images
    from trainer.latent.stats import compute_latent_stats

    if len(dataset.test) < 2:
        return None
    images = dataset.test[:STATS_MAX_IMAGES]
    factors = dataset.test_factors[:STATS_MAX_IMAGES] if dataset.test_factors is not None else None
    model = checkpoint.model.to(device)
    try:
        means, logvars = encode_images(model, images, device=device)
    finally:
        checkpoint.model.to("cpu")
    return compute_latent_stats(means, logvars, factors=factors, factor_names=dataset.factor_names or None,
                                categorical=dataset.factor_categorical or None)


def evaluate_checkpoint_file(path: Path | str, dataset: FaceDataset, device: str | torch.device = "cpu",
                             also_update: Iterable[Path | str] = (), store: bool = True, faces: bool = False) -> dict:
    """Evaluate a checkpoint and its latent statistics. With `store`, write them into it (and `also_update`): the
    training loop does so for the checkpoints it just wrote. Without, they go to the derived-results cache
    (trainer.data.derived), so reading the checkpoint leaves the file unchanged.

    With `faces`, the report also holds "faces": face_metrics_for() (needs the faces extra)."""
    from trainer.data.derived import store_derived

    checkpoint = load_checkpoint(path)
    report = evaluate_loaded(checkpoint, dataset, device)
    if faces:      # of the samples a user sees by default: from the sampler the evaluation chose
        chosen = SamplerChoice.from_dict(report.get("sampler"))
        report["faces"] = face_metrics_for(checkpoint, dataset, device,
                                           sampler=chosen.default if chosen is not None else FACE_SAMPLER)
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


FACE_SAMPLER = "gaussian"    # when no sampler was chosen: a Gaussian fitted to encoded training images


def face_metrics_for(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu",
                     sampler: str = FACE_SAMPLER, seed: int = 0, max_images: int | None = None) -> dict:
    """trainer.evaluation.face_metrics.face_report() of the checkpoint's test reconstructions and random samples.

    Raises FaceMetricsUnavailable without the faces extra. Falls back to prior samples when the sampler cannot
    be fitted (too few training images, NaN codes). At most `max_images` per set (default FACE_IMAGES).
    """
    from trainer.evaluation.face_metrics import FACE_IMAGES, evenly_spaced, face_report
    from trainer.latent.codec import decode_latents, encode_images
    from trainer.latent.samplers import SamplerError, sample_images
    from trainer.evaluation.sample_quality import FIT_IMAGES

    max_images = max_images or FACE_IMAGES
    test = evenly_spaced(dataset.test, max_images)
    model = checkpoint.model.to(device)
    try:
        codes, _ = encode_images(model, test, device=device)
        recons = decode_latents(model, codes, batch_size=256, exact=True)
        try:
            samples = sample_images(model, len(test), seed, sampler, evenly_spaced(dataset.train, FIT_IMAGES))
        except SamplerError:
            sampler = "prior"
            samples = sample_images(model, len(test), seed, sampler)
    finally:
        checkpoint.model.to("cpu")
    return {**face_report(_nchw(recons), _nchw(samples), test, dataset.train, max_images=max_images),
            "sampler": sampler}


def _nchw(images_hwc) -> torch.Tensor:
    """decode_latents' uint8 (N, H, W, 3) arrays in the data set's (N, 3, H, W) layout."""
    return torch.from_numpy(images_hwc).permute(0, 3, 1, 2)
