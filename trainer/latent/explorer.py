"""Qt-free helpers for the latent explorer: decoding, slider directions, saved explorer states, exports.

The GUI (vae_gui/explorer) keeps only widgets; every computation it needs lives here or in latent.py/samplers.py.
"""
from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from trainer.training.checkpoint import LoadedCheckpoint
from trainer.training.device import cpu_has_fast_bf16
from trainer.latent.core import LatentStats, encode_dataset, lerp, slerp
from trainer.models.networks import FaceModel

SLIDER_MODES = ("axes", "pca", "factors")
MAX_ALL_SLIDERS = 32            # up to this many latent dims, every dim gets a slider
# A latent dim is labelled with the true factor it shares the most information with only when that normalized
# mutual information (MI / H(factor), 0..1) is at least this: below it the "best" factor is mostly noise.
FACTOR_LABEL_MIN_SCORE = 0.5
DECODE_CHUNK = 16               # small decode batches stay in the CPU cache: ~3x faster than one batch of 64
BF16_MIN_BATCH = 8              # grids and strips decode under bf16 autocast where the CPU has it
STATE_FORMAT = "vae-face-explorer-state"
STATE_VERSION = 1

# Friendlier names for the synthetic faces' factors, shown next to the factor name on direction sliders.
FACTOR_LABELS = {
    "skin_tone": "darker skin", "face_width": "wider face", "face_length": "longer face",
    "eye_size": "bigger eyes", "eye_spacing": "eyes apart", "gaze_x": "look right", "brow_tilt": "angry brows",
    "mouth_curve": "smile", "mouth_width": "wider mouth", "hair_color": "darker hair", "hair_style": "hair style",
    "glasses": "glasses", "head_x": "head right", "head_y": "head down", "light_dir": "light from right",
    "background_hue": "background hue",
}


class ExplorerStateError(Exception):
    """A saved explorer state file cannot be used. The message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


# ---------------------------------------------------------------- decoding and encoding

def prepare_for_inference(model: FaceModel) -> FaceModel:
    """Eval mode and channels-last weights: about 1.5x faster convolutions on a CPU, same results."""
    model.eval()
    return model.to(memory_format=torch.channels_last)


def decode_faces(model: FaceModel, z: np.ndarray, chunk: int = DECODE_CHUNK) -> np.ndarray:
    """uint8 (N, H, W, 3) faces decoded from latents (N, D) (or one latent (D,)).

    The live face calls this on every slider move, so it skips latent.decode_latents' per-call train/eval
    toggling (a walk over every module, about 1 ms): the model is switched to eval mode only if it is not.
    """
    if model.training:
        model.eval()
    latents = torch.from_numpy(np.atleast_2d(np.asarray(z, dtype=np.float32)))
    with torch.inference_mode(), _batch_autocast(model, len(latents)):
        parts = [_to_rgb_uint8(model.decode(latents[i:i + chunk])) for i in range(0, len(latents), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 1, 1, 3), np.uint8)


def _batch_autocast(model: FaceModel, n: int):
    """bf16 autocast for grids and strips on CPUs with native bf16: measured 3.5x faster for an 8x8 grid (117 ->
    34 ms, one thread), pixels within 3/255 of fp32 (mean 0.3/255). The single live face stays fp32 (exact)."""
    on_cpu = next(model.parameters()).device.type == "cpu"
    if n >= BF16_MIN_BATCH and on_cpu and cpu_has_fast_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _to_rgb_uint8(images: torch.Tensor) -> np.ndarray:
    """[0, 1] images (N, C, H, W) -> uint8 (N, H, W, 3); grey is repeated, alpha dropped."""
    images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]
    return (images.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def encode_faces(model: FaceModel, images_hwc: np.ndarray, chunk: int = 64) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means (N, D) and log-variances (None for an AE) of uint8 (N, H, W, 3) images."""
    images = torch.from_numpy(np.array(images_hwc, dtype=np.uint8)).permute(0, 3, 1, 2)   # a writable copy
    with torch.inference_mode():
        return encode_dataset(model, images, batch_size=chunk)


