"""Glue between checkpoints, data sets and the metrics: `vae-train eval` and the end of every training run use it."""
from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from trainer.deadline import Deadline, run_chunks, spread_order
from trainer.training.checkpoint import LoadedCheckpoint, load_checkpoint, update_checkpoint
from trainer.data.datasets import FaceDataset
from trainer.latent.samplers import SamplerChoice

STATS_MAX_IMAGES = 5000      # enough for stable latent statistics, quick on a CPU
# Under a deadline (a run's time budget) the parts share what is left: the metrics may take this share of it, the
# sampler choice this share of what the metrics leave, the latent statistics the rest; a part that ends early
# leaves its time to the next. Writing the results into the checkpoints is kept aside first.
METRICS_SHARE = 0.5
SAMPLER_SHARE = 0.6
TRAIN_CODES_SHARE, TEST_CODES_SHARE = 0.5, 0.3   # of the sampler choice's time: encoding, then fitting the rest
WRITE_PER_READ = 2.0         # writing and fsyncing a checkpoint: 1.5x the time loading it took (measured), and a margin
# What the evaluation imports as it goes; on a busy 2-core machine SciPy and scikit-learn took 6 s to import.
EVALUATION_IMPORTS = ("trainer.evaluation.metrics", "trainer.latent.samplers", "trainer.latent.flow",
                      "trainer.latent.stats", "scipy.stats",
                      "scipy.special", "sklearn.mixture", "sklearn.exceptions", "threadpoolctl")


def import_evaluation_modules() -> None:
    """Import what the final evaluation will need now: a run with a time budget does so at its start, where the
    plan sees the time it takes, rather than inside the final evaluation's share of the budget."""
    for name in EVALUATION_IMPORTS:
        importlib.import_module(name)


def evaluate_loaded(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu",
                    deadline: Deadline | None = None, fitted: dict | None = None) -> dict:
    """The metrics report (trainer.evaluation.metrics.EvalReport.to_dict()) on the data set's test split.

    With a `deadline`, shortened to end by it; "notes" then say what was left out. `fitted`, when given, receives
    the samplers the choice fitted, by kind (SamplerChoice.fitted)."""
    from trainer.evaluation.metrics import evaluate

    notes: list[str] = []
    model = checkpoint.model.to(device)
    try:
        report = evaluate(model, dataset.test, factors=dataset.test_factors,
                          factor_names=dataset.factor_names or None,
                          categorical=dataset.factor_categorical or None,
                          recon_loss=checkpoint.config.train.recon_loss, device=device,
                          deadline=deadline.part(METRICS_SHARE) if deadline else None)
    finally:
        checkpoint.model.to("cpu")
    if report.n_images < len(dataset.test):
        notes.append(f"metrics on {report.n_images:,} of {len(dataset.test):,} test images")
    result = report.to_dict()
    result["data"] = dataset.source
    result["step"] = checkpoint.step
    choice = sampler_choice_for(checkpoint, dataset, device, deadline.part(SAMPLER_SHARE) if deadline else None,
                                notes)
    if choice is not None:
        result["sampler"] = choice.to_dict()
        if fitted is not None:
            fitted.update(choice.fitted)
    if notes:
        result["notes"] = notes
    return result


def sampler_choice_for(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu",
                       deadline: Deadline | None = None, notes: list[str] | None = None) -> "SamplerChoice | None":
    """Which sampler draws this model's faces by default (see trainer.latent.samplers.choose_sampler); None when the data
    set is too small to fit one (fewer than 2 training or 1 test image), or, with a `deadline`, when there is no
    time for it. What a deadline cut is appended to `notes`."""
    from trainer.latent.samplers import SamplerError, choose_sampler

    notes = [] if notes is None else notes
    if len(dataset.train) < 2 or len(dataset.test) < 1:
        return None
    model = checkpoint.model.to(device)
    try:
        train_means, _ = encode_within(model, dataset.train[:STATS_MAX_IMAGES], device,
                                       deadline.part(TRAIN_CODES_SHARE) if deadline else None, minimum=2)
        test_means, _ = encode_within(model, dataset.test[:STATS_MAX_IMAGES], device,
                                      deadline.part(TEST_CODES_SHARE) if deadline else None, minimum=1)
    finally:
        checkpoint.model.to("cpu")
    if deadline is not None and deadline.left() <= 0:
        notes.append("sampler choice skipped (random faces come from the prior)")
        return None
    if len(train_means) < min(len(dataset.train), STATS_MAX_IMAGES):
        notes.append(f"samplers fitted to {len(train_means):,} training images")
    try:
        choice = choose_sampler(train_means, test_means, is_variational=checkpoint.model.is_variational,
                                deadline=deadline)
    except (SamplerError, ValueError, np.linalg.LinAlgError):     # degenerate codes (a diverged model)
        return None
    if deadline is not None and "mixture" not in choice.log_likelihood and len(train_means) >= 20:
        notes.append("the mixture sampler was left out (no time left to fit it)")
    return choice


