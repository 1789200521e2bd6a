"""An image folder as decoded images: listed, compared file by file with its cache entry, and only what changed
decoded.

The entry (trainer.data.dataset_cache) holds one images file, rows in the data set's order (the train files sorted
by path, then the test files), and a table with one line per file: its path, size, modification time, content hash
and row (-1: it could not be decoded, with the reason in meta.json). A load lists the folder and compares:
an unchanged file keeps its row; a touched or renamed file whose content hash is known reuses a row; only the
others are decoded. When the rows are already in order nothing is rewritten and the file is simply mapped; else
a new images file is assembled by copying the kept rows (a file copy, no decoding), and the old one is removed.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from trainer.data.dataset_cache import (HEADER_BYTES, BadCache, CacheEntry, copy_rows, create_images_file,
                                        open_images, shrink_images_file)
from trainer.data.decoding import DIGEST_BYTES, DecodeJob, ProgressCallback, decode_files, file_digest
from trainer.data.images import IMAGE_EXTENSIONS
from trainer.data.listing import DataError, FolderListing, ImageFile, scan_folder, split_files
from trainer.errors import Cancelled
from trainer.names import printable

log = logging.getLogger(__name__)

RETRY_FAILED_MAX = 100        # files that failed before are tried again (permissions fixed...), up to this many
STOP_CHECK_FILES = 256        # changed files hashed between two stop checks


@dataclass
class FolderImages:
    images: np.ndarray            # uint8 (N, 3, S, S), memory-mapped; the train rows first
    n_train: int
    skipped: list[str]            # 'path: reason' of every file that could not be used


def folder_key(folder: Path, size: int) -> str:
    digest = hashlib.sha256(b"folder %d %s" % (size, os.fsencode(folder.resolve())))
    return "folder-" + digest.hexdigest()[:24]


def _listed(folder: Path, test_fraction: float, should_stop: Callable[[], bool],
            progress: ProgressCallback) -> tuple[FolderListing, list[ImageFile], list[ImageFile]]:
    progress(0, 0, "reading the folder")
    listing = scan_folder(folder, should_stop)
    train, test = split_files(listing, test_fraction)
    if not train and not test:
        raise DataError(f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found in {printable(folder)}")
    return listing, train, test


def _skipped(folder: Path, listing: FolderListing, failed: list[tuple[bytes, str]]) -> list[str]:
    return listing.problems + [f"{printable(folder / os.fsdecode(rel))}: {reason}" for rel, reason in failed]


def read_folder_in_memory(folder: Path, size: int, test_fraction: float, should_stop: Callable[[], bool],
                          progress: ProgressCallback) -> FolderImages:
    """The folder's images decoded into memory, in this process: the fallback when no cache file can be written."""
    listing, train, test = _listed(folder, test_fraction, should_stop, progress)
    wanted = train + test
    images = np.empty((len(wanted), 3, size, size), np.uint8)
    job = DecodeJob(os.fsencode(folder), [f.rel for f in wanted], list(range(len(wanted))), size)
    failures = decode_files(job, should_stop, progress, into=images).failures
    kept = [j for j in range(len(wanted)) if j not in failures]
    n_train = sum(1 for j in kept if j < len(train))
    failed = [(wanted[j].rel, failures[j]) for j in sorted(failures)]
    return FolderImages(images[kept] if failures else images, n_train, _skipped(folder, listing, failed))


def read_folder(folder: Path, size: int, test_fraction: float, entry: CacheEntry,
                should_stop: Callable[[], bool], progress: ProgressCallback) -> FolderImages:
    """The folder's images through its cache entry (hold the entry's lock)."""
    listing, train, test = _listed(folder, test_fraction, should_stop, progress)
    update = _Update(entry, os.fsencode(folder), train + test, size)
    try:
        update.read_old()
        result = update.run(should_stop, progress)
    except BadCache as error:           # the old entry turned out damaged while being copied: decode afresh
        entry.discard_temps()
        log.warning("ignoring damaged data cache %s (%s); rebuilding it", entry.path, error)
        update.old = None
        result = update.run(should_stop, progress)
    n_train = int(np.count_nonzero(update.rows[:len(train)] >= 0))
    return FolderImages(result, n_train, _skipped(folder, listing, update.failed()))


@dataclass
class _Table:
    """One line per file of the data set, in the data set's order."""
    rels: list[bytes]
    size: np.ndarray              # int64
    mtime_ns: np.ndarray          # int64
    digest: np.ndarray            # uint8 (n, DIGEST_BYTES)
    row: np.ndarray               # int64: the file's row, -1 when it could not be decoded

    def save(self, path: Path) -> None:
        ends = np.cumsum([len(rel) for rel in self.rels], dtype=np.int64)
        with open(path, "wb") as handle:
            np.savez(handle, rel_bytes=np.frombuffer(b"".join(self.rels), np.uint8), rel_ends=ends, size=self.size,
                     mtime_ns=self.mtime_ns, digest=self.digest, row=self.row)

    @classmethod
    def load(cls, path: Path) -> _Table:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                blob, ends = arrays["rel_bytes"].tobytes(), arrays["rel_ends"]
                table = cls([], arrays["size"], arrays["mtime_ns"], arrays["digest"], arrays["row"])
        except (OSError, ValueError, KeyError, EOFError) as error:
            raise BadCache(f"{path.name} cannot be read ({error})") from None
        n = len(ends)
        if any(len(a) != n for a in (table.size, table.mtime_ns, table.digest, table.row)) \
                or table.digest.shape[1:] != (DIGEST_BYTES,) or (n and ends[-1] != len(blob)):
            raise BadCache(f"{path.name} is inconsistent")
        starts = np.concatenate([[0], ends[:-1]]).tolist()
        table.rels = [blob[a:b] for a, b in zip(starts, ends.tolist())]
        return table


