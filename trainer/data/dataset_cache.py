"""Decoded data sets in the cache folder: one entry per data set, read memory-mapped, changed atomically under a lock.

An entry is a folder `datasets/<key>/` whose `meta.json` names its current files (`images-<token>.npy`, a raw
uint8 N x 3 x S x S array, and small side files). Files are written under temporary names, renamed to new names,
and only then does a new meta.json replace the old one (temp + rename): a reader sees the old state or the new one,
never half of one. Files that meta.json does not name are left-overs (a killed writer, a superseded generation) and
are removed by the next process that holds the entry's lock. A lock file per entry (`datasets/.locks/<key>.lock`,
the `filelock` package) lets one process at a time read or change an entry, so two processes loading the same data
never corrupt it: the second waits, then finds the entry current.

Nothing here decides what an entry holds; trainer.data.datasets and trainer.data.folder_data do.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import shutil
import struct
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from filelock import FileLock, Timeout

from trainer.errors import Cancelled

log = logging.getLogger(__name__)

FORMAT = "vae-face-explorer-data-cache"
FORMAT_VERSION = 3            # bump when decoding or the layout changes, so older entries are never read
META = "meta.json"
LOCKS = ".locks"
TEMP_MARK = ".tmp"
HEADER_BYTES = 128            # a fixed .npy header, so the row count can be rewritten in place
LOCK_POLL_S = 0.2
COPY_BLOCK_BYTES = 16 << 20


ENTRY_NAME = re.compile(r"(folder|synthetic)-[0-9a-f]{24}")     # what keys look like, in every format so far


def is_entry(path: Path) -> bool:
    """Whether a path in a cache folder is a data set entry (of any format): never remove anything else, since
    `--cache-dir` may name a folder that holds other things too."""
    return ENTRY_NAME.fullmatch(path.name) is not None and path.is_dir() and not path.is_symlink()


class BadCache(ValueError):
    """A cache entry does not hold what its meta.json says."""


class CacheUnavailable(OSError):
    """The cache folder cannot be written (read-only, no space)."""


class CacheEntry:
    def __init__(self, root: Path, key: str):
        self.root = Path(root)
        self.key = key
        self.path = self.root / key
        self.committed = False            # this process wrote a new state
        self._temps: list[Path] = []

    # ------------------------------------------------------------ the lock
    @contextlib.contextmanager
    def locked(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[None]:
        """Hold the entry's lock; waits for another process (saying so once), Cancelled when asked to stop."""
        try:
            (self.root / LOCKS).mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.root / LOCKS / f"{self.key}.lock")
            said = False
            while True:
                if should_stop():
                    raise Cancelled("waiting for the data cache")
                try:
                    lock.acquire(timeout=LOCK_POLL_S)
                    break
                except Timeout:
                    if not said:
                        log.info("waiting for another process that is preparing the same data (%s)", self.path)
                        said = True
        except OSError as error:
            raise CacheUnavailable(f"cannot use the cache folder {self.root}: {error}") from None
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------ reading
    def read_meta(self) -> dict | None:
        """meta.json, or None when the entry does not exist; BadCache when it is not ours or unreadable."""
        try:
            meta = json.loads((self.path / META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise BadCache(f"meta.json cannot be read ({error})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION \
                or not isinstance(meta.get("files"), dict):
            raise BadCache("meta.json is not a current data cache description")
        return meta

    def file(self, meta: dict, role: str) -> Path:
        name = meta["files"].get(role)
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise BadCache(f"meta.json names no valid {role} file")
        return self.path / name

    def mark_used(self) -> None:
        """The last use, for pruning the least recently used entries."""
        with contextlib.suppress(OSError):
            os.utime(self.path / META)

    # ------------------------------------------------------------ writing (with the lock held)
    def new_temp(self, role: str, suffix: str) -> Path:
        """A new temporary file name in the entry, removed by discard_temps() unless committed."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CacheUnavailable(f"cannot write in the cache folder {self.root}: {error}") from None
        path = self.path / f"{role}-{secrets.token_hex(6)}{TEMP_MARK}{suffix}"
        self._temps.append(path)
        return path

    def commit(self, meta: dict, new_files: dict[str, Path], kept_files: dict[str, Path]) -> dict[str, Path]:
        """Rename the new files to final names and write meta.json naming them and the kept ones; then remove
        everything else in the entry (older generations, left-overs). Returns each role's file."""
        files = {role: path.name for role, path in kept_files.items()}
        for role, temp in new_files.items():
            final = temp.with_name(temp.name.replace(TEMP_MARK, ""))
            os.replace(temp, final)
            self._temps.remove(temp)
            self._temps.append(final)          # until meta.json names it
            files[role] = final.name
        meta = {**meta, "format": FORMAT, "version": FORMAT_VERSION, "files": files}
        write_atomically(self.path / META, json.dumps(meta).encode())
        self.committed = True
        self._temps.clear()
        self.remove_garbage(keep=set(files.values()) | {META})
        return {role: self.path / name for role, name in files.items()}

    def discard_temps(self) -> None:
        """After a failure or a stop: remove what this process wrote, and the entry folder if nothing else is in it."""
        for path in self._temps:
            with contextlib.suppress(OSError):
                path.unlink()
        self._temps.clear()
        with contextlib.suppress(OSError):
            self.path.rmdir()                  # only when empty: a committed entry stays

    def remove_garbage(self, keep: set[str]) -> None:
        if not self.path.is_dir():
            return
        for item in self.path.iterdir():
            if item.name not in keep:
                with contextlib.suppress(OSError):       # on Windows a file another process maps stays till later
                    shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a small file under a temporary name, flush it to disk, and rename it over `path`."""
    fd, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=TEMP_MARK, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def private_cache_root() -> Path:
    """A temporary folder for one load when the cache folder cannot be written (removed once mapped)."""
    return Path(tempfile.mkdtemp(prefix="vae-face-data-"))


def remove_superseded(root: Path, keep: Path) -> None:
    """Remove entries no current code reads (older formats and versions, e.g. one full copy per edit of a folder):
    a data set has one live entry, its key. Entries being written (locked) are left alone."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry == keep or not is_entry(entry):
            continue
        try:
            meta = json.loads((entry / META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue                                   # being built, or left-over temporaries: see below
        except (OSError, ValueError):
            meta = {}
        if not (isinstance(meta, dict) and meta.get("format") == FORMAT and meta.get("version") == FORMAT_VERSION):
            remove_unless_locked(root, entry)


def remove_abandoned(root: Path, max_age_s: float) -> None:
    """Entries without meta.json (a writer killed before its first commit) older than max_age_s, unless locked."""
    if not root.is_dir():
        return
    now = time.time()
    for entry in root.iterdir():
        if not is_entry(entry) or (entry / META).exists():
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > max_age_s:
                remove_unless_locked(root, entry)


def remove_unless_locked(root: Path, entry: Path) -> bool:
    """Remove an entry of the cache folder `root` unless a process holds its lock; returns whether it did."""
    lock_path = root / LOCKS / f"{entry.name}.lock"
    if not lock_path.exists():
        shutil.rmtree(entry, ignore_errors=True)
        return True
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        return False
    try:
        shutil.rmtree(entry, ignore_errors=True)
    finally:
        lock.release()
    return True


# ---------------------------------------------------------------- the images file: a .npy with a fixed header

def npy_header(shape: tuple[int, ...]) -> bytes:
    """A version 1.0 .npy header for a C-ordered uint8 array, padded to HEADER_BYTES."""
    text = "{'descr': '|u1', 'fortran_order': False, 'shape': %r, }" % (tuple(int(n) for n in shape),)
    body = HEADER_BYTES - 10
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body) + (text.ljust(body - 1) + "\n").encode("latin1")


def create_images_file(path: Path, n: int, size: int) -> None:
    """An images file for n rows, its space reserved now so a full disk fails before decoding, not half-way."""
    total = HEADER_BYTES + n * 3 * size * size
    with open(path, "wb") as handle:
        handle.write(npy_header((n, 3, size, size)))
        handle.truncate(total)
        if hasattr(os, "posix_fallocate") and total > HEADER_BYTES:
            try:
                os.posix_fallocate(handle.fileno(), 0, total)
            except OSError as error:
                if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):     # the file system cannot reserve
                    raise


def shrink_images_file(path: Path, n: int, size: int) -> None:
    """Keep the first n rows (after failed files were left out)."""
    with open(path, "r+b") as handle:
        handle.write(npy_header((n, 3, size, size)))
        handle.truncate(HEADER_BYTES + n * 3 * size * size)


def open_images(path: Path, n: int, size: int) -> np.ndarray:
    """The images file memory-mapped (pages are read when used, and shared with other processes); BadCache when
    it does not hold n x 3 x size x size uint8. Copy-on-write, so a tensor made from it may be written to."""
    if n == 0:
        return np.zeros((0, 3, size, size), np.uint8)
    try:
        images = np.load(path, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise BadCache(f"{path.name} cannot be read ({error})") from None
    if images.dtype != np.uint8 or images.shape != (n, 3, size, size):
        raise BadCache(f"{path.name} holds {images.dtype} {images.shape}, not uint8 {n} x 3 x {size} x {size}")
    return images


def copy_rows(source: Path, target: Path, source_rows: np.ndarray, target_rows: np.ndarray, size: int) -> None:
    """Copy image rows between images files: source_rows[k] to target_rows[k], target rows increasing.

    Runs of consecutive rows are copied as one block, by the kernel where it can (os.copy_file_range), so an edit
    of a large folder costs a file copy, not a decode. Copying within one file works when rows only move down.
    """
    if not len(source_rows):
        return
    row = 3 * size * size
    breaks = np.flatnonzero((np.diff(source_rows) != 1) | (np.diff(target_rows) != 1)) + 1
    starts, ends = np.concatenate([[0], breaks]), np.concatenate([breaks, [len(source_rows)]])
    with open(source, "rb", buffering=0) as src, open(target, "r+b", buffering=0) as dst:
        for first, end in zip(starts.tolist(), ends.tolist()):
            _copy_block(src, dst, HEADER_BYTES + int(source_rows[first]) * row,
                        HEADER_BYTES + int(target_rows[first]) * row, (end - first) * row, same_file=source == target)


def _copy_block(src, dst, src_offset: int, dst_offset: int, length: int, same_file: bool) -> None:
    if src_offset == dst_offset and same_file:
        return
    if not same_file and hasattr(os, "copy_file_range"):
        try:
            while length > 0:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), length, src_offset, dst_offset)
                if copied <= 0:
                    break
                src_offset, dst_offset, length = src_offset + copied, dst_offset + copied, length - copied
        except OSError as error:
            if error.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):    # copied below
                raise
    while length > 0:
        src.seek(src_offset)
        block = src.read(min(COPY_BLOCK_BYTES, length))
        if not block:
            raise BadCache("an images file is shorter than its header says")
        dst.seek(dst_offset)
        view, written = memoryview(block), 0
        while written < len(block):
            written += dst.write(view[written:])
        src_offset, dst_offset, length = src_offset + len(block), dst_offset + len(block), length - len(block)
