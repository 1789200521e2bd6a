"""The atlas: a 2-D map of encoded images (PCA, or t-SNE on request), and where new latents fall on it.

Only numpy and scikit-learn: the t-SNE runs in a child process (see _tsne_in_process), which imports this module,
so it stays free of torch and Qt. The encoded data behind a map (images, errors, labels) is trainer.latent.atlas_data.
"""
from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from trainer.errors import Cancelled, UserError

METHODS = ("pca", "tsne")
MAX_TSNE_POINTS = 10_000       # scikit-learn's Barnes-Hut t-SNE takes about a minute for 10k points on 2 cores
TSNE_NEIGHBOURS = 10           # latent neighbours averaged to place a new point on a t-SNE map
TSNE_POLL_S = 0.1              # how often a running t-SNE checks for a cancel request

ProgressCallback = Callable[[int, int, str], None]      # (done, total, what)


class AtlasError(UserError, ValueError):
    """An atlas cannot be made from these latents (too few, wrong shape, too many for t-SNE)."""


# ---------------------------------------------------------------- coordinates

def atlas_coordinates(latents: np.ndarray, method: str = "pca", max_tsne_points: int = MAX_TSNE_POINTS,
                      seed: int = 0, progress: ProgressCallback | None = None,
                      should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """(N, 2) float32 map coordinates of latents (N, D): the top two principal components, or a t-SNE.

    t-SNE refuses more than `max_tsne_points` points (build_atlas_map takes a random subset instead).
    """
    latents = _checked(latents)
    if method == "pca":
        return pca_map(latents)[0]
    if method == "tsne":
        if len(latents) > max_tsne_points:
            raise AtlasError(f"t-SNE is limited to {max_tsne_points:,} points and there are {len(latents):,}; "
                             "use PCA or a random subset")
        return tsne_coordinates(latents, seed, progress, should_stop)
    raise AtlasError(f"unknown atlas method {method!r}; use one of {', '.join(METHODS)}")


def _checked(latents: np.ndarray) -> np.ndarray:
    latents = np.asarray(latents, dtype=np.float32)
    if latents.ndim != 2 or latents.shape[1] < 1:
        raise AtlasError(f"latents must be a (N, D) array, got shape {latents.shape}")
    if len(latents) < 3:
        raise AtlasError(f"a map needs at least 3 encoded images, got {len(latents)}")
    if not np.isfinite(latents).all():
        raise AtlasError("some latents are not finite numbers (the model produced NaN or inf)")
    return latents


def pca_map(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates (N, 2), the mean (D,) and the two unit components (2, D) of a PCA of latents (N, D).

    The covariance-eigh solver is one (D, D) product for N >> D: about 0.1 s for 50k x 256. Signs are fixed (the
    largest entry positive) so the same data gives the same map, not a mirrored one. With D = 1 the map's second
    axis is zero.
    """
    from sklearn.decomposition import PCA     # imported here: scikit-learn is slow to import at start-up

    latents = np.asarray(latents, dtype=np.float32)
    k = min(2, latents.shape[1])
    pca = PCA(n_components=k, svd_solver="covariance_eigh").fit(latents)
    components = np.zeros((2, latents.shape[1]), np.float32)
    components[:k] = pca.components_
    largest = components[np.arange(2), np.abs(components).argmax(axis=1)]
    components *= np.where(largest < 0, -1.0, 1.0).astype(np.float32)[:, None]
    mean = pca.mean_.astype(np.float32)
    return ((latents - mean) @ components.T).astype(np.float32), mean, components


def tsne_coordinates(latents: np.ndarray, seed: int = 0, progress: ProgressCallback | None = None,
                     should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """scikit-learn's t-SNE of latents (N, D), in a child process so that a cancel stops it at once.

    scikit-learn's TSNE has no progress callback and cannot be interrupted, and a thread would keep burning a core
    after a cancel; a process can be ended. Progress reports the elapsed time only (done = total = 0: unknown).
    Like any "spawn" child, it imports the main script again: a script calling this needs the usual
    `if __name__ == "__main__":` guard (main.py and the installed entry points have it).
    """
    latents = np.ascontiguousarray(latents, dtype=np.float32)
    context = multiprocessing.get_context("spawn")     # never fork a process that runs Qt or torch threads
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_tsne_in_process, args=(latents, seed, sender), daemon=True,
                            name="vae-atlas-tsne")
    started = time.perf_counter()
    child.start()
    sender.close()
    try:
        while not receiver.poll(TSNE_POLL_S):
            if should_stop is not None and should_stop():
                raise Cancelled("t-SNE")
            if not child.is_alive() and not receiver.poll():
                raise AtlasError(f"the t-SNE process ended without a result (exit code {child.exitcode})")
            if progress is not None:
                progress(0, 0, f"t-SNE of {len(latents):,} points: {time.perf_counter() - started:.0f} s")
        kind, value = receiver.recv()
    finally:
        if child.is_alive():
            child.terminate()
        child.join(5)
        receiver.close()
    if kind == "error":
        raise AtlasError(f"t-SNE failed: {value}")
    return value


def _tsne_in_process(latents: np.ndarray, seed: int, sender) -> None:
    """The child process: fit, send ("ok", coordinates) or ("error", message)."""
    try:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (len(latents) - 1) / 3.0)))
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(latents)
        sender.send(("ok", coords.astype(np.float32)))
    except Exception as error:          # the parent reports it in our words
        sender.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        sender.close()


# ---------------------------------------------------------------- a map and projections onto it

@dataclass
class AtlasMap:
    """Map coordinates of some of the encoded images, and how to place any latent on the same map.

    PCA places a new latent exactly (the same linear projection). A t-SNE has no such map, so a new latent is put at
    the inverse-distance-weighted average of the map positions of its TSNE_NEIGHBOURS nearest mapped latents: exact
    for a mapped latent itself, and a fair guess for one inside the data; far outside the data it stays at the edge.
    """

    method: str
    coords: np.ndarray                 # (M, 2) float32
    indices: np.ndarray                # (M,) int64: which encoded images (rows of the latents) are on the map
    note: str = ""                     # e.g. "t-SNE of a random 10,000 of 50,000 images"
    mean: np.ndarray | None = None     # PCA: (D,)
    components: np.ndarray | None = None   # PCA: (2, D)
    mapped_latents: np.ndarray | None = field(default=None, repr=False)   # t-SNE: (M, D) float64 latents
    _squared_norms: np.ndarray | None = field(default=None, repr=False)

    def project(self, z: np.ndarray) -> np.ndarray:
        """(K, 2) map positions of latents (K, D) (or one latent (D,) -> (1, 2))."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if self.method == "pca":
            return ((z - self.mean) @ self.components.T).astype(np.float32)
        return self._nearest_average(z)

    def _nearest_average(self, z: np.ndarray) -> np.ndarray:
        reference = self.mapped_latents = np.asarray(self.mapped_latents, dtype=np.float64)
        if self._squared_norms is None:
            self._squared_norms = (reference * reference).sum(1)
        z = z.astype(np.float64)
        k = min(TSNE_NEIGHBOURS, len(reference))
        # |z - r|^2 = |z|^2 - 2 z.r + |r|^2, one matrix product: about a millisecond for one z and 10k points.
        # In float64, so that a mapped latent finds itself at distance ~0 and lands exactly on its own point.
        squared = ((z * z).sum(1)[:, None] - 2.0 * z @ reference.T + self._squared_norms[None, :])
        squared = np.maximum(squared, 0.0)
        nearest = np.argpartition(squared, k - 1, axis=1)[:, :k]
        distances = np.sqrt(np.take_along_axis(squared, nearest, axis=1))
        exact = distances <= 1e-6 * (1.0 + np.linalg.norm(z, axis=1, keepdims=True))
        weights = 1.0 / np.maximum(distances, 1e-12)
        weights = np.where(exact.any(axis=1, keepdims=True), exact.astype(np.float32), weights)
        weights /= weights.sum(axis=1, keepdims=True)
        return (weights[:, :, None] * self.coords[nearest]).sum(axis=1).astype(np.float32)


def build_atlas_map(latents: np.ndarray, method: str = "pca", max_tsne_points: int = MAX_TSNE_POINTS,
                    seed: int = 0, progress: ProgressCallback | None = None,
                    should_stop: Callable[[], bool] | None = None) -> AtlasMap:
    """A map of every latent (PCA), or of at most `max_tsne_points` of them picked at random (t-SNE)."""
    latents = _checked(latents)
    if method == "pca":
        coords, mean, components = pca_map(latents)
        return AtlasMap("pca", coords, np.arange(len(latents), dtype=np.int64), note=f"PCA of {len(latents):,} "
                        "images", mean=mean, components=components)
    if method != "tsne":
        raise AtlasError(f"unknown atlas method {method!r}; use one of {', '.join(METHODS)}")
    indices = np.arange(len(latents), dtype=np.int64)
    note = f"t-SNE of {len(latents):,} images"
    if len(latents) > max_tsne_points:
        indices = np.sort(np.random.default_rng(seed).choice(len(latents), max_tsne_points, replace=False))
        note = (f"t-SNE of a random {max_tsne_points:,} of {len(latents):,} images (t-SNE is slow beyond that; "
                "PCA shows them all)")
    subset = latents[indices]
    coords = tsne_coordinates(subset, seed, progress, should_stop)
    return AtlasMap("tsne", coords, indices, note=note, mapped_latents=subset.astype(np.float64))
