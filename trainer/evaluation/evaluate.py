"""Glue between checkpoints, data sets and the metrics: `vae-train eval` and the end of every training run use it."""
from __future__ import annotations

import contextlib
import functools
import importlib
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from trainer.deadline import Deadline, run_chunks, spread_order
from trainer.training.checkpoint import LoadedCheckpoint, load_checkpoint, update_checkpoint
from trainer.data.datasets import FaceDataset
from trainer.evaluation.memorisation import memorisation_report
from trainer.evaluation.sample_quality import FIT_IMAGES
from trainer.latent.codec import decode_latents
from trainer.latent.data_codes import CHUNK, DataCodes, evenly_spaced_rows
from trainer.latent.samplers import SamplerChoice
from trainer.latent.stats import STATS_MAX_IMAGES
# Under a deadline (a run's time budget) the parts share what is left: the metrics may take this share of it, the
# sampler choice this share of what the metrics leave, the latent statistics the rest; a part that ends early
# leaves its time to the next. Writing the results into the checkpoints is kept aside first.
METRICS_SHARE = 0.5
SAMPLER_SHARE = 0.6
TRAIN_CODES_SHARE, TEST_CODES_SHARE = 0.5, 0.3   # of the sampler choice's time: encoding, then fitting the rest
LABELS_SHARE = 0.3           # of what the metrics and the sampler choice leave: the label probes (a labelled folder)
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


@contextlib.contextmanager
def codes_on(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu",
             codes: DataCodes | None = None) -> Iterator[DataCodes]:
    """The checkpoint's model on `device` while the block runs (on its former device after), and the codes of the
    data set under it: `codes` when they were made with this model, else a new DataCodes. Passing one DataCodes
    to every part of an evaluation encodes each image once."""
    model = checkpoint.model
    before = next(model.parameters()).device
    model.to(device)
    try:
        yield DataCodes.reuse(codes, model, dataset)
    finally:
        model.to(before)


def evaluate_loaded(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu",
                    deadline: Deadline | None = None, codes: DataCodes | None = None,
                    fitted: dict | None = None) -> dict:
    """The metrics report (trainer.evaluation.metrics.EvalReport.to_dict()) on the data set's test split.

    With a `deadline`, shortened to end by it; "notes" then say what was left out. `fitted`, when given, receives
    the samplers the choice fitted, by kind (SamplerChoice.fitted)."""
    from trainer.evaluation.metrics import evaluate

    notes: list[str] = []
    with codes_on(checkpoint, dataset, device, codes) as codes:
        report = evaluate(codes.model, dataset.test, factors=dataset.test_factors,
                          factor_names=dataset.factor_names or None,
                          categorical=dataset.factor_categorical or None,
                          recon_loss=checkpoint.config.train.recon_loss, device=device,
                          deadline=deadline.part(METRICS_SHARE) if deadline else None,
                          encoded=functools.partial(codes.codes, "test"))
        if report.n_images < len(dataset.test):
            notes.append(f"metrics on {report.n_images:,} of {len(dataset.test):,} test images")
        result = report.to_dict()
        result["data"] = dataset.source
        result["step"] = checkpoint.step
        choice = sampler_choice_for(checkpoint, dataset, device,
                                    deadline.part(SAMPLER_SHARE) if deadline else None, notes, codes)
    if choice is not None:
        result["sampler"] = choice.to_dict()
        if fitted is not None:
            fitted.update(choice.fitted)
    if notes:
        result["notes"] = notes
    return result


def sampler_choice_for(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: str | torch.device = "cpu",
                       deadline: Deadline | None = None, notes: list[str] | None = None,
                       codes: DataCodes | None = None) -> "SamplerChoice | None":
    """Which sampler draws this model's faces by default (see trainer.latent.samplers.choose_sampler); None when the data
    set is too small to fit one (fewer than 2 training or 1 test image), or, with a `deadline`, when there is no
    time for it. What a deadline cut is appended to `notes`."""
    from trainer.latent.samplers import SamplerError, choose_sampler

    notes = [] if notes is None else notes
    if len(dataset.train) < 2 or len(dataset.test) < 1:
        return None
    with codes_on(checkpoint, dataset, device, codes) as codes:
        train_means, _, _ = codes_within(codes, "train", deadline.part(TRAIN_CODES_SHARE) if deadline else None,
                                         minimum=2)
        test_means, _, _ = codes_within(codes, "test", deadline.part(TEST_CODES_SHARE) if deadline else None,
                                        minimum=1)
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
                     deadline: Deadline | None = None, notes: list[str] | None = None,
                     codes: DataCodes | None = None):
    """LatentStats of the test split (factors included on synthetic data); None with fewer than 2 test images,
    where spreads and directions are undefined. With a `deadline`, of as many test images as it allows (at
    least 2); `notes` hears when they are fewer."""
    from trainer.latent.stats import compute_latent_stats

    if len(dataset.test) < 2:
        return None
    with codes_on(checkpoint, dataset, device, codes) as codes:
        means, logvars, rows = codes_within(codes, "test", deadline, minimum=2)
    factors = dataset.test_factors[rows] if dataset.test_factors is not None else None
    count = min(len(dataset.test), STATS_MAX_IMAGES)
    if len(means) < count and notes is not None:
        notes.append(f"latent statistics of {len(means):,} of {count:,} test images")
    return compute_latent_stats(means, logvars, factors=factors, factor_names=dataset.factor_names or None,
                                categorical=dataset.factor_categorical or None)


