"""Face-likeness measured by a real face network, offline: dlib's face detector and face-embedding ResNet.

Needs the optional `faces` extra (`pip install "vae-face-explorer[faces]"`: dlib-bin and face-recognition-models, whose wheels
ship the model files, so nothing is downloaded at run time). Without it every entry point raises
FaceMetricsUnavailable with INSTALL_HINT, and face_metrics_available() says so up front.

What is measured, on uint8 (N, C, H, W) images as FaceDataset stores them:

* **detection rate**: the share of images in which dlib's HOG frontal face detector finds a face. HOG's smallest
  face is 80 px, so each image is first upscaled (Lanczos) to DETECT_SIZE px. On the 300 UTKFace test photos
  (64 px) 256 px detects the most faces (99.7%; 128 px 99.3%, 192 px 97.3%, 64 px 83%; on the 2,685 training
  photos 98.8% at 256 px against 98.2% at 128 px); noise, smooth colour blobs and upside-down faces score ~0%.
* **face FD**: the Fréchet distance (trainer.evaluation.sample_quality.frechet_distance) between dlib's 128-d face embeddings
  (dlib_face_recognition_resnet_model_v1 on a 150x150 chip aligned by the 5-point shape predictor) of generated
  and of real images. `face_fd` covers every image: where no face is detected the whole image is taken as the
  face box, so a failed face still gets an embedding and counts against the generator; `face_fd_detected` compares
  only the images in which a face was detected, i.e. "how real do the recognisable faces look".
* **calibration** (calibrate()): the same FD between the test split and as many training images (the floor a
  perfect generator reaches, since FD is biased by the sample size) and between the test split and the test images
  blurred (Gaussian, sigma BLUR_SIGMA px at 64 px): what a reconstruction that only blurs scores.

Cost: dlib-bin is built without BLAS, so the ResNet runs single-threaded in dlib's own code: about 80 ms per image
on one core of the development machine, which dominates (detection at 256 px is ~7 ms per image). torch's thread
setting has no effect on it. Embeddings of the real sets are cached on disk, keyed by their pixels.
Everything is deterministic (no jittering, fixed resize).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.errors import UserError
from trainer.latent.data_codes import evenly_spaced_rows
from trainer.package import install_command
from trainer.evaluation.identity import format_identity, identity_report
from trainer.evaluation.sample_quality import frechet_distance

log = logging.getLogger(__name__)

INSTALL_HINT = f"face metrics need the faces extra: {install_command('faces')}"
DETECT_SIZE = 256            # px the images are upscaled to before detection (see the module docstring)
CHIP_SIZE = 150              # the embedding network's input, as dlib's model was trained
CHIP_PADDING = 0.25          # dlib's default context around the aligned face
BLUR_SIGMA = 1.5             # px at 64 px, scaled with the image size
FACE_IMAGES = 300            # images per set: the UTKFace test split; ~25 s of embedding per set on one core
EMBED_BATCH = 32             # chips per call into dlib's network
FACE_FORMAT_VERSION = 1      # bump when the preprocessing changes, so cached embeddings are not reused
MODEL_FILES = {"shape_predictor": "shape_predictor_5_face_landmarks.dat",
               "embedding": "dlib_face_recognition_resnet_model_v1.dat"}


class FaceMetricsUnavailable(RuntimeError):
    """The faces extra (dlib and its model files) is not installed."""


class FaceMetricsError(UserError, ValueError):
    """Images the face metrics cannot take (wrong dtype or shape, too few to compare)."""


# ---------------------------------------------------------------- loading dlib and its models

def _import_dlib() -> Any:
    try:
        return importlib.import_module("dlib")
    except ImportError as error:
        raise FaceMetricsUnavailable(f"{INSTALL_HINT} (dlib cannot be imported: {error})") from error


def model_dir() -> Path:
    """The folder holding face-recognition-models' .dat files.

    Found without importing the package: its __init__ imports pkg_resources, which recent setuptools lack.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceMetricsUnavailable(f"{INSTALL_HINT} (face-recognition-models is not installed)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    missing = [name for name in MODEL_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FaceMetricsUnavailable(f"{INSTALL_HINT} ({', '.join(missing)} missing from {folder}; reinstall "
                                     "face-recognition-models)")
    return folder


def face_metrics_available() -> bool:
    """Whether dlib and the model files are installed (cheap: nothing is loaded)."""
    try:
        _import_dlib()
        model_dir()
    except FaceMetricsUnavailable:
        return False
    return True


# ---------------------------------------------------------------- the network

@dataclass
class FaceEmbeddings:
    """One embedding per image, and whether a face was detected in it."""

    vectors: np.ndarray          # float64 (N, 128)
    detected: np.ndarray         # bool (N,)

    @property
    def detect_rate(self) -> float:
        return float(self.detected.mean()) if len(self.detected) else math.nan


class FaceNetwork:
    """dlib's HOG face detector, 5-point shape predictor and face-embedding ResNet, loaded once (~0.2 s).

    Takes uint8 (N, C, H, W) tensors (C = 1 or 3), the data set's format. dlib runs on the calling thread only.
    """

    def __init__(self, detect_size: int = DETECT_SIZE):
        dlib = _import_dlib()
        folder = model_dir()
        self._dlib = dlib
        self.detect_size = detect_size
        self._detector = dlib.get_frontal_face_detector()
        self._shapes = dlib.shape_predictor(str(folder / MODEL_FILES["shape_predictor"]))
        self._embedder = dlib.face_recognition_model_v1(str(folder / MODEL_FILES["embedding"]))

    def detect(self, images: torch.Tensor) -> np.ndarray:
        """bool (N,): a face was found in each image."""
        return np.array([self._largest_face(big) is not None for big in self._upscaled(images)], dtype=bool)

    def embed(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(N, 128) float64 embeddings and bool (N,) detections; an image without a face is embedded whole."""
        chips, detected = [], []
        whole = self._dlib.rectangle(0, 0, self.detect_size - 1, self.detect_size - 1)
        for big in self._upscaled(images):
            face = self._largest_face(big)
            detected.append(face is not None)
            landmarks = self._shapes(big, face if face is not None else whole)
            chips.append(self._dlib.get_face_chip(big, landmarks, size=CHIP_SIZE, padding=CHIP_PADDING))
        vectors = [np.asarray(self._embedder.compute_face_descriptor(chips[i:i + EMBED_BATCH]), np.float64)
                   for i in range(0, len(chips), EMBED_BATCH)]
        return (np.concatenate(vectors).reshape(-1, 128) if vectors else np.zeros((0, 128)),
                np.array(detected, dtype=bool))

    def embeddings(self, images: torch.Tensor) -> FaceEmbeddings:
        return FaceEmbeddings(*self.embed(images))

    def _largest_face(self, image: np.ndarray):
        faces = self._detector(image, 0)     # 0: no extra pyramid upsampling, the image is upscaled already
        return max(faces, key=lambda r: r.area()) if len(faces) else None

    def _upscaled(self, images: torch.Tensor):
        """Each image as a contiguous uint8 (S, S, 3) array, S = detect_size (a smooth Lanczos resize)."""
        from PIL import Image

        for image in _as_uint8_hwc(images):
            yield np.asarray(Image.fromarray(image).resize((self.detect_size, self.detect_size), Image.LANCZOS))


def _as_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    images = torch.as_tensor(images)
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise FaceMetricsError(f"face metrics take uint8 (N, 1 or 3, H, W) images, got {images.dtype} "
                               f"{tuple(images.shape)}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return images.permute(0, 2, 3, 1).contiguous().numpy()


# ---------------------------------------------------------------- the scores

def fd_or_none(a: np.ndarray, b: np.ndarray) -> float | None:
    """frechet_distance, or None when a set has fewer than 2 vectors (no covariance)."""
    return frechet_distance(a, b) if min(len(a), len(b)) >= 2 else None


def compare_embeddings(reference: FaceEmbeddings, generated: FaceEmbeddings) -> dict:
    """face_detect (of `generated`), face_fd over all images, face_fd_detected over detected faces only."""
    return {"face_detect": generated.detect_rate,
            "face_fd": fd_or_none(reference.vectors, generated.vectors),
            "face_fd_detected": fd_or_none(reference.vectors[reference.detected],
                                           generated.vectors[generated.detected]),
            "n": int(len(generated.detected)), "n_detected": int(generated.detected.sum())}


def face_scores(generated: torch.Tensor, reference: torch.Tensor, network: FaceNetwork) -> dict:
    """Detection rate of `generated` and its face FDs against `reference` (see compare_embeddings)."""
    return compare_embeddings(network.embeddings(reference), network.embeddings(generated))


def blurred(images: torch.Tensor, sigma_at_64: float = BLUR_SIGMA) -> torch.Tensor:
    """uint8 images Gaussian-blurred by sigma_at_64 px per 64 px of image size."""
    from torchvision.transforms.functional import gaussian_blur

    sigma = sigma_at_64 * images.shape[-1] / 64
    kernel = 2 * math.ceil(3 * sigma) + 1
    return gaussian_blur(torch.as_tensor(images), [kernel, kernel], [sigma, sigma])


def calibrate(test: torch.Tensor, train: torch.Tensor, network: FaceNetwork) -> dict:
    """The scale of face FD: real training images against the test split (the floor) and blurred test images."""
    return _calibration(network.embeddings(test), network.embeddings(train), network.embeddings(blurred(test)))


def _calibration(test: FaceEmbeddings, train: FaceEmbeddings, blurry: FaceEmbeddings) -> dict:
    floor, blur = compare_embeddings(test, train), compare_embeddings(test, blurry)
    return {"test_face_detect": test.detect_rate, "floor_face_fd": floor["face_fd"],
            "floor_face_fd_detected": floor["face_fd_detected"], "blurred_face_detect": blur["face_detect"],
            "blurred_face_fd": blur["face_fd"], "blurred_face_fd_detected": blur["face_fd_detected"]}


def evenly_spaced(images: torch.Tensor, n: int) -> torch.Tensor:
    """n images spread over the whole set (a folder's order may follow its file names), all when it has fewer."""
    if len(images) <= n:
        return images
    return images[torch.from_numpy(evenly_spaced_rows(len(images), n))]


def face_report(recon_images: torch.Tensor, sample_images: torch.Tensor, test_images: torch.Tensor,
                train_images: torch.Tensor, network: FaceNetwork | None = None,
                max_images: int = FACE_IMAGES, cache_dir: Path | str | None = None) -> dict:
    """Every face number for one model, uint8 (N, 3, H, W) tensors in, a flat dict of floats (or None) out:
    detection and face FD of reconstructions and samples, their scale, and whether the reconstructions keep the
    person (trainer.evaluation.identity.identity_report, from the same embeddings).

    Each set is cut to the same size n (at most max_images, spread evenly), since FD depends on the sample size;
    pass reconstructions of the same test images, in order, so they stay paired. The real sets' embeddings are
    cached under cache_dir (default: beside the data-set cache).
    """
    network = network or FaceNetwork()
    n = min(len(recon_images), len(sample_images), len(test_images), len(train_images), max_images)
    if n < 2:
        raise FaceMetricsError(f"face metrics need at least 2 images per set, got {n}; evaluate without them "
                               "(vae-train eval --no-faces)")
    test = evenly_spaced(test_images, n)
    reference = cached_embeddings(network, test, cache_dir)
    recon_embeddings = network.embeddings(evenly_spaced(recon_images, n))
    blurred_embeddings = cached_embeddings(network, blurred(test), cache_dir)
    recon = compare_embeddings(reference, recon_embeddings)
    samples = compare_embeddings(reference, network.embeddings(evenly_spaced(sample_images, n)))
    scale = _calibration(reference, cached_embeddings(network, evenly_spaced(train_images, n), cache_dir),
                         blurred_embeddings)
    return {"recon_face_detect": recon["face_detect"], "recon_face_fd": recon["face_fd"],
            "recon_face_fd_detected": recon["face_fd_detected"],
            "sample_face_detect": samples["face_detect"], "sample_face_fd": samples["face_fd"],
            "sample_face_fd_detected": samples["face_fd_detected"], **scale, "n_images": n,
            **identity_report(reference, recon_embeddings, blurred_embeddings)}


# ---------------------------------------------------------------- caching the real sets' embeddings

def cached_embeddings(network: FaceNetwork, images: torch.Tensor,
                      cache_dir: Path | str | None = None) -> FaceEmbeddings:
    """network.embeddings(images), from a disk cache keyed by the pixels and the preprocessing."""
    from trainer.data.datasets import default_cache_dir

    folder = Path(cache_dir) if cache_dir else default_cache_dir().parent / "face-embeddings"
    digest = hashlib.sha256(f"v{FACE_FORMAT_VERSION} px{network.detect_size} {tuple(images.shape)}".encode())
    digest.update(torch.as_tensor(images).contiguous().numpy().tobytes())
    path = folder / f"{digest.hexdigest()[:24]}.npz"
    try:
        with np.load(path) as stored:
            return FaceEmbeddings(stored["vectors"], stored["detected"].astype(bool))
    except (OSError, KeyError, ValueError):       # missing or unreadable: compute it again
        pass
    result = network.embeddings(images)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, vectors=result.vectors, detected=result.detected)
        temporary.replace(path)
    except OSError as error:                      # a read-only cache only costs time
        log.warning("could not cache face embeddings in %s: %s", folder, error)
    return result


# ---------------------------------------------------------------- showing them

def format_face_table(faces: dict) -> str:
    """The "Face network" block of `vae-train eval`'s table."""
    def number(key: str, spec: str) -> str:
        value = faces.get(key)
        return "—" if value is None else format(value, spec)

    rows = [("face detected: recon / samples / real test",
             f"{number('recon_face_detect', '.0%')} / {number('sample_face_detect', '.0%')} / "
             f"{number('test_face_detect', '.0%')}"),
            ("face FD recon (detected only)",
             f"{number('recon_face_fd', '.4f')} ({number('recon_face_fd_detected', '.4f')})"),
            ("face FD samples (detected only)",
             f"{number('sample_face_fd', '.4f')} ({number('sample_face_fd_detected', '.4f')})"),
            ("scale: real train / blurred test",
             f"{number('floor_face_fd', '.4f')} / {number('blurred_face_fd', '.4f')}")]
    width = max(len(name) for name, _ in rows)
    identity = format_identity(faces)
    title = f"Face network (dlib, {faces.get('n_images', '?')} images per set; samples from the "
    title += f"{faces.get('sampler', '?')} sampler; FD: lower is better)"
    return "\n".join([title] + [f"{name:<{width}}  {value}" for name, value in rows]
                     + ([identity] if identity else []))
