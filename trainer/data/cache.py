"""The app's cache folder: decoded data sets (datasets/) and derived checkpoint results (derived/).

Everything in it can be rebuilt; `vae-train cache` shows it and `vae-train cache --clear` empties it. Old data
sets are pruned (least recently used first) when the data caches grow beyond MAX_DATASET_CACHE_BYTES.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from trainer.data.dataset_cache import is_entry, remove_unless_locked
from trainer.data.derived import cache_root

log = logging.getLogger(__name__)

MAX_DATASET_CACHE_BYTES = 20 * 2**30


def folder_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def cache_summary(root: Path | None = None) -> str:
    """Where the caches are and how much they hold, one line each."""
    root = root or cache_root()
    lines = [f"cache folder: {root}"]
    for name, what in (("datasets", "decoded data sets"), ("derived", "evaluation results and latent statistics")):
        folder = root / name
        entries = len(_entries(folder))
        lines.append(f"  {name}/: {entries} entries, {folder_size(folder) / 1e6:.1f} MB ({what})")
    return "\n".join(lines)


def _entries(folder: Path) -> list[Path]:
    """The entries of a cache folder (not its hidden lock folder)."""
    return [entry for entry in folder.iterdir() if not entry.name.startswith(".")] if folder.is_dir() else []


def clear_cache(root: Path | None = None) -> int:
    """Delete the data and results caches; returns the bytes freed."""
    root = root or cache_root()
    freed = 0
    from trainer.data.dataset_cache import LOCKS, remove_unless_locked

    datasets = root / "datasets"
    if datasets.is_dir():        # an entry another process is writing (it holds the entry's lock) stays
        for entry in datasets.iterdir():
            if entry.name != LOCKS and entry.is_dir() and not entry.is_symlink():
                size = folder_size(entry)
                if remove_unless_locked(datasets, entry):
                    freed += size
    derived = root / "derived"
    if derived.is_dir():
        freed += folder_size(derived)
        shutil.rmtree(derived, ignore_errors=True)
    return freed


def prune_datasets(folder: Path, keep: Path | None = None, max_bytes: int = MAX_DATASET_CACHE_BYTES) -> None:
    """Remove the least recently used data caches until the folder holds at most max_bytes (never `keep`)."""
    if not folder.is_dir():
        return
    entries = []
    for entry in _entries(folder):
        if is_entry(entry):
            meta = entry / "meta.json"
            used = (meta if meta.exists() else entry).stat().st_mtime     # an entry being built has no meta yet
            entries.append((used, entry, folder_size(entry)))
    total = sum(size for _, _, size in entries)
    for _, entry, size in sorted(entries, key=lambda item: item[0]):
        if total <= max_bytes:
            break
        if keep is not None and entry == keep:
            continue
        if not remove_unless_locked(folder, entry):          # another process is writing it now
            continue
        log.info("pruned the data cache %s (%.0f MB) to keep the cache under %.0f GB", entry, size / 1e6,
                 max_bytes / 1e9)
        total -= size