# ---------------------------------------------------------------- slider directions

@dataclass
class SliderSpec:
    """One slider: it moves z along a unit `direction`; its value is the coordinate (z - origin) . direction.

    For a latent axis the origin is 0, so the value is z[dim] itself and moving it changes that dim only.
    """

    key: str                       # "dim:3", "pc:0", "factor:mouth_curve", "custom:smile"
    label: str                     # "dim 3", "PC 1", "smile"
    direction: np.ndarray          # unit (D,)
    origin: np.ndarray             # (D,)
    low: float
    high: float
    kl: float | None = None        # average KL of a latent dim (VAE)
    detail: str = ""               # e.g. "~ mouth_curve 0.62" or "12% of variance"
    active: bool = True            # False for a collapsed dim

    def value(self, z: np.ndarray) -> float:
        return float(np.dot(np.asarray(z, np.float64) - self.origin, self.direction))

    def moved(self, z: np.ndarray, value: float) -> np.ndarray:
        """z with this slider's coordinate set to `value`; the rest of z is unchanged."""
        z = np.asarray(z, dtype=np.float32)
        return (z + np.float32(value - self.value(z)) * self.direction).astype(np.float32)

    def values(self, count: int) -> np.ndarray:
        return np.linspace(self.low, self.high, count)


def visible_dims(stats: LatentStats | None, latent_dim: int, k: int, rank_by: str = "kl") -> list[int]:
    """Which latent dims get a slider: all of them up to MAX_ALL_SLIDERS, else the top k by KL or spread."""
    if latent_dim <= MAX_ALL_SLIDERS:
        return list(range(latent_dim))
    if stats is None:
        return list(range(min(k, latent_dim)))
    return [int(d) for d in stats.ranked_dims("kl" if rank_by == "kl" else "spread")[:k]]


def axis_sliders(stats: LatentStats | None, dims: list[int], latent_dim: int, spread: float = 3.0) -> list[SliderSpec]:
    """A slider per latent dim; ranges from the data (mean +- 3 std), or +-3 before statistics exist."""
    specs = []
    for dim in dims:
        low, high = stats.slider_range(dim, spread) if stats is not None else (-spread, spread)
        kl = float(stats.kl_per_dim[dim]) if stats is not None and stats.kl_per_dim is not None else None
        detail = ""
        if stats is not None and stats.dim_factors is not None and dim < len(stats.dim_factors):
            name, score = stats.dim_factors[dim]
            if score >= FACTOR_LABEL_MIN_SCORE:
                detail = f"~ {name} {score:.2f}"
        active = bool(stats.active[dim]) if stats is not None else True
        specs.append(SliderSpec(key=f"dim:{dim}", label=f"dim {dim}", direction=_axis(dim, latent_dim),
                                origin=np.zeros(latent_dim, np.float32), low=low, high=high, kl=kl,
                                detail=detail, active=active))
    return specs


def pca_sliders(stats: LatentStats, k: int, spread: float = 3.0) -> list[SliderSpec]:
    """A slider per principal direction of the encoded data, centred on the data mean."""
    total = float(np.sum(stats.pca_variance)) or 1.0
    specs = []
    for i in range(min(k, len(stats.pca_components))):
        variance = float(stats.pca_variance[i])
        half = spread * max(math.sqrt(max(variance, 0.0)), 0.05)
        specs.append(SliderSpec(key=f"pc:{i}", label=f"PC {i + 1}", direction=_unit(stats.pca_components[i]),
                                origin=np.asarray(stats.mean, np.float32), low=-half, high=half,
                                detail=f"{100 * variance / total:.0f}% of variance", active=variance > 1e-6))
    return specs


