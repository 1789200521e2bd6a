"""A sample-quality figure without Inception weights: Fréchet distance and precision/recall in a small feature space.

FID compares real and generated images in the feature space of an ImageNet Inception network. Those weights are not
available offline, so we train our own small, fixed feature network and use it the same way:

* synthetic faces: a **factor regressor**, a small CNN trained to predict the 16 ground-truth factors (skin tone,
  face width, smile, glasses, ...) from the image. Its 64-d penultimate features are the feature space. It is
  trained once per image size on freshly rendered faces (a seed no model trains on) and cached.
* an image folder: the encoder of a **reference autoencoder** trained on that folder's training images, cached
  under a key made from the images themselves.

The real reference set is held out: fresh faces for synthetic data, the test split for a folder. Every generated
set has the same size as the reference, since the Fréchet distance is biased by the sample size. Features are
standardised by the reference set's mean and spread. We report:

* FD: the Fréchet distance between Gaussians fitted to the real and generated features (lower is better). A
  "real vs real" floor (a second real set against the reference) shows what a perfect generator would score.
* precision and recall (Kynkäänniemi et al. 2019, k = 3): the share of generated images that land inside the
  real images' k-nearest-neighbour balls (fidelity), and the share of real images inside the generated ones'
  (coverage).

What it can tell: whether samples carry the attributes real faces have, in the right proportions and mixtures
(on synthetic data the features are literally the factors a face is drawn from), and whether a model's samples
cover the data or collapse onto a few kinds of face. Comparisons are valid between models scored in the same
feature space (same data, image size and feature-network settings).
What it cannot tell: these are not FID numbers and cannot be compared with published ones. A factor regressor
mostly sees what the factors describe: on 64 px faces, two real sets of 1000 score FD 0.6 against each other, the
same faces blurred (4x4 box average) score FD 10 but keep precision 0.98 / recall 0.92, and noise images score FD
56 with precision and recall near 0. So FD does register blur, precision/recall hardly do, and sharpness is better
judged from the reconstruction PSNR/SSIM and the image grids. Differences of the order of the real-vs-real floor
mean nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from trainer.errors import UserError
from trainer.training import device as devices
from trainer.training.checkpoint import save_checkpoint
from trainer.config import ModelConfig
from trainer.data.datasets import FaceDataset, default_cache_dir
from trainer.models.networks import FaceModel, build_model, images_from_logits

log = logging.getLogger(__name__)

FEATURE_FORMAT_VERSION = 1
SYNTHETIC_FEATURE_SEED = 7       # fresh faces for the feature network and the reference: no model trains on seed 7
NEIGHBOURS = 3                   # k of the precision/recall neighbourhoods (Kynkäänniemi et al. 2019)


class SampleQualityError(UserError, ValueError):
    """Sample quality cannot be measured (too few images, mismatched image sizes)."""


@dataclass(frozen=True)
class FeatureNetSettings:
    """How the feature network is trained, and how many images are compared. Defaults take ~1 min on a CPU."""

    steps: int = 500
    batch_size: int = 64
    train_images: int = 6000
    feature_dim: int = 64
    base_channels: int = 16
    depth: int = 4
    lr: float = 2e-3
    n_reference: int = 1000      # real images in the reference set, and images generated per model
    seed: int = 0

    def key_text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class SampleQuality:
    fd: float
    precision: float
    recall: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FeatureSpace:
    """A fixed feature network plus the real reference set, both in standardised feature coordinates."""

    kind: str                    # "factor-regressor" | "reference-ae"
    key: str                     # names this space; numbers are comparable only within one key
    encoder: FaceModel           # features = encoder.encode(x)[0]
    centre: np.ndarray           # (F,) reference mean, for standardising
    scale: np.ndarray            # (F,) reference std
    reference: np.ndarray        # (N, F) standardised features of held-out real images
    baseline: np.ndarray         # (N, F) another real set: the "real vs real" floor
    reference_images: torch.Tensor   # uint8 (N, 3, H, W), the real images behind `reference`

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Standardised features of uint8 (N, 3, H, W) images (or float images in [0, 1])."""
        raw = _raw_features(self.encoder, images, batch_size)
        return (raw - self.centre) / self.scale

    def quality(self, images: torch.Tensor) -> SampleQuality:
        """FD and precision/recall of images against the reference set."""
        return compare_features(self.reference, self.features(images))

    def floor(self) -> SampleQuality:
        """The score of real images: the best any generator can expect here."""
        return compare_features(self.reference, self.baseline)


