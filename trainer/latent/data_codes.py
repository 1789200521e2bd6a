"""The latent codes of a data set's images under one model, each image encoded at most once.

Several parts of the explorer need codes of the same images: the background preparation (statistics, fitted
samplers, the gallery), the atlas (every image on the map) and the nearest-training-faces index (every training
image). One DataCodes is made per opened checkpoint (trainer.latent.prepared) and handed to each of them: each asks
for the rows it needs, and only rows nobody asked for before are encoded. It holds the model that encodes, so a new
checkpoint (another file, or a followed run's next save) gets a new DataCodes: codes never outlive their weights.

Background tasks may ask at the same time from different threads: one chunk is encoded at a time, under a lock, and
the other asker finds it done.
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np
import torch

from trainer.latent.codec import encode_images

SPLITS = ("test", "train")
CHUNK = 256                  # images encoded per lock: a waiting task (or a cancel request) waits one chunk at most


class DataCodes:
    """Posterior means (and log-variances, for a VAE) of a FaceDataset's test and training images, filled on
    demand and kept."""

    def __init__(self, model: torch.nn.Module, dataset):
        self.model = model
        self.dataset = dataset                       # trainer.data.datasets.FaceDataset: uint8 (N, C, H, W) splits
        self.encoded = 0                             # images encoded so far, all splits (each counted once)
        dim, variational = model.latent_dim, bool(getattr(model, "is_variational", False))
        self._means = {split: np.zeros((len(self.images(split)), dim), np.float32) for split in SPLITS}
        self._logvars = ({split: np.zeros_like(self._means[split]) for split in SPLITS} if variational else None)
        self._known = {split: np.zeros(len(self.images(split)), bool) for split in SPLITS}
        self._lock = threading.Lock()

    @classmethod
    def reuse(cls, codes: "DataCodes | None", model: torch.nn.Module, dataset) -> "DataCodes":
        """`codes` when they were made with `model`, else new (empty) codes of `dataset` under it."""
        return codes if codes is not None and codes.made_with(model) else cls(model, dataset)

    def images(self, split: str) -> torch.Tensor:
        """The data set's uint8 (N, C, H, W) images of one split ("test" or "train")."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return self.dataset.test if split == "test" else self.dataset.train

    def made_with(self, model: torch.nn.Module | None) -> bool:
        """Whether these are codes of `model` (the very object: reloaded weights are another model)."""
        return model is self.model

    def codes(self, split: str, rows: np.ndarray | None = None,
              on_chunk: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Means (N, D) and log-variances (N, D) (None for an AE) of the split's images at `rows` (all when None),
        encoding only those not encoded before.

        `on_chunk(done)` is called before each chunk with how many of `rows` are handled so far; it may raise to
        stop (the codes encoded until then are kept for the next asker)."""
        rows = np.arange(len(self.images(split)), dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
        for start in range(0, len(rows), CHUNK):
            if on_chunk is not None:
                on_chunk(start)
            self._encode_missing(split, rows[start:start + CHUNK])
        logvars = self._logvars[split][rows] if self._logvars is not None else None
        return self._means[split][rows], logvars

    def spread_means(self, split: str, n: int) -> np.ndarray:
        """Posterior means of `n` images spread evenly over the split (all when it has fewer)."""
        return self.codes(split, evenly_spaced_rows(len(self.images(split)), n))[0]

    def _encode_missing(self, split: str, rows: np.ndarray) -> None:
        with self._lock:
            todo = np.unique(rows[~self._known[split][rows]])
            if len(todo) == 0:
                return
            means, logvars = encode_images(self.model, self.images(split)[torch.from_numpy(todo)])
            self._means[split][todo] = means
            if self._logvars is not None and logvars is not None:
                self._logvars[split][todo] = logvars
            self._known[split][todo] = True
            self.encoded += len(todo)


def evenly_spaced_rows(count: int, n: int) -> np.ndarray:
    """n row indices spread over range(count) (a folder's order may follow its file names); all when fewer."""
    if count <= n:
        return np.arange(count, dtype=np.int64)
    return np.linspace(0, count - 1, num=n).round().astype(np.int64)