def codes_within(codes: DataCodes, split: str, deadline: Deadline | None,
                 minimum: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Posterior means, log-variances and the rows they are of, of the split's first STATS_MAX_IMAGES images: all
    of them without a deadline; with one, of a fair sample (trainer.deadline.spread_order) as large as it allows,
    at least `minimum`. Rows encoded before (by another part of the evaluation) cost nothing."""
    count = min(len(codes.images(split)), STATS_MAX_IMAGES)
    rows = np.arange(count)
    if deadline is not None:
        order = spread_order(count)
        done = run_chunks(count, CHUNK, lambda part: codes.codes(split, order[part]), deadline, minimum=minimum)
        rows = order[:done]
    means, logvars = codes.codes(split, rows)
    return means, logvars, rows


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
    from trainer.evaluation.label_probes import label_probe_report

    also_update = list(also_update)
    started = time.monotonic()
    checkpoint = load_checkpoint(path)
    end, writing_s = deadline, 0.0
    if deadline is not None:               # keep time aside to write the results into the checkpoints
        writing_s = WRITE_PER_READ * (1 + len(also_update) if store else 0) * (time.monotonic() - started)
        deadline = Deadline(deadline.left() - writing_s)
    fitted: dict = {}
    with codes_on(checkpoint, dataset, device) as codes:     # each image is encoded once for all the parts
        report = evaluate_loaded(checkpoint, dataset, device, deadline, codes, fitted=fitted)
        # faces and memorisation: of the samples a user sees by default, from the sampler the evaluation chose
        chosen = SamplerChoice.from_dict(report.get("sampler"))
        if faces:
            report["faces"] = face_metrics_for(checkpoint, dataset, device,
                                               sampler=chosen.default if chosen is not None else FACE_SAMPLER,
                                               codes=codes)
        if memorisation_png is not None and len(dataset.train) and len(dataset.test):
            report["memorisation"] = memorisation_report(checkpoint, dataset, memorisation_png, device=device,
                                                         sampler=chosen.default if chosen is not None else None,
                                                         codes=codes)
        labels = label_probe_report(checkpoint, dataset, device, deadline.part(LABELS_SHARE) if deadline else None,
                                    codes)
        if labels is not None:
            report["labels"] = labels
        notes = report.pop("notes", [])
        stats = latent_stats_for(checkpoint, dataset, device, deadline, notes, codes)
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
                     sampler: str = FACE_SAMPLER, seed: int = 0, max_images: int | None = None,
                     codes: DataCodes | None = None) -> dict:
    """trainer.evaluation.face_metrics.face_report() of the checkpoint's test reconstructions and random samples.

    Raises FaceMetricsUnavailable without the faces extra. Falls back to prior samples when the sampler cannot
    be fitted (too few training images, NaN codes). At most `max_images` per set (default FACE_IMAGES).
    """
    from trainer.evaluation.face_metrics import FACE_IMAGES, face_report
    from trainer.latent.samplers import samples_or_prior

    max_images = max_images or FACE_IMAGES
    rows = evenly_spaced_rows(len(dataset.test), max_images)
    with codes_on(checkpoint, dataset, device, codes) as codes:
        means, _ = codes.codes("test", rows)
        recons = decode_latents(codes.model, means, batch_size=256, exact=True)
        fit = codes.spread_means("train", FIT_IMAGES) if sampler != "prior" else None
        samples, sampler = samples_or_prior(codes.model, len(rows), seed, sampler, fit)
    test = dataset.test[torch.from_numpy(rows)]
    return {**face_report(_nchw(recons), _nchw(samples), test, dataset.train, max_images=max_images),
            "sampler": sampler}


def _nchw(images_hwc) -> torch.Tensor:
    """decode_latents' uint8 (N, H, W, 3) arrays in the data set's (N, 3, H, W) layout."""
    return torch.from_numpy(images_hwc).permute(0, 3, 1, 2)
