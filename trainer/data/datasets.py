"""Face data sets: an image folder or the built-in synthetic faces, decoded once into a cache that is
memory-mapped, not read whole.

`load_dataset()` lists a folder, decodes only the files its cache entry does not hold yet (spread over the CPU
cores), and returns tensors backed by the cache file: a load of a cached folder reads no image, and the operating
system shares the pages between processes. Training batches are sliced from these tensors.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import torch

from trainer.config import DataConfig
from trainer.data.dataset_cache import (HEADER_BYTES, BadCache, CacheEntry, CacheUnavailable, create_images_file,
                                        open_images, private_cache_root, remove_abandoned, remove_superseded)
from trainer.data.decoding import ProgressCallback
from trainer.data.derived import cache_root
from trainer.data.folder_data import FolderImages, folder_key, read_folder, read_folder_in_memory
from trainer.data.listing import DataError
from trainer.data.temporaries import STALE_TEMP_SECONDS, sweep_old_temporaries
from trainer.names import printable

log = logging.getLogger(__name__)

MAX_WARNED_PATHS = 5
SYNTHETIC_BLOCK = 1000            # faces rendered between two stop checks and progress reports

__all__ = ["DataError", "FaceDataset", "default_cache_dir", "load_dataset"]

T = TypeVar("T")


@dataclass
class FaceDataset:
    train: torch.Tensor                       # uint8 (N, 3, H, W), usually memory-mapped from the cache
    test: torch.Tensor                        # uint8 (M, 3, H, W)
    source: str                               # "synthetic" or the folder
    train_factors: np.ndarray | None = None   # float32 (N, F), synthetic data only
    test_factors: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    factor_categorical: tuple[bool, ...] = ()
    skipped: list[str] = field(default_factory=list)   # 'path: reason' of the files that could not be used

    @property
    def image_size(self) -> int:
        return int(self.train.shape[-1])

    @property
    def has_factors(self) -> bool:
        return self.test_factors is not None

    def describe(self) -> str:
        return (f"{printable(self.source)}: {len(self.train)} train / {len(self.test)} test images of "
                f"{self.image_size}px")


def default_cache_dir() -> Path:
    return cache_root() / "datasets"


def load_dataset(config: DataConfig, should_stop: Callable[[], bool] | None = None,
                 progress: ProgressCallback | None = None) -> FaceDataset:
    """The data set a config names, decoding only what its cache does not hold yet.

    `should_stop()` is polled while listing, waiting for another process, decoding and copying: when it turns true
    the workers end and Cancelled is raised within a fraction of a second, with nothing left in the cache.
    `progress(done, total, what)` reports the steps (total 0: not known yet).
    """
    config.validate()
    stop = should_stop or (lambda: False)
    report = progress or (lambda done, total, what: None)
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    sweep_old_temporaries(cache_root)
    remove_abandoned(cache_root, STALE_TEMP_SECONDS)
    if config.is_synthetic:
        return _load_synthetic(config, cache_root, stop, report)
    return _load_folder(config, cache_root, stop, report)


def _through_cache(cache_root: Path, cached: Callable[[Path], T], in_memory: Callable[[], T]) -> T:
    """cached(cache_root); when the cache folder cannot be written (read-only, full), cached() in a temporary
    folder; when that fails too, in_memory(). Either way the data set loads; only speed is lost."""
    try:
        return cached(cache_root)
    except CacheUnavailable as error:
        log.warning("could not write data cache %s (%s); using a temporary folder, not kept", cache_root, error)
    try:
        private = private_cache_root()
    except OSError as error:
        log.warning("no temporary folder either (%s): decoding in memory, on one core", error)
        return in_memory()
    try:
        return cached(private)
    except CacheUnavailable as error:
        log.warning("could not write data cache %s either (%s): decoding in memory, on one core", private, error)
    finally:
        shutil.rmtree(private, ignore_errors=True)      # the tensors keep the mapped file alive (POSIX)
    return in_memory()


def _tidy(entry: CacheEntry) -> None:
    """After an entry was written: older generations and formats go, then the least recently used entries."""
    from trainer.data.cache import prune_datasets
    remove_superseded(entry.root, keep=entry.path)
    prune_datasets(entry.root, keep=entry.path)


def _locked_update(entry: CacheEntry, stop: Callable[[], bool], update: Callable[[], T]) -> T:
    """update() with the entry's lock held; a failed write of the cache (no space...) becomes CacheUnavailable.
    (The source images are read without raising OSError: a file that cannot be read is skipped.)"""
    with entry.locked(stop):
        try:
            result = update()
        except BaseException as error:          # a stop, a bad folder, a full disk: nothing half-written stays
            entry.discard_temps()
            if isinstance(error, OSError) and not isinstance(error, CacheUnavailable):
                raise CacheUnavailable(f"{entry.root}: {error.strerror or error}") from None
            raise
    if entry.committed:
        _tidy(entry)
    return result


# ---------------------------------------------------------------- folders

def _load_folder(config: DataConfig, cache_root: Path, stop: Callable[[], bool],
                 report: ProgressCallback) -> FaceDataset:
    folder = Path(config.source).expanduser()
    size, fraction = config.image_size, config.test_fraction

    def cached(root: Path) -> FolderImages:
        entry = CacheEntry(root, folder_key(folder, size))
        return _locked_update(entry, stop, lambda: read_folder(folder, size, fraction, entry, stop, report))

    found = _through_cache(cache_root, cached, lambda: read_folder_in_memory(folder, size, fraction, stop, report))
    skipped = found.skipped
    if skipped:
        shown = "; ".join(skipped[:MAX_WARNED_PATHS])
        log.warning("skipped %d file(s) in %s that could not be used, e.g. %s", len(skipped), printable(folder),
                    shown)
    images, n_train = found.images, found.n_train
    if len(images) == 0:
        raise DataError(f"no usable image in {printable(folder)}: all {len(skipped)} image files failed to decode "
                        f"(first: {skipped[0] if skipped else '?'})")
    train, test = images[:n_train], images[n_train:]
    if len(train) == 0 or len(test) == 0:
        train, test = _resplit(images, config.test_fraction, folder)
    return FaceDataset(train=torch.from_numpy(train), test=torch.from_numpy(test), source=str(folder),
                       skipped=skipped)


def _resplit(images: np.ndarray, test_fraction: float, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """One side of DIR/train + DIR/test is empty: take the test images from the end of the other."""
    if len(images) < 2:
        raise DataError(f"{printable(folder)} has only {len(images)} usable image; at least 2 are needed")
    n_test = min(len(images) - 1, max(1, round(len(images) * test_fraction)))
    return images[:-n_test], images[-n_test:]


# ---------------------------------------------------------------- synthetic faces

def _load_synthetic(config: DataConfig, cache_root: Path, stop: Callable[[], bool],
                    report: ProgressCallback) -> FaceDataset:
    from trainer.data import synthetic

    n_test = max(1, round(config.synthetic_count * config.test_fraction))
    n_train = config.synthetic_count - n_test
    key_text = (f"synthetic r{synthetic.RENDERER_VERSION} n{config.synthetic_count} t{n_test} "
                f"s{config.synthetic_seed} px{config.image_size}")
    key = "synthetic-" + hashlib.sha256(key_text.encode()).hexdigest()[:24]

    def cached(root: Path) -> tuple[np.ndarray, np.ndarray]:
        entry = CacheEntry(root, key)
        return _locked_update(entry, stop, lambda: _read_synthetic(entry, config)
                              or _render_synthetic(entry, config, n_train, stop, report))

    def in_memory() -> tuple[np.ndarray, np.ndarray]:
        return synthetic.make_synthetic_faces(config.synthetic_count, seed=config.synthetic_seed,
                                              image_size=config.image_size)

    images, factors = _through_cache(cache_root, cached, in_memory)
    return FaceDataset(train=torch.from_numpy(images[:n_train]), test=torch.from_numpy(images[n_train:]),
                       source="synthetic", train_factors=factors[:n_train], test_factors=factors[n_train:],
                       factor_names=tuple(synthetic.FACTOR_NAMES),
                       factor_categorical=tuple(f.kind == "categorical" for f in synthetic.FACTORS))


def _read_synthetic(entry: CacheEntry, config: DataConfig) -> tuple[np.ndarray, np.ndarray] | None:
    from trainer.data import synthetic
    try:
        meta = entry.read_meta()
        if meta is None:
            return None
        n = config.synthetic_count
        if meta.get("kind") != "synthetic" or meta.get("n_rows") != n:
            raise BadCache("meta.json does not describe these synthetic faces")
        images = open_images(entry.file(meta, "images"), n, config.image_size)
        factors = np.load(entry.file(meta, "factors"), allow_pickle=False)
        if factors.dtype != np.float32 or factors.shape != (n, len(synthetic.FACTORS)):
            raise BadCache(f"the factors are {factors.dtype} {factors.shape}, not float32 {n} x "
                           f"{len(synthetic.FACTORS)}")
    except (BadCache, OSError, ValueError) as error:
        log.warning("ignoring damaged data cache %s (%s); rebuilding it", entry.path, error)
        return None
    entry.mark_used()
    return images, factors


def _render_synthetic(entry: CacheEntry, config: DataConfig, n_train: int, stop: Callable[[], bool],
                      report: ProgressCallback) -> tuple[np.ndarray, np.ndarray]:
    """Render the faces block by block straight into a new images file, then commit the entry."""
    from trainer.data import synthetic
    from trainer.errors import Cancelled

    n, size = config.synthetic_count, config.image_size
    images_path = entry.new_temp("images", ".npy")
    create_images_file(images_path, n, size)
    blocks = []
    with open(images_path, "r+b") as handle:
        handle.seek(HEADER_BYTES)
        for start in range(0, n, SYNTHETIC_BLOCK):
            if stop():
                raise Cancelled("rendering synthetic faces")
            report(start, n, "rendering synthetic faces")
            images, factors = synthetic.make_synthetic_faces(min(SYNTHETIC_BLOCK, n - start),
                                                             seed=config.synthetic_seed, image_size=size, start=start)
            handle.write(np.ascontiguousarray(images).data)
            blocks.append(factors)
    report(n, n, "rendering synthetic faces")
    factors = np.concatenate(blocks).astype(np.float32, copy=False)
    factors_path = entry.new_temp("factors", ".npy")
    np.save(factors_path, factors, allow_pickle=False)
    files = entry.commit({"kind": "synthetic", "n_rows": n, "n_train": n_train},
                         {"images": images_path, "factors": factors_path}, {})
    return open_images(files["images"], n, size), factors