def factor_sliders(stats: LatentStats, spread: float = 1.5) -> list[SliderSpec]:
    """A slider per ground-truth factor direction (synthetic data), e.g. "smile (mouth_curve)"."""
    if not stats.factor_directions:
        return []
    specs = []
    for name, direction in stats.factor_directions.items():
        half = 0.5 * spread * float((stats.factor_spans or {}).get(name, 3.0))
        label = FACTOR_LABELS.get(name, name)
        specs.append(SliderSpec(key=f"factor:{name}", label=label, direction=_unit(direction),
                                origin=np.asarray(stats.mean, np.float32), low=-half, high=half,
                                detail=name if label != name else ""))
    return specs


def custom_slider(name: str, vector: np.ndarray, origin: np.ndarray, spread: float = 1.5) -> SliderSpec:
    """A slider along a user-made direction (mean of group B - mean of group A), over +-1.5 times its length."""
    length = float(np.linalg.norm(vector))
    if length <= 1e-8:
        raise ValueError("the two groups encode to the same mean; pick images that differ")
    half = spread * length
    return SliderSpec(key=f"custom:{name}", label=name, direction=_unit(vector),
                      origin=np.asarray(origin, np.float32), low=-half, high=half, detail=f"length {length:.2f}")


def traversal_latents(spec: SliderSpec, z: np.ndarray, columns: int) -> np.ndarray:
    """(columns, D): z moved along the slider's direction across its range."""
    return np.stack([spec.moved(z, value) for value in spec.values(columns)])


def _axis(dim: int, latent_dim: int) -> np.ndarray:
    direction = np.zeros(latent_dim, np.float32)
    direction[dim] = 1.0
    return direction


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def encode_one(model: FaceModel, image_hwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An image's posterior mean (D,) and its reconstruction (decoded from that mean), uint8 (H, W, 3)."""
    means, _ = encode_faces(model, np.asarray(image_hwc, dtype=np.uint8)[None])
    return means[0], decode_faces(model, means[:1])[0]


# ---------------------------------------------------------------- random starting points

def random_prior_latent(latent_dim: int, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
    """A draw from N(0, temperature^2 I)."""
    return (rng.standard_normal(latent_dim) * temperature).astype(np.float32)


def random_code_latent(stats: LatentStats | None, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
    """For a plain AE, which has no prior: a draw from N(mean, std^2) of its encoded codes (N(0, I) without stats)."""
    noise = rng.standard_normal(latent_dim)
    if stats is None:
        return noise.astype(np.float32)
    return (np.asarray(stats.mean) + np.asarray(stats.std) * noise).astype(np.float32)


def random_data_latent(latents: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """One encoded image's mean, picked at random, and its index."""
    index = int(rng.integers(len(latents)))
    return np.asarray(latents[index], dtype=np.float32).copy(), index


# ---------------------------------------------------------------- interpolation

def interpolation_path(a: np.ndarray, b: np.ndarray, steps: int, kind: str = "lerp") -> np.ndarray:
    """(steps, D) latents from a to b inclusive, on a line ("lerp") or a great circle ("slerp")."""
    if kind not in ("lerp", "slerp"):
        raise ValueError(f"unknown interpolation {kind!r}; use 'lerp' or 'slerp'")
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return (lerp if kind == "lerp" else slerp)(a, b, steps)


def interpolate(a: np.ndarray, b: np.ndarray, t: float, kind: str = "lerp") -> np.ndarray:
    """The one point at fraction t in [0, 1] of the way from a to b (for the morph slider); same paths as
    interpolation_path."""
    if kind not in ("lerp", "slerp"):
        raise ValueError(f"unknown interpolation {kind!r}; use 'lerp' or 'slerp'")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    t = float(np.clip(t, 0.0, 1.0))
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if kind == "slerp" and norm_a > 0 and norm_b > 0:
        omega = math.acos(float(np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0)))
        if math.sin(omega) >= 1e-6:
            return ((math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)).astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


# ---------------------------------------------------------------- exports

def save_png(image_hwc: np.ndarray, path: Path | str, scale: int = 1) -> None:
    """Save a uint8 (H, W, 3) image as PNG, optionally enlarged with nearest-neighbour pixels."""
    _enlarge(Image.fromarray(np.ascontiguousarray(image_hwc, dtype=np.uint8)), scale).save(path, format="PNG")


def save_png_resized(image_hwc: np.ndarray, path: Path | str, size: int) -> None:
    """Save a uint8 (H, W, 3) image as a size x size PNG, smoothly resized (Lanczos)."""
    image = Image.fromarray(np.ascontiguousarray(image_hwc, dtype=np.uint8))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    image.save(path, format="PNG")


def save_gif(frames_hwc: np.ndarray, path: Path | str, frame_ms: int = 100, scale: int = 4) -> None:
    """Save uint8 (N, H, W, 3) frames as a looping animated GIF (identical neighbour frames may be merged)."""
    if len(frames_hwc) == 0:
        raise ValueError("no frames to save")
    images = [_enlarge(Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8)), scale) for f in frames_hwc]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=int(frame_ms), loop=0)


