"""Face data sets: an image folder or the built-in synthetic faces, decoded once into uint8 tensors and cached.

Training batches are sliced from the in-memory tensor; no file is decoded after the first load.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from trainer.config import DataConfig
from trainer.data.images import IMAGE_EXTENSIONS, ImageDecodeError, load_image
from trainer.errors import UserError
from trainer.training.interruptible import run_interruptibly

log = logging.getLogger(__name__)

CACHE_VERSION = 2            # bump when preprocessing changes, so old caches are not reused
MAX_WARNED_PATHS = 5


class DataError(UserError):
    """The data source cannot be used (missing folder, no usable image, ...)."""


@dataclass
class FaceDataset:
    train: torch.Tensor                       # uint8 (N, 3, H, W)
    test: torch.Tensor                        # uint8 (M, 3, H, W)
    source: str                               # "synthetic" or the folder
    train_factors: np.ndarray | None = None   # float32 (N, F), synthetic data only
    test_factors: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    factor_categorical: tuple[bool, ...] = ()
    skipped: list[str] = field(default_factory=list)   # files that could not be read

    @property
    def image_size(self) -> int:
        return int(self.train.shape[-1])

    @property
    def has_factors(self) -> bool:
        return self.test_factors is not None

    def describe(self) -> str:
        return f"{self.source}: {len(self.train)} train / {len(self.test)} test images of {self.image_size}px"


def default_cache_dir() -> Path:
    from trainer.data.derived import cache_root
    return cache_root() / "datasets"


def load_dataset(config: DataConfig) -> FaceDataset:
    """The data set a config names, from the disk cache when it is current."""
    from trainer.data.cache import remove_stale_temporaries
    config.validate()
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    remove_stale_temporaries(cache_root)
    if config.is_synthetic:
        return _load_synthetic(config, cache_root)
    return _load_folder(config, cache_root)


def load_dataset_interruptibly(config: DataConfig, should_stop: Callable[[], bool]) -> FaceDataset | None:
    """load_dataset() that returns None as soon as `should_stop()` is true (closing a window need not wait for a
    large folder to decode or synthetic faces to render); caches are written atomically."""
    return run_interruptibly(lambda: load_dataset(config), should_stop, name="vae-data-load")


# ---------------------------------------------------------------- folders

def list_images(folder: Path) -> list[Path]:
    """Image files below a folder, sorted; hidden files and folders and other extensions are ignored.

    Only regular files (or links to them) count: a FIFO would block reading forever, and a dangling link or a
    link loop cannot be read. Those are left out with one warning.
    """
    found, odd = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                path = Path(root) / name
                (found if _is_regular_file(path) else odd).append(path)
    if odd:
        shown = "; ".join(str(p) for p in sorted(odd)[:MAX_WARNED_PATHS])
        log.warning("skipped %d image name(s) in %s that are not regular files (dangling or looping links, "
                    "pipes, devices), e.g. %s", len(odd), folder, shown)
    return sorted(found)


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)      # follows links; a loop or a dangling link raises
    except (OSError, ValueError):
        return False


def split_by_path(paths: list[Path], root: Path, test_fraction: float) -> tuple[list[Path], list[Path]]:
    """Deterministic split by a hash of each relative path: stable when files are added or reordered."""
    train, test = [], []
    for path in paths:
        bucket = zlib.crc32(path.relative_to(root).as_posix().encode()) % 10_000
        (test if bucket < test_fraction * 10_000 else train).append(path)
    return train, test


def folder_splits(folder: Path, test_fraction: float) -> tuple[list[Path], list[Path]]:
    """Train and test file lists: DIR/train + DIR/test when present, else a split of the whole folder."""
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return list_images(folder / "train"), list_images(folder / "test")
    return split_by_path(list_images(folder), folder, test_fraction)


def _load_folder(config: DataConfig, cache_root: Path) -> FaceDataset:
    folder = Path(config.source).expanduser()
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist or is not a folder")
    train_paths, test_paths = folder_splits(folder, config.test_fraction)
    if not train_paths and not test_paths:
        raise DataError(f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found in {folder}")
    key = _folder_key(folder, train_paths, test_paths, config.image_size)
    cached = _read_cache(cache_root / key, config.image_size)
    if cached is not None and _any_now_readable(cached["meta"].get("skipped_paths", []), config.image_size):
        log.info("a file skipped before can be read now; decoding %s again", folder)
        cached = None
    if cached is None:
        arrays, skipped, skipped_paths = {}, [], []
        for split, paths in (("train", train_paths), ("test", test_paths)):
            arrays[split], bad = decode_images(paths, config.image_size)
            skipped += bad
            skipped_paths += _failed_paths(paths, bad)
        cached = {**arrays, "meta": {"source": str(folder), "skipped": skipped, "skipped_paths": skipped_paths,
                                     "n_train": len(arrays["train"]), "n_test": len(arrays["test"])}}
        _write_cache(cache_root / key, cached)
    skipped = cached["meta"]["skipped"]
    if skipped:
        shown = "; ".join(skipped[:MAX_WARNED_PATHS])
        log.warning("skipped %d unreadable image file(s) in %s, e.g. %s", len(skipped), folder, shown)
    train, test = cached["train"], cached["test"]
    if len(train) == 0 and len(test) == 0:
        raise DataError(f"no usable image in {folder}: all {len(skipped)} image files failed to decode "
                        f"(first: {skipped[0] if skipped else '?'})")
    if len(train) == 0 or len(test) == 0:
        train, test = _resplit(train if len(train) else test, config.test_fraction, folder)
    return FaceDataset(train=torch.from_numpy(train), test=torch.from_numpy(test), source=str(folder),
                       skipped=skipped)


def _resplit(images: np.ndarray, test_fraction: float, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """One side of DIR/train + DIR/test is empty: take the test images from the end of the other."""
    if len(images) < 2:
        raise DataError(f"{folder} has only {len(images)} usable image; at least 2 are needed")
    n_test = min(len(images) - 1, max(1, round(len(images) * test_fraction)))
    return images[:-n_test], images[-n_test:]


def decode_images(paths: list[Path], size: int) -> tuple[np.ndarray, list[str]]:
    """uint8 (N, 3, size, size) of the readable files, and 'path: reason' for the others."""
    def decode(path: Path):
        try:
            return load_image(path, size)
        except ImageDecodeError as error:
            return str(error)

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:       # PIL releases the GIL while decoding and resizing
        results = list(pool.map(decode, paths, chunksize=64))
    good = [r for r in results if isinstance(r, np.ndarray)]
    bad = [r for r in results if isinstance(r, str)]
    images = np.stack(good).transpose(0, 3, 1, 2) if good else np.zeros((0, 3, size, size), np.uint8)
    return np.ascontiguousarray(images), bad


def _failed_paths(paths: list[Path], messages: list[str]) -> list[str]:
    """The files the 'path: reason' messages of decode_images name, so a later load can try them again."""
    return [str(p) for p in paths if any(m.startswith(f"{p}: ") for m in messages)]


def _any_now_readable(paths: list[str], size: int) -> bool:
    """Whether a file that failed to decode before decodes now (its permissions were fixed, a mount came back)."""
    for path in paths[:100]:           # a folder with many broken files should not re-check them all each run
        try:
            load_image(Path(path), size)
            return True
        except (ImageDecodeError, OSError, ValueError):
            continue
    return False


def _folder_key(folder: Path, train: list[Path], test: list[Path], size: int) -> str:
    digest = hashlib.sha256(f"folder v{CACHE_VERSION} {folder.resolve()} {size}\n".encode())
    for split, paths in (("train", train), ("test", test)):
        for path in paths:
            try:
                info = path.stat()
                entry = f"{info.st_size} {info.st_mtime_ns} {info.st_mode}"
            except OSError:          # vanished since it was listed: it will be skipped when decoding
                entry = "missing"
            digest.update(f"{split} {path.relative_to(folder)} {entry}\n".encode())
    return "folder-" + digest.hexdigest()[:24]


# ---------------------------------------------------------------- synthetic faces

def _load_synthetic(config: DataConfig, cache_root: Path) -> FaceDataset:
    from trainer.data import synthetic

    n_test = max(1, round(config.synthetic_count * config.test_fraction))
    n_train = config.synthetic_count - n_test
    key_text = (f"synthetic v{CACHE_VERSION} r{synthetic.RENDERER_VERSION} n{config.synthetic_count} "
                f"t{n_test} s{config.synthetic_seed} px{config.image_size}")
    key = "synthetic-" + hashlib.sha256(key_text.encode()).hexdigest()[:24]
    cached = _read_cache(cache_root / key, config.image_size, need_factors=True)
    if cached is None:
        # Train/test split by index: the last n_test indices are the test set.
        images, factors = synthetic.make_synthetic_faces(config.synthetic_count, seed=config.synthetic_seed,
                                                         image_size=config.image_size)
        cached = {"train": images[:n_train], "test": images[n_train:],
                  "train_factors": factors[:n_train], "test_factors": factors[n_train:],
                  "meta": {"source": "synthetic", "skipped": [], "n_train": n_train, "n_test": n_test}}
        _write_cache(cache_root / key, cached)
    return FaceDataset(train=torch.from_numpy(cached["train"]), test=torch.from_numpy(cached["test"]),
                       source="synthetic", train_factors=cached["train_factors"],
                       test_factors=cached["test_factors"], factor_names=tuple(synthetic.FACTOR_NAMES),
                       factor_categorical=tuple(f.kind == "categorical" for f in synthetic.FACTORS))


# ---------------------------------------------------------------- cache

_ARRAYS = ("train", "test", "train_factors", "test_factors")


class _BadCache(ValueError):
    """A cache entry does not hold what its meta.json and the config say."""


def _read_cache(folder: Path, image_size: int, need_factors: bool = False) -> dict | None:
    """The cached arrays, or None when absent, unreadable or not matching (then it is rebuilt)."""
    if not folder.exists():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        result = {"meta": meta}
        for name in _ARRAYS:
            path = folder / f"{name}.npy"
            if path.exists():
                result[name] = np.load(path, allow_pickle=False)
        _check_cache(result, image_size, need_factors)
    except (OSError, ValueError, EOFError) as error:
        log.warning("ignoring damaged data cache %s (%s); rebuilding it", folder, error)
        return None
    try:
        os.utime(folder / "meta.json")       # the last use, for pruning the least recently used
    except OSError:
        pass
    return result


def _check_cache(cached: dict, image_size: int, need_factors: bool) -> None:
    meta = cached["meta"]
    if not isinstance(meta, dict) or not isinstance(meta.get("skipped"), list) \
            or not isinstance(meta.get("source"), str):
        raise _BadCache("meta.json is not a mapping with 'source' and 'skipped'")
    for split in ("train", "test"):
        images = cached.get(split)
        if images is None:
            raise _BadCache(f"{split}.npy is missing")
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3 \
                or images.shape[2:] != (image_size, image_size):
            raise _BadCache(f"{split}.npy is {images.dtype} {images.shape}, not uint8 N x 3 x {image_size} x "
                            f"{image_size}")
        if meta.get(f"n_{split}") != len(images):
            raise _BadCache(f"{split}.npy has {len(images)} images, meta.json says {meta.get(f'n_{split}')}")
        factors = cached.get(f"{split}_factors")
        if need_factors and (factors is None or factors.ndim != 2 or len(factors) != len(images)):
            raise _BadCache(f"{split}_factors.npy is missing or does not match {split}.npy")


def _write_cache(folder: Path, arrays: dict) -> None:
    """Write into a temporary folder, then rename, so a crash never leaves a half-written cache."""
    from trainer.data.cache import prune_datasets
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp", dir=folder.parent))
        for name in _ARRAYS:
            if arrays.get(name) is not None:
                np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(arrays["meta"]))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError as error:   # a read-only or full cache only costs speed
        log.warning("could not write data cache %s: %s", folder, error)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    prune_datasets(folder.parent, keep=folder)
