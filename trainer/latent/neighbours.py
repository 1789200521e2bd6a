"""The nearest training faces of any face, in pixel space and in latent space (exact brute-force search).

Distances, so numbers mean the same everywhere:
- pixel space: the RMS difference of the pixel values on [0, 1] over every pixel and channel,
  sqrt(mean((a - b)^2)); 0 is the same image, 0.1 is a typical "different face" on 64 px faces.
- latent space: the Euclidean distance between latent codes (posterior means), in the model's own units.

Pixel space at full size is too big to scan per query (50,000 faces x 12,288 values = 2.4 GB of float32), so the
search runs on two reductions, each a lower bound of the exact distance, and is then exact (brute force, pruned):
1. block means: each image averaged over non-overlapping blocks to about 16 x 16 (768 values at 64 px). By Jensen's
   inequality the RMS of the block averages of a difference never exceeds its full RMS.
2. their first 128 principal components (fitted on up to 10,000 training images): an orthogonal projection only
   shortens distances, so this is a lower bound of (1); it is what every query scans (50,000 x 128 float32 = 26 MB).
A query takes the best candidates by (2), orders them by (1), computes exact full-size distances of the best of them,
and grows each set until the k-th exact distance is at most every bound left out: then no other image can be closer
and the answer equals brute force (`exact` is True). Past `max_rerank` exact distances it stops and says so.
Memory: the images are shared with the data set; the index adds 3 KB (1) + 0.5 KB (2) per 64 px image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from trainer.errors import Cancelled

if TYPE_CHECKING:
    from trainer.latent.data_codes import DataCodes

ProgressCallback = Callable[[int, int, str], None]       # (done, total, what)
REDUCED_SIDE = 16           # target side of the block-averaged images the pixel search runs on
COARSE_DIMS = 128           # principal components of the block means that every query scans
PCA_FIT = 10_000            # training images the principal components are fitted on
POOL = 2048                 # candidates taken by the coarse bound, then ordered by the block means
RERANK = 64                 # exact full-size distances computed first; doubled until the result is exact
MAX_RERANK = 512            # a live query stops growing here (512 x 12,288 values at 64 px), exact=False
BUILD_CHUNK = 2048          # images reduced per step: progress and cancel between steps
CERTIFY_SLACK = 1e-6        # squared-distance margin for float32 rounding in the matmul trick


@dataclass
class Neighbours:
    """The k nearest training images of one query, nearest first."""

    indices: np.ndarray        # (k,) int64 positions in the index's training images
    distances: np.ndarray      # (k,) float32 (see the module docstring for the units)
    space: str                 # "pixels" or "latent"
    exact: bool = True         # False only when a pixel query gave up growing its candidate set


def block_factor(image_size: int, side: int = REDUCED_SIDE) -> int:
    """The block size that reduces `image_size` to about `side`: a divisor of image_size, so blocks never overlap
    (overlapping blocks would break the lower bound)."""
    factor = max(1, math.ceil(image_size / side))
    while image_size % factor:
        factor += 1
    return factor


def _as_float_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Float [0, 1] (N, C, H, W) from uint8 (N, C, H, W) tensors or uint8 (N, H, W, C) / (H, W, C) arrays."""
    if isinstance(images, np.ndarray):
        array = images[None] if images.ndim == 3 else images
        tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2)
    else:
        tensor = images[None] if images.ndim == 3 else images
    return tensor.float() / 255 if tensor.dtype == torch.uint8 else tensor.float()