def _enlarge(image: Image.Image, scale: int) -> Image.Image:
    if scale <= 1:
        return image
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


# ---------------------------------------------------------------- saved explorer states

@dataclass
class ExplorerSnapshot:
    """What "Save explorer state" writes: enough to come back to the same face of the same model."""

    checkpoint_path: str
    weights_hash: str
    z: np.ndarray
    slider_mode: str = "axes"
    selected_dims: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "checkpoint": self.checkpoint_path,
                "weights_hash": self.weights_hash, "z": [float(v) for v in np.asarray(self.z).ravel()],
                "slider_mode": self.slider_mode, "selected_dims": [int(d) for d in self.selected_dims]}

    @classmethod
    def from_dict(cls, data: Any, path: Path | str = "<state>") -> "ExplorerSnapshot":
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ExplorerStateError(path, "this is not a VAE Face Explorer state file")
        if data.get("version") != STATE_VERSION:
            raise ExplorerStateError(path, f"state file version {data.get('version')} is not supported "
                                           f"(this program reads version {STATE_VERSION})")
        z = data.get("z")
        if not isinstance(z, list) or not z or not all(_is_finite_number(v) for v in z):
            raise ExplorerStateError(path, "'z' must be a non-empty list of finite numbers")
        mode = data.get("slider_mode", "axes")
        if mode not in SLIDER_MODES:
            raise ExplorerStateError(path, f"unknown slider mode {mode!r}; expected one of {', '.join(SLIDER_MODES)}")
        dims = data.get("selected_dims", [])
        if not isinstance(dims, list) or not all(isinstance(d, int) and 0 <= d < len(z) for d in dims):
            raise ExplorerStateError(path, "'selected_dims' must list latent dimensions")
        return cls(checkpoint_path=str(data.get("checkpoint", "")), weights_hash=str(data.get("weights_hash", "")),
                   z=np.asarray(z, dtype=np.float32), slider_mode=mode, selected_dims=list(dims))


def save_explorer_state(path: Path | str, snapshot: ExplorerSnapshot) -> None:
    Path(path).write_text(json.dumps(snapshot.to_dict(), indent=2) + "\n", encoding="utf-8")