class _Update:
    """Bring one folder's cache entry up to date with a listing. Per wanted file j: src_old[j] is the row of the old
    images file that holds it, src_new[j] its row among the freshly decoded ones (-1: neither)."""

    def __init__(self, entry: CacheEntry, root: bytes, wanted: list[ImageFile], size: int):
        self.entry, self.root, self.wanted, self.size = entry, root, wanted, size
        n = len(wanted)
        self.rels = [f.rel for f in wanted]
        self.sizes = np.fromiter((f.size for f in wanted), np.int64, n)
        self.mtimes = np.fromiter((f.mtime_ns for f in wanted), np.int64, n)
        self.old: tuple[dict, _Table, Path] | None = None
        self.rows = np.full(n, -1, np.int64)
        self.reasons: dict[int, str] = {}

    def failed(self) -> list[tuple[bytes, str]]:
        return [(self.rels[j], self.reasons[j]) for j in sorted(self.reasons)]

    # ------------------------------------------------------------ the entry as it is
    def read_old(self) -> None:
        try:
            meta = self.entry.read_meta()
            if meta is None:
                return
            table = _Table.load(self.entry.file(meta, "table"))
            images = self.entry.file(meta, "images")
            _check(meta, table, images, self.size)
            self.old = (meta, table, images)
        except BadCache as error:
            log.warning("ignoring damaged data cache %s (%s); rebuilding it", self.entry.path, error)

    # ------------------------------------------------------------ the update
    def run(self, should_stop: Callable[[], bool], progress: ProgressCallback) -> np.ndarray:
        n = len(self.wanted)
        self.reasons = {}
        digests = np.zeros((n, DIGEST_BYTES), np.uint8)
        src_old, to_decode = self._plan(digests, should_stop, progress)
        src_new = np.full(n, -1, np.int64)
        scratch = None
        if to_decode:
            scratch, failures = self._decode(to_decode, digests, should_stop, progress)
            for k, j in enumerate(to_decode):
                if k in failures:
                    self.reasons[j] = failures[k]
                else:
                    src_new[j] = k
        kept = (src_old >= 0) | (src_new >= 0)
        self.rows = np.where(kept, np.cumsum(kept) - 1, -1)
        n_rows = int(kept.sum())
        table = _Table(self.rels, self.sizes, self.mtimes, digests, self.rows)
        images, is_new = self._assemble(scratch, src_old, src_new, n_rows)
        if self.old is not None and not is_new and _same_table(self.old[1], table) \
                and self.old[0].get("failed_reasons") == self._failed_reasons():
            self.entry.mark_used()                         # nothing changed: nothing written
            self.entry.discard_temps()                     # a file tried again that failed again
        else:
            images = self._commit(table, images, is_new, n_rows)
        return open_images(images, n_rows, self.size)

    def _plan(self, digests: np.ndarray, should_stop: Callable[[], bool],
              progress: ProgressCallback) -> tuple[np.ndarray, list[int]]:
        """src_old for the files the old entry holds unchanged, and the files to decode; the reasons of files that
        failed before and are not tried again. Vectorised: a 100k-file folder compares in milliseconds."""
        n = len(self.wanted)
        src_old = np.full(n, -1, np.int64)
        if self.old is None:
            return src_old, list(range(n))
        meta, table, _ = self.old
        if table.rels == self.rels:
            where = np.arange(n)
        else:
            index = {rel: i for i, rel in enumerate(table.rels)}
            where = np.fromiter((index.get(rel, -1) for rel in self.rels), np.int64, n)
        known = where >= 0
        at = np.where(known, where, 0)
        unchanged = known & (table.size[at] == self.sizes) & (table.mtime_ns[at] == self.mtimes)
        old_rows = table.row[at]
        good = unchanged & (old_rows >= 0)
        src_old[good] = old_rows[good]
        digests[good] = table.digest[at[good]]
        failed_before = np.flatnonzero(unchanged & (old_rows < 0)).tolist()
        old_reasons = dict(zip(np.flatnonzero(table.row < 0).tolist(), meta["failed_reasons"]))
        for j in failed_before[RETRY_FAILED_MAX:]:
            self.reasons[j] = old_reasons[int(where[j])]
        changed = np.flatnonzero(~unchanged).tolist()
        known = self._known_content(changed, src_old, digests, should_stop, progress)
        return src_old, sorted(failed_before[:RETRY_FAILED_MAX] + known)

    def _known_content(self, changed: list[int], src_old: np.ndarray, digests: np.ndarray,
                       should_stop: Callable[[], bool], progress: ProgressCallback) -> list[int]:
        """Changed files whose content a cached row already holds (a touched, renamed or copied file) reuse that
        row; the others are returned, to be decoded. (Hashing a file costs a small fraction of decoding it.)"""
        if not changed:
            return changed
        table = self.old[1]
        good = np.flatnonzero(table.row >= 0)
        by_digest = dict(zip(map(bytes, table.digest[good]), table.row[good].tolist()))
        unknown = []
        for done, j in enumerate(changed):
            if done % STOP_CHECK_FILES == 0:
                if should_stop():
                    raise Cancelled("checking the changed files")
                progress(done, len(changed), "checking changed files")
            try:
                digest = file_digest(os.path.join(self.root, self.rels[j]))
            except OSError:
                unknown.append(j)              # decoding will say why
                continue
            if digest in by_digest:
                src_old[j] = by_digest[digest]
                digests[j] = np.frombuffer(digest, np.uint8)
            else:
                unknown.append(j)
        return unknown

    def _decode(self, to_decode: list[int], digests: np.ndarray, should_stop: Callable[[], bool],
                progress: ProgressCallback) -> tuple[Path, dict[int, str]]:
        scratch = self.entry.new_temp("images", ".npy")
        create_images_file(scratch, len(to_decode), self.size)
        job = DecodeJob(self.root, [self.rels[j] for j in to_decode], list(range(len(to_decode))), self.size,
                        str(scratch), HEADER_BYTES)
        result = decode_files(job, should_stop, progress)
        for k, j in enumerate(to_decode):
            if k not in result.failures:
                digests[j] = result.digests[k]
        return scratch, result.failures

    def _assemble(self, scratch: Path | None, src_old: np.ndarray, src_new: np.ndarray,
                  n_rows: int) -> tuple[Path, bool]:
        """The images file holding the rows in order: the old one when they already are, the decoded one when all
        rows are new (failed files squeezed out), else a new file of copied rows. Returns (file, whether new)."""
        from_old, from_new = np.flatnonzero(src_old >= 0), np.flatnonzero(src_new >= 0)
        if self.old is not None and not len(from_new) and n_rows == self.old[0]["n_rows"] \
                and np.array_equal(src_old[from_old], self.rows[from_old]):
            return self.old[2], False
        if not len(from_old) and scratch is not None:
            copy_rows(scratch, scratch, src_new[from_new], self.rows[from_new], self.size)   # rows only move down
            shrink_images_file(scratch, n_rows, self.size)
            return scratch, True
        target = self.entry.new_temp("images", ".npy")
        create_images_file(target, n_rows, self.size)
        if len(from_old):
            copy_rows(self.old[2], target, src_old[from_old], self.rows[from_old], self.size)
        if len(from_new):
            copy_rows(scratch, target, src_new[from_new], self.rows[from_new], self.size)
        return target, True

    def _failed_reasons(self) -> list[str]:
        return [self.reasons[j] for j in sorted(self.reasons)]

    def _commit(self, table: _Table, images: Path, is_new: bool, n_rows: int) -> Path:
        table_path = self.entry.new_temp("table", ".npz")
        table.save(table_path)
        meta = {"kind": "folder", "source": printable(os.fsdecode(self.root)), "image_size": self.size,
                "n_rows": n_rows, "failed_reasons": self._failed_reasons()}
        new, kept = ({"images": images, "table": table_path}, {}) if is_new else \
            ({"table": table_path}, {"images": images})
        return self.entry.commit(meta, new, kept)["images"]


def _same_table(a: _Table, b: _Table) -> bool:
    return (a.rels == b.rels and np.array_equal(a.size, b.size) and np.array_equal(a.mtime_ns, b.mtime_ns)
            and np.array_equal(a.row, b.row) and np.array_equal(a.digest, b.digest))


def _check(meta: dict, table: _Table, images: Path, size: int) -> None:
    """The entry's parts agree: rows 0..n-1 in order, one reason per failed file, an images file of the right
    length. (Cheap checks only: a load must not read the whole file.)"""
    n_rows, reasons = meta.get("n_rows"), meta.get("failed_reasons")
    if meta.get("kind") != "folder" or meta.get("image_size") != size or not isinstance(n_rows, int) \
            or not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise BadCache("meta.json does not describe this folder's images")
    good = table.row[table.row >= 0]
    if not np.array_equal(good, np.arange(n_rows)) or len(table.row) - len(good) != len(reasons):
        raise BadCache("the file table does not match the images")
    try:
        length = images.stat().st_size
    except OSError as error:
        raise BadCache(f"{images.name} cannot be read ({error})") from None
    if length != HEADER_BYTES + n_rows * 3 * size * size:
        raise BadCache(f"{images.name} has {length} bytes, not the {n_rows} images meta.json says")