def latent_stats_for(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu",
                     deadline: Deadline | None = None, notes: list[str] | None = None):
    """LatentStats of the test split (factors included on synthetic data); None with fewer than 2 test images,
    where spreads and directions are undefined. With a `deadline`, of as many test images as it allows (at
    least 2); `notes` hears when they are fewer."""
    from trainer.latent.stats import compute_latent_stats

    if len(dataset.test) < 2:
        return None
    images = dataset.test[:STATS_MAX_IMAGES]
    model = checkpoint.model.to(device)
    try:
        means, logvars, rows = encode_within(model, images, device, deadline, minimum=2, with_rows=True)
    finally:
        checkpoint.model.to("cpu")
    factors = dataset.test_factors[:STATS_MAX_IMAGES][rows] if dataset.test_factors is not None else None
    if len(means) < len(images) and notes is not None:
        notes.append(f"latent statistics of {len(means):,} of {len(images):,} test images")
    return compute_latent_stats(means, logvars, factors=factors, factor_names=dataset.factor_names or None,
                                categorical=dataset.factor_categorical or None)


def encode_within(model, images: torch.Tensor, device: str | torch.device, deadline: Deadline | None,
                  minimum: int, with_rows: bool = False):
    """Posterior means and log-variances of `images`, all of them without a deadline; with one, of a fair sample
    (trainer.deadline.spread_order) as large as it allows, at least `minimum`. With `with_rows`, also the rows
    encoded (a slice without a deadline, indices with one)."""
    from trainer.latent.codec import ENCODE_BATCH, encode_images

    if deadline is None:
        means, logvars = encode_images(model, images, device=device)
        return (means, logvars, slice(None)) if with_rows else (means, logvars)
    order = spread_order(len(images))
    parts: list[tuple[np.ndarray, np.ndarray | None]] = []
    done = run_chunks(len(images), ENCODE_BATCH,
                      lambda rows: parts.append(encode_images(model, images[torch.from_numpy(order[rows])],
                                                              device=device)),
                      deadline, minimum=minimum)
    means = np.concatenate([m for m, _ in parts]) if parts else np.zeros((0, model.latent_dim), np.float32)
    logvars = np.concatenate([v for _, v in parts]) if parts and parts[0][1] is not None else None
    return (means, logvars, order[:done]) if with_rows else (means, logvars)


def evaluate_checkpoint_file(path: Path | str, dataset: FaceDataset, device: str | torch.device = "cpu",
                             also_update: Iterable[Path | str] = (), store: bool = True, faces: bool = False,
                             memorisation_png: Path | str | None = None, deadline: Deadline | None = None) -> dict:
    """Evaluate a checkpoint and its latent statistics. With `store`, write them into it (and `also_update`): the
    training loop does so for the checkpoints it just wrote. Without, they go to the derived-results cache
    (trainer.data.derived), so reading the checkpoint leaves the file unchanged.

    With `faces`, the report also holds "faces": face_metrics_for() (needs the faces extra). With
    `memorisation_png`, "memorisation": trainer.evaluation.memorisation.memorisation_report(), its figure there.
    With a `deadline` (a run's time budget), everything is shortened to end by it, writing included; the report's
    "notes" say what was shortened."""
    from trainer.data.derived import store_derived

    also_update = list(also_update)
    started = time.monotonic()
    checkpoint = load_checkpoint(path)
    end, writing_s = deadline, 0.0
    if deadline is not None:               # keep time aside to write the results into the checkpoints
        writing_s = WRITE_PER_READ * (1 + len(also_update) if store else 0) * (time.monotonic() - started)
        deadline = Deadline(deadline.left() - writing_s)
    fitted: dict = {}
    report = evaluate_loaded(checkpoint, dataset, device, deadline, fitted=fitted)
    if faces:      # of the samples a user sees by default: from the sampler the evaluation chose
        chosen = SamplerChoice.from_dict(report.get("sampler"))
        report["faces"] = face_metrics_for(checkpoint, dataset, device,
                                           sampler=chosen.default if chosen is not None else FACE_SAMPLER)
    if memorisation_png is not None and len(dataset.train) and len(dataset.test):
        # samples of the sampler a user sees by default, as for the faces
        from trainer.evaluation.memorisation import memorisation_report
        chosen = SamplerChoice.from_dict(report.get("sampler"))
        report["memorisation"] = memorisation_report(checkpoint, dataset, memorisation_png, device=device,
                                                     sampler=chosen.default if chosen is not None else None)
    notes = report.pop("notes", [])
    stats = latent_stats_for(checkpoint, dataset, device, deadline, notes)
    if stats is not None and "flow" in fitted:      # so the explorer need not train the flow again
        stats.flow = fitted["flow"].to_dict()
    stats = stats.to_dict() if stats is not None else None
    if stats is None:
        notes.append(f"latent statistics skipped: the test split has {len(dataset.test)} image; they need at "
                     f"least 2")
    if store and end is not None and not end.allows(writing_s):
        store = False                      # the derived-results cache gives them to whoever opens the file
        notes.append("results kept in the cache, not written into the checkpoints")
    if notes:
        report["notes"] = notes
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