def load_explorer_state(path: Path | str) -> ExplorerSnapshot:
    """Read a state file. Raises ExplorerStateError naming the file and the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ExplorerStateError(path, f"cannot read the file ({error.strerror or error})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ExplorerStateError(path, f"not a JSON file ({error})") from None
    return ExplorerSnapshot.from_dict(data, path)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------- encoded data behind the explorer

ProgressCallback = Callable[[int, int, str], None]      # (done, total, what)
MAX_STATS_IMAGES = 5000       # test images encoded for latent statistics (as trainer.evaluation.evaluate does)
MAX_TRAIN_LATENTS = 2000      # training images encoded for fitted samplers: plenty for a 16-d Gaussian or mixture
MAX_KEPT_TEST = 1000          # test images kept in memory for the gallery and "randomize from data"
FALLBACK_SAMPLES = 1000       # decoded prior samples when the training data is gone


class Cancelled(Exception):
    """The background preparation was asked to stop."""


@dataclass
class LatentData:
    """Encoded images of a checkpoint's own data set (or stand-ins when the data is gone)."""

    train_latents: np.ndarray                 # (N, D) posterior means of a training subset
    test_images: np.ndarray | None = None     # uint8 (M, H, W, 3), a test subset, None without data
    test_latents: np.ndarray | None = None    # (M, D) their posterior means
    test_factors: np.ndarray | None = None    # (M, F) on synthetic data
    factor_names: tuple[str, ...] = ()
    data_error: str = ""                      # why the data set could not be loaded ("" when it could)
    # The whole training split, for the nearest-training-faces index: the loaded data set's own uint8 (N, 3, H, W)
    # tensor (kept, not copied: 12 KB per 64 px image), and which of its rows train_latents encode.
    train_images: torch.Tensor | None = None
    train_picks: np.ndarray | None = None

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
    from trainer.data.datasets import DataError, load_dataset_interruptibly

    report = _Reporter(progress, should_stop)
    report(0, 1, "loading the training data")
    try:
        dataset = load_dataset_interruptibly(checkpoint.config.data, should_stop or (lambda: False))
    except (DataError, OSError, ValueError) as error:
        return _prepare_without_data(checkpoint, compute_stats, str(error), report)
    if dataset is None:
        raise Cancelled("loading the training data")
    model = checkpoint.model
    # With stored statistics only the kept test images need encoding.
    test = dataset.test[:MAX_STATS_IMAGES if compute_stats else MAX_KEPT_TEST]
    picks = np.linspace(0, len(dataset.train) - 1, num=min(max_train, len(dataset.train))).round().astype(np.int64)
    train = dataset.train[torch.from_numpy(picks)] if len(dataset.train) else dataset.train
    total = len(test) + len(train)
    test_means, test_logvars = _encode_with_progress(model, test, report, 0, total, "encoding test images")
    train_means, _ = _encode_with_progress(model, train, report, len(test), total, "encoding training images")
    factors = dataset.test_factors[:len(test)] if dataset.test_factors is not None else None
    kept = test[:MAX_KEPT_TEST].permute(0, 2, 3, 1).contiguous().numpy()
    data = LatentData(train_latents=train_means, test_images=kept,
                      test_latents=test_means[:MAX_KEPT_TEST],
                      test_factors=factors[:MAX_KEPT_TEST] if factors is not None else None,
                      factor_names=tuple(dataset.factor_names), train_images=dataset.train, train_picks=picks)
    result = PreparedLatents(data=data)
    if compute_stats:
        from trainer.latent.core import compute_latent_stats
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
    images = torch.from_numpy(decode_faces(model, z)).permute(0, 3, 1, 2)
    means, logvars = _encode_with_progress(model, images, report, 0, len(images), "encoding decoded samples")
    data = LatentData(train_latents=means, data_error=reason)
    result = PreparedLatents(data=data)
    if compute_stats:
        from trainer.latent.core import compute_latent_stats
        result.stats = compute_latent_stats(means, logvars, factors=None, factor_names=None, categorical=None)
        result.stats_note = (f"approximate statistics from {len(z)} decoded prior samples "
                             f"(training data not available: {reason})")
    return result


def _encode_with_progress(model: FaceModel, images: torch.Tensor, report: "_Reporter", done: int, total: int,
                          what: str, chunk: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means and log-variances of uint8 (N, C, H, W) images, reporting after each chunk."""
    means, logvars = [], []
    for start in range(0, len(images), chunk):
        report(done + start, total, what)
        with torch.inference_mode():
            mean, logvar = encode_dataset(model, images[start:start + chunk], batch_size=64)
        means.append(mean)
        if logvar is not None:
            logvars.append(logvar)
    if not means:
        return np.zeros((0, model.latent_dim), np.float32), None
    return np.concatenate(means), (np.concatenate(logvars) if logvars else None)


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