class NearestFaces:
    """An exact nearest-neighbour index over training images (pixels) and their latent codes.

    Read-only after construction, so worker threads may query it while the GUI thread holds it.
    """

    def __init__(self, images: torch.Tensor, reduced: torch.Tensor, centre: torch.Tensor, factor: int,
                 latents: np.ndarray | None = None, names: Sequence[str] | None = None):
        self.images = images                          # uint8 (N, C, H, W), shared with the data set (no copy)
        self.reduced = reduced                        # float32 (N, P): centred block averages / sqrt(P)
        self.centre = centre                          # (P,) the mean that was subtracted (smaller rounding)
        self.basis = _principal_basis(reduced)        # (P, COARSE_DIMS) orthonormal columns, or None (P is small)
        self.coarse = reduced if self.basis is None else reduced @ self.basis
        self.coarse_norms = (self.coarse * self.coarse).sum(1)
        self.factor = factor
        self.latents = None if latents is None else torch.from_numpy(np.ascontiguousarray(latents, np.float32))
        self.latent_norms = None if self.latents is None else (self.latents * self.latents).sum(1)
        self.names = list(names) if names is not None else None

    # ------------------------------------------------------------ building

    @classmethod
    def build(cls, images: torch.Tensor, latents: np.ndarray | None = None, names: Sequence[str] | None = None,
              progress: ProgressCallback | None = None, should_stop: Callable[[], bool] | None = None,
              side: int = REDUCED_SIDE) -> "NearestFaces":
        """Index uint8 (N, C, H, W) training images and, optionally, their latents (N, D) and file names.

        Raises Cancelled when `should_stop()` turns true (checked between chunks)."""
        if images.ndim != 4 or images.dtype != torch.uint8:
            raise ValueError(f"training images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if latents is not None and len(latents) != len(images):
            raise ValueError(f"{len(latents)} latents for {len(images)} training images")
        factor = block_factor(images.shape[-1], side)
        parts = []
        for start in range(0, len(images), BUILD_CHUNK):
            if should_stop is not None and should_stop():
                raise Cancelled("indexing the training faces")
            if progress is not None:
                progress(start, len(images), "indexing training faces")
            parts.append(_reduce(images[start:start + BUILD_CHUNK], factor))
        reduced = torch.cat(parts) if parts else torch.zeros((0, _reduced_size(images, factor)))
        centre = reduced.mean(0) if len(reduced) else torch.zeros(reduced.shape[1])
        reduced -= centre
        if progress is not None:
            progress(len(images), len(images), "indexing training faces")
        return cls(images, reduced, centre, factor, latents, names)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def has_latents(self) -> bool:
        return self.latents is not None

    def name(self, index: int) -> str:
        """The training image's file name, or "training image #i" (synthetic faces, unknown files)."""
        if self.names is not None and 0 <= index < len(self.names):
            return self.names[index]
        return f"training image #{index + 1}"

    # ------------------------------------------------------------ queries

    def query_pixels(self, image: np.ndarray | torch.Tensor, k: int = 8, max_rerank: int = MAX_RERANK) -> Neighbours:
        """The k training images nearest to one image (uint8 (H, W, 3), or a (C, H, W) tensor) in pixel RMS."""
        query = _as_float_nchw(image)
        self._check_image(query)
        reduced = _reduce(query, self.factor) - self.centre
        return self._search(query[0], reduced[0], self._coarse_d2(reduced)[0], k, max_rerank)

    def nearest_in_pixels(self, images: np.ndarray | torch.Tensor, max_rerank: int = 1024,
                          chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For many query images: the index of the nearest training image, its RMS distance, and whether each
        answer is exact (see the module docstring). Used by the memorisation check."""
        indices, distances, exact = [], [], []
        for start in range(0, len(images), chunk):
            batch = _as_float_nchw(images[start:start + chunk])
            self._check_image(batch)
            reduced = _reduce(batch, self.factor) - self.centre
            coarse = self._coarse_d2(reduced)
            for row in range(len(batch)):
                found = self._search(batch[row], reduced[row], coarse[row], 1, max_rerank)
                indices.append(found.indices[0])
                distances.append(found.distances[0])
                exact.append(found.exact)
        return np.asarray(indices, np.int64), np.asarray(distances, np.float32), np.asarray(exact, bool)

    def query_latent(self, z: np.ndarray, k: int = 8) -> Neighbours:
        """The k training images whose latent codes are nearest to z (Euclidean), exact."""
        if self.latents is None:
            raise ValueError("this index was built without latent codes")
        query = torch.from_numpy(np.asarray(z, np.float32).reshape(1, -1))
        if query.shape[1] != self.latents.shape[1]:
            raise ValueError(f"z has {query.shape[1]} values; the indexed codes have {self.latents.shape[1]}")
        d2 = (self.latent_norms + (query * query).sum(1) - 2 * (self.latents @ query[0])).clamp_min_(0)
        k = min(k, len(d2))
        values, order = torch.topk(d2, k, largest=False)
        return Neighbours(order.numpy().astype(np.int64), values.sqrt().numpy().astype(np.float32), "latent")

    def pixel_distance(self, image: np.ndarray | torch.Tensor, indices: np.ndarray) -> np.ndarray:
        """Exact RMS distances from one image to the given training images (the brute-force reference)."""
        query = _as_float_nchw(image)
        self._check_image(query)
        return self._rms(torch.as_tensor(indices), query[0]).numpy()

    # ------------------------------------------------------------ internals

    def _check_image(self, query: torch.Tensor) -> None:
        if tuple(query.shape[1:]) != tuple(self.images.shape[1:]):
            raise ValueError(f"query images are {tuple(query.shape[1:])} (C, H, W); the training images are "
                             f"{tuple(self.images.shape[1:])}")

    def _rms(self, rows: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Exact RMS differences on [0, 1] between the training images `rows` and one float [0, 1] (C, H, W) image
        (differences taken directly, on the 0..255 scale: exact to float32 rounding, no cancellation)."""
        difference = self.images[rows].reshape(len(rows), -1).float().sub_(query.reshape(-1) * 255)
        return (difference.square_().mean(1) / 255.0 ** 2).sqrt_()

    def _coarse_d2(self, reduced_queries: torch.Tensor) -> torch.Tensor:
        """(Q, N) squared coarse distances (bound 2) by the matmul trick, |a|^2 + |b|^2 - 2 a.b."""
        queries = reduced_queries if self.basis is None else reduced_queries @ self.basis
        q_norms = (queries * queries).sum(1, keepdim=True)
        return (q_norms + self.coarse_norms[None] - 2 * queries @ self.coarse.T).clamp_min_(0)

    def _search(self, query: torch.Tensor, reduced: torch.Tensor, coarse_d2: torch.Tensor, k: int,
                max_rerank: int) -> Neighbours:
        """The k nearest by exact distance, pruned by the two lower bounds (see the module docstring)."""
        n = len(coarse_d2)
        k = min(k, n)
        if k == 0:
            return Neighbours(np.zeros(0, np.int64), np.zeros(0, np.float32), "pixels")
        pool = min(n, max(k, POOL))
        while True:
            take = min(n, pool + 1)                      # one more: the best coarse bound left out
            coarse_values, order = torch.topk(coarse_d2, take, largest=False)
            coarse_rest = float(coarse_values[pool]) if take > pool else math.inf
            fine = (self.reduced[order[:pool]] - reduced).square_().sum(1)
            fine, by_fine = torch.sort(fine)
            candidates = order[:pool][by_fine]
            m = min(pool, max(k, RERANK))
            exact = self._rms(candidates[:m], query)
            while True:
                best = torch.argsort(exact)[:k]
                kth_squared = float(exact[best[-1]]) ** 2
                fine_rest = float(fine[m]) if m < pool else math.inf
                if kth_squared <= min(coarse_rest, fine_rest) - CERTIFY_SLACK:
                    return self._found(candidates[best], exact[best], True)
                if fine_rest > coarse_rest or m >= min(pool, max_rerank):
                    break
                grown = min(pool, max_rerank, 2 * m)           # more exact distances
                exact = torch.cat([exact, self._rms(candidates[m:grown], query)])
                m = grown
            if fine_rest <= coarse_rest or pool >= n:           # out of exact distances: say so
                return self._found(candidates[best], exact[best], False)
            pool = min(n, 4 * pool)                             # the coarse bound binds: a bigger pool

    @staticmethod
    def _found(indices: torch.Tensor, distances: torch.Tensor, exact: bool) -> Neighbours:
        return Neighbours(indices.numpy().astype(np.int64), distances.numpy().astype(np.float32), "pixels", exact)


def _principal_basis(reduced: torch.Tensor) -> torch.Tensor | None:
    """The top COARSE_DIMS principal directions (P, COARSE_DIMS) of centred rows, from up to PCA_FIT of them; None
    when the rows are no longer than that already."""
    if reduced.shape[1] <= COARSE_DIMS or len(reduced) == 0:
        return None
    picks = torch.linspace(0, len(reduced) - 1, min(len(reduced), PCA_FIT)).round().long()
    sample = reduced[picks].double()
    _, vectors = torch.linalg.eigh(sample.T @ sample)          # ascending eigenvalues
    return vectors[:, -COARSE_DIMS:].float().contiguous()


def _reduced_size(images: torch.Tensor, factor: int) -> int:
    return images.shape[1] * (images.shape[2] // factor) * (images.shape[3] // factor)


def _reduce(images: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, P) block averages of images on [0, 1], scaled by 1/sqrt(P) so that a squared L2 distance between two
    rows is the mean squared difference of the block averages."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images
    if factor > 1:
        x = F.avg_pool2d(x, factor)
    flat = x.reshape(len(x), -1)
    return flat / math.sqrt(flat.shape[1])


# ---------------------------------------------------------------- building from what the explorer has

def training_file_names(source: str, test_fraction: float, n_train: int, n_test: int) -> list[str] | None:
    """File names of a folder data set's training images, in the data set's order (trainer.data.labels); None for
    synthetic faces or when the folder no longer matches the loaded counts."""
    from trainer.data.labels import folder_image_names

    if source == "synthetic":
        return None
    try:
        names = folder_image_names(source, test_fraction, n_train, n_test)
    except OSError:
        return None
    return names[0] if names is not None else None


def build_training_index(codes: DataCodes, source: str = "synthetic", test_fraction: float = 0.1,
                         progress: ProgressCallback | None = None,
                         should_stop: Callable[[], bool] | None = None) -> NearestFaces | None:
    """The index of the explorer's training split: every training image of the shared DataCodes
    (trainer.latent.data_codes; the images already encoded there are reused, the rest encoded once), their latents
    and their file names.

    None when there are no training images. Raises Cancelled when asked to stop."""
    images = codes.images("train")
    if len(images) == 0:
        return None

    def on_chunk(done: int) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("encoding the training faces")
        if progress is not None:
            progress(done, len(images), "encoding training faces")

    latents, _ = codes.codes("train", on_chunk=on_chunk)
    names = training_file_names(source, test_fraction, len(images), len(codes.images("test")))
    return NearestFaces.build(images, latents, names, progress, should_stop)