# ---------------------------------------------------------------- the metrics

def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # tr(sqrt(cov_a cov_b)) = sum of sqrt(eigenvalues of sqrt(cov_a) cov_b sqrt(cov_a)), a symmetric PSD matrix.
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    return float(max(distance, 0.0))


def precision_recall(real: np.ndarray, generated: np.ndarray, k: int = NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-nearest-neighbour balls."""
    if min(len(real), len(generated)) <= k:
        raise SampleQualityError(f"precision/recall with k={k} needs more than {k} images per set, "
                                 f"got {len(real)} real and {len(generated)} generated")
    real_t = torch.as_tensor(np.asarray(real, np.float32))
    fake_t = torch.as_tensor(np.asarray(generated, np.float32))
    distances = torch.cdist(fake_t, real_t)                          # (generated, real)
    precision = (distances <= _knn_radii(real_t, k)[None, :]).any(dim=1).float().mean().item()
    recall = (distances.T <= _knn_radii(fake_t, k)[None, :]).any(dim=1).float().mean().item()
    return precision, recall


def _knn_radii(points: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest other point."""
    distances = torch.cdist(points, points)
    distances.fill_diagonal_(math.inf)
    return distances.kthvalue(k, dim=1).values


def compare_features(real: np.ndarray, generated: np.ndarray, k: int = NEIGHBOURS) -> SampleQuality:
    precision, recall = precision_recall(real, generated, k)
    return SampleQuality(fd=frechet_distance(real, generated), precision=precision, recall=recall,
                         n=int(len(generated)))


def latent_prior_mismatch(means: np.ndarray, logvars: np.ndarray | None = None) -> float:
    """How far the encoded data lie from N(0, I): the Fréchet distance between the two in latent space.

    The aggregate posterior is moment-matched by a Gaussian (mean of the codes; covariance of the means plus the
    average posterior variance for a VAE, of the codes for an AE) and compared with N(0, I). 0 means the prior is
    exactly where the data's codes are, so prior samples decode to data-like images. It is a total over the
    dimensions, not an average: a small mismatch in each of 512 dimensions still puts a prior sample far from
    every code.
    """
    means = np.asarray(means, np.float64)
    covariance = np.atleast_2d(np.cov(means, rowvar=False))
    if logvars is not None:
        covariance = covariance + np.diag(np.exp(np.asarray(logvars, np.float64)).mean(0))
    root_eigen = np.sqrt(np.clip(np.linalg.eigvalsh(covariance), 0, None))
    distance = (means.mean(0) ** 2).sum() + np.trace(covariance) + means.shape[1] - 2 * root_eigen.sum()
    return float(max(distance, 0.0))


# ---------------------------------------------------------------- building and caching the feature space

def feature_space_for(dataset: FaceDataset, settings: FeatureNetSettings = FeatureNetSettings(),
                      cache_dir: Path | str | None = None,
                      say: Callable[[str], None] = log.info) -> FeatureSpace:
    """The feature space for a data set: a factor regressor for synthetic faces, a reference AE for a folder."""
    size = dataset.image_size
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir().parent / "feature-nets"
    if dataset.source == "synthetic":
        from trainer.data import synthetic
        kind = "factor-regressor"
        key_text = f"{kind} v{FEATURE_FORMAT_VERSION} r{synthetic.RENDERER_VERSION} px{size} {settings.key_text()}"
    else:
        kind = "reference-ae"
        key_text = (f"{kind} v{FEATURE_FORMAT_VERSION} px{size} {settings.key_text()} "
                    f"data {_content_hash(dataset)}")
    key = f"{kind}-{size}px-" + hashlib.sha256(key_text.encode()).hexdigest()[:16]
    reference_images, baseline_images = _real_sets(dataset, settings)
    cached = _load_cached(cache_dir / f"{key}.pt")
    encoder = build_model(_encoder_config(settings, size))
    if cached is not None:
        encoder.load_state_dict(cached)
    else:
        say(f"training the {kind} feature network ({settings.steps} steps) for the sample-quality figures")
        _train_feature_net(encoder, *_training_set(dataset, settings), settings)
        _save_cached(cache_dir / f"{key}.pt", encoder)
    encoder.eval()
    reference_raw = _raw_features(encoder, reference_images)
    centre, scale = reference_raw.mean(0), reference_raw.std(0) + 1e-6
    baseline = (_raw_features(encoder, baseline_images) - centre) / scale
    return FeatureSpace(kind=kind, key=key, encoder=encoder, centre=centre, scale=scale,
                        reference=(reference_raw - centre) / scale, baseline=baseline,
                        reference_images=reference_images)


def _real_sets(dataset: FaceDataset, settings: FeatureNetSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out reference set and a second real set of the same size (the "real vs real" floor)."""
    if dataset.source == "synthetic":
        from trainer.data.synthetic import make_synthetic_faces
        n, start = settings.n_reference, settings.train_images
        reference, _ = make_synthetic_faces(n, seed=SYNTHETIC_FEATURE_SEED, image_size=dataset.image_size,
                                            start=start)
        baseline, _ = make_synthetic_faces(n, seed=SYNTHETIC_FEATURE_SEED, image_size=dataset.image_size,
                                           start=start + n)
        return torch.from_numpy(reference), torch.from_numpy(baseline)
    n = min(settings.n_reference, len(dataset.test), len(dataset.train))
    if n <= NEIGHBOURS + 1:
        raise SampleQualityError(f"{dataset.source} has too few images ({len(dataset.train)} train, "
                                 f"{len(dataset.test)} test) to measure sample quality")
    return dataset.test[:n], dataset.train[-n:]


def _training_set(dataset: FaceDataset, settings: FeatureNetSettings) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The feature network's training images, and factor targets on synthetic data (None for a folder)."""
    if dataset.source == "synthetic":
        from trainer.data.synthetic import make_synthetic_faces
        images, factors = make_synthetic_faces(settings.train_images, seed=SYNTHETIC_FEATURE_SEED,
                                               image_size=dataset.image_size)
        return torch.from_numpy(images), torch.from_numpy(factor_targets(factors))
    return dataset.train[:settings.train_images], None


def factor_targets(factors: np.ndarray) -> np.ndarray:
    """Regression targets: continuous factors scaled to [0, 1], categorical ones one-hot."""
    from trainer.data.synthetic import FACTORS

    columns = []
    for index, spec in enumerate(FACTORS):
        values = factors[:, index]
        if spec.kind == "categorical":
            columns.append(np.eye(spec.levels, dtype=np.float32)[values.astype(np.int64)])
        else:
            columns.append(((values - spec.low) / (spec.high - spec.low))[:, None].astype(np.float32))
    return np.concatenate(columns, axis=1)


def _encoder_config(settings: FeatureNetSettings, image_size: int) -> ModelConfig:
    return ModelConfig(family="ae", preset="feature-net", latent_dim=settings.feature_dim,
                       base_channels=settings.base_channels, max_channels=8 * settings.base_channels,
                       depth=settings.depth, image_size=image_size)


def _train_feature_net(model: FaceModel, images: torch.Tensor, targets: torch.Tensor | None,
                       settings: FeatureNetSettings) -> None:
    """Factor regression (a linear head on the features) when targets are given, else plain reconstruction."""
    torch.manual_seed(settings.seed)
    head = torch.nn.Linear(settings.feature_dim, targets.shape[1]) if targets is not None else None
    parameters = list(model.parameters()) + (list(head.parameters()) if head is not None else [])
    optimizer = torch.optim.AdamW(parameters, lr=settings.lr)
    generator = torch.Generator().manual_seed(settings.seed)
    model.train()
    for _ in range(settings.steps):
        picks = torch.randint(len(images), (min(settings.batch_size, len(images)),), generator=generator)
        x = images[picks].float() / 255
        if head is not None:
            features, _ = model.encode(x)
            loss = F.mse_loss(head(features), targets[picks])
        else:
            loss = F.mse_loss(images_from_logits(model(x).logits), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()


@torch.no_grad()
def _raw_features(encoder: FaceModel, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    parts = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        parts.append(encoder.encode(x)[0].double().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, encoder.latent_dim))


def _content_hash(dataset: FaceDataset) -> str:
    """A key for a folder data set from its pixels (a subsample of train, all of test) and sizes."""
    digest = hashlib.sha256(f"{tuple(dataset.train.shape)} {tuple(dataset.test.shape)}".encode())
    digest.update(dataset.train[::max(1, len(dataset.train) // 512)].numpy().tobytes())
    digest.update(dataset.test.numpy().tobytes())
    return digest.hexdigest()[:24]


def _load_cached(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return payload["model_state"]
    except Exception as error:      # any unreadable cache file is simply rebuilt
        log.warning("ignoring damaged feature-network cache %s (%s)", path, error)
        return None


def _save_cached(path: Path, model: FaceModel) -> None:
    try:
        save_checkpoint(path, {"format_version": FEATURE_FORMAT_VERSION,
                               "model_state": {k: v.detach().clone() for k, v in model.state_dict().items()}})
    except OSError as error:        # a read-only cache only costs time
        log.warning("could not cache the feature network in %s: %s", path, error)


# ---------------------------------------------------------------- scoring one model

GRID_IMAGES = 64                 # samples shown in a report's grids
FIT_IMAGES = 2000                # encoded training images the fitted sampler is fitted to (> 1024 latent dims)


@dataclass
class ModelScores:
    """A model's sample quality from the prior and from a fitted sampler, and of its reconstructions."""

    prior: SampleQuality             # z ~ N(0, I), decoded
    fitted: SampleQuality            # z from a density fitted to encoded training images, decoded
    reconstruction: SampleQuality    # the reference images, encoded (posterior mean) and decoded
    latent_mismatch: float           # latent_prior_mismatch of the encoded training images
    sampler: str
    prior_images: np.ndarray         # uint8 (GRID_IMAGES, H, W, 3)
    fitted_images: np.ndarray
    originals: np.ndarray            # uint8 (n, H, W, 3) reference images ...
    reconstructions: np.ndarray      # ... and their reconstructions

    def to_dict(self) -> dict:
        return {"prior": self.prior.to_dict(), "fitted": self.fitted.to_dict(),
                "reconstruction": self.reconstruction.to_dict(), "latent_mismatch": self.latent_mismatch,
                "sampler": self.sampler}


@torch.no_grad()
def score_model(model: FaceModel, space: FeatureSpace, fit_images: torch.Tensor, sampler: str = "gaussian",
                seed: int = 0, device: str | torch.device = "cpu", n_grid_recon: int = 16) -> ModelScores:
    """Decode as many prior and fitted samples as the reference holds, and score them in `space`."""
    from trainer.latent.codec import decode_latents, encode_images
    from trainer.latent.samplers import PriorSampler, make_sampler

    if fit_images.shape[-1] != space.reference_images.shape[-1]:
        raise SampleQualityError(f"the model's images are {fit_images.shape[-1]} px but the feature space's "
                                 f"are {space.reference_images.shape[-1]} px")
    device = torch.device(device)
    model = model.to(device).eval()
    n = len(space.reference)
    # bf16 where the hardware has it, as in training: faster, and decoded pixels move by ~0.4/255 on average.
    with devices.autocast(device, devices.resolve_precision("auto", device)):
        means, logvars = encode_images(model, fit_images[:FIT_IMAGES], device=device)
        fitted_sampler = make_sampler(sampler, model.latent_dim, latents=means, seed=seed)
        prior = decode_latents(model, PriorSampler(model.latent_dim).sample(n, seed), batch_size=256, exact=True)
        fitted = decode_latents(model, fitted_sampler.sample(n, seed), batch_size=256, exact=True)
        codes, _ = encode_images(model, space.reference_images, device=device)
        reconstructions = decode_latents(model, codes, batch_size=256, exact=True)
    model.to("cpu")
    return ModelScores(prior=space.quality(_to_nchw(prior)), fitted=space.quality(_to_nchw(fitted)),
                       reconstruction=space.quality(_to_nchw(reconstructions)),
                       latent_mismatch=latent_prior_mismatch(means, logvars), sampler=sampler,
                       prior_images=prior[:GRID_IMAGES], fitted_images=fitted[:GRID_IMAGES],
                       originals=space.reference_images[:n_grid_recon].permute(0, 2, 3, 1).numpy(),
                       reconstructions=reconstructions[:n_grid_recon])


def _to_nchw(images_hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images_hwc)).permute(0, 3, 1, 2)
