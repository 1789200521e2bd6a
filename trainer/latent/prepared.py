"""The encoded data behind the explorer: encode a checkpoint's own data set (or stand-ins when it is gone), compute
its LatentStats and keep them for the next load. Runs off the GUI thread (vae_gui/explorer/checkpoint_loader.py).

The codes are kept in a DataCodes (trainer.latent.data_codes) that travels with the result, so the atlas and the
nearest-training-faces index reuse what was encoded here and encode each remaining image once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from trainer.errors import Cancelled
from trainer.latent.codec import decode_latents, encode_images
from trainer.latent.data_codes import DataCodes
from trainer.latent.stats import STATS_MAX_IMAGES, LatentStats, compute_latent_stats
from trainer.models.networks import FaceModel
from trainer.training.checkpoint import LoadedCheckpoint

ProgressCallback = Callable[[int, int, str], None]      # (done, total, what)
MAX_TRAIN_LATENTS = 2000      # training images encoded for fitted samplers: plenty for a 16-d Gaussian or mixture
MAX_KEPT_TEST = 1000          # test images kept in memory for the gallery and "randomize from data"
FALLBACK_SAMPLES = 1000       # decoded prior samples when the training data is gone


@dataclass
class LatentData:
    """Encoded images of a checkpoint's own data set (or stand-ins when the data is gone)."""

    train_latents: np.ndarray                 # (N, D) posterior means of a training subset
    test_images: np.ndarray | None = None     # uint8 (M, H, W, 3), a test subset, None without data
    test_latents: np.ndarray | None = None    # (M, D) their posterior means
    test_factors: np.ndarray | None = None    # (M, F) on synthetic data
    factor_names: tuple[str, ...] = ()
    data_error: str = ""                      # why the data set could not be loaded ("" when it could)
    train_picks: np.ndarray | None = None     # which training images train_latents encode
    # The loaded data set and its codes under this checkpoint's model, shared by the atlas and the nearest-faces
    # index (None without data). The data set's tensors are kept, not copied: 12 KB per 64 px image.
    codes: DataCodes | None = None

    @property
    def has_images(self) -> bool:
        return self.test_images is not None and len(self.test_images) > 0


@dataclass
class PreparedLatents:
    """What the explorer's background job returns."""

    data: LatentData
    stats: LatentStats | None = None  # computed here; None when the checkpoint had them
    stats_note: str = ""
    stored: bool = False              # the new statistics were kept for the next load (trainer.data.derived)


def prepare_latents(checkpoint: LoadedCheckpoint, compute_stats: bool, store: bool = True,
                    progress: ProgressCallback | None = None, should_stop: Callable[[], bool] | None = None,
                    max_train: int = MAX_TRAIN_LATENTS) -> PreparedLatents:
    """Encode the checkpoint's data set; with `compute_stats`, also compute (and store) its LatentStats.

    Falls back to decoded prior samples when the data set cannot be loaded any more.
    """
    from trainer.data.datasets import DataError, load_dataset

    report = _Reporter(progress, should_stop)
    report(0, 1, "loading the training data")
    try:       # Cancelled when asked to stop
        dataset = load_dataset(checkpoint.config.data, should_stop=should_stop, progress=progress)
    except (DataError, OSError, ValueError) as error:
        return _prepare_without_data(checkpoint, compute_stats, str(error), report)
    # With stored statistics only the kept test images need encoding.
    test = dataset.test[:STATS_MAX_IMAGES if compute_stats else MAX_KEPT_TEST]
    picks = np.linspace(0, len(dataset.train) - 1, num=min(max_train, len(dataset.train))).round().astype(np.int64)
    total = len(test) + len(picks)
    codes = DataCodes(checkpoint.model, dataset)
    test_means, test_logvars = codes.codes("test", np.arange(len(test)),
                                           on_chunk=lambda done: report(done, total, "encoding test images"))
    train_means, _ = codes.codes("train", picks,
                                 on_chunk=lambda done: report(len(test) + done, total, "encoding training images"))
    factors = dataset.test_factors[:len(test)] if dataset.test_factors is not None else None
    kept = test[:MAX_KEPT_TEST].permute(0, 2, 3, 1).contiguous().numpy()
    data = LatentData(train_latents=train_means, test_images=kept,
                      test_latents=test_means[:MAX_KEPT_TEST],
                      test_factors=factors[:MAX_KEPT_TEST] if factors is not None else None,
                      factor_names=tuple(dataset.factor_names), train_picks=picks, codes=codes)
    result = PreparedLatents(data=data)
    if compute_stats:
        result.stats = compute_latent_stats(test_means, test_logvars, factors=factors,
                                            factor_names=dataset.factor_names or None,
                                            categorical=dataset.factor_categorical or None)
        result.stats_note = f"statistics of {len(test)} encoded test images"
        if store:
            result.stored = store_latent_stats(checkpoint, result.stats.to_dict())
    report(total, total, "done")
    return result


def _prepare_without_data(checkpoint: LoadedCheckpoint, compute_stats: bool, reason: str,
                          report: "_Reporter") -> PreparedLatents:
    """Stand-in latents: decode prior samples and encode them again, so they sit where the model's codes live."""
    model = checkpoint.model
    rng = np.random.default_rng(0)
    z = rng.standard_normal((FALLBACK_SAMPLES, model.latent_dim)).astype(np.float32)
    images = torch.from_numpy(decode_latents(model, z)).permute(0, 3, 1, 2)
    means, logvars = _encode_with_progress(model, images, report, 0, len(images), "encoding decoded samples")
    data = LatentData(train_latents=means, data_error=reason)
    result = PreparedLatents(data=data)
    if compute_stats:
        result.stats = compute_latent_stats(means, logvars, factors=None, factor_names=None, categorical=None)
        result.stats_note = (f"approximate statistics from {len(z)} decoded prior samples "
                             f"(training data not available: {reason})")
    return result


def _encode_with_progress(model: FaceModel, images: torch.Tensor, report: "_Reporter", done: int, total: int,
                          what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means and log-variances of uint8 (N, C, H, W) images, reporting (and checking for a stop) per batch."""
    return encode_images(model, images, batch_size=64, on_batch=lambda encoded: report(done + encoded, total, what))


class _Reporter:
    """Calls the progress callback and raises Cancelled when asked to stop."""

    def __init__(self, progress: ProgressCallback | None, should_stop: Callable[[], bool] | None):
        self.progress = progress
        self.should_stop = should_stop

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(what)
        if self.progress is not None:
            self.progress(done, total, what)


def store_latent_stats(checkpoint: LoadedCheckpoint, stats: dict) -> bool:
    """Keep latent statistics for the next time this checkpoint is opened, without changing the file.

    They go to the derived-results cache under the SHA-256 of the bytes that were loaded (trainer.data.derived), so
    they are found again for exactly that content; if training replaced the file meanwhile, the new file does not
    pick up statistics of the old weights. Returns whether they were stored.
    """
    from trainer.data.derived import store_derived

    if not checkpoint.content_hash:
        return False
    return store_derived(checkpoint.content_hash, latent_stats=stats)
