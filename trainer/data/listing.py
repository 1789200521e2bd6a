"""The image files of a data folder: a fast walk (os.scandir, one stat per file), the train/test split, and names
shown safely.

Paths are kept as bytes relative to the folder (what the OS stores), so a name that is not valid in the current
locale (a `\\xff` byte, any non-ASCII name under LC_ALL=C) is read like any other and the split does not depend on
the locale. The walk follows links to folders but never enters a folder twice (a link loop), and skips what it
cannot use (unreadable sub-folders, links to nothing, pipes, files that vanish meanwhile), reporting each.
"""
from __future__ import annotations

import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

from trainer.data.images import IMAGE_EXTENSIONS
from trainer.errors import Cancelled, UserError
from trainer.names import printable

SPLIT_FOLDERS = (b"train", b"test")
STOP_CHECK_EVERY = 4096           # entries of one folder between two stop checks (a few milliseconds)
_IMAGE_SUFFIXES = tuple(ext.encode() for ext in IMAGE_EXTENSIONS)


class DataError(UserError):
    """The data source cannot be used (missing folder, no usable image, ...)."""


class ImageFile(NamedTuple):
    rel: bytes              # path below the data folder, '/'-separated
    size: int
    mtime_ns: int


@dataclass
class FolderListing:
    """The image files of a folder, sorted by path, and what the walk had to leave out ('path: reason')."""
    folder: Path
    files: list[ImageFile]
    split_folders: bool                     # DIR/train + DIR/test
    problems: list[str] = field(default_factory=list)

    def paths(self, files: list[ImageFile] | None = None) -> list[Path]:
        return [self.folder / os.fsdecode(f.rel) for f in (self.files if files is None else files)]


def check_folder(folder: Path) -> None:
    """Refuse a data folder that is missing, not a folder, or not readable, naming it as the user gave it."""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        raise DataError(f"data folder {printable(folder)} does not exist") from None
    except OSError as error:
        raise DataError(f"data folder {printable(folder)} cannot be read ({_reason(error)})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise DataError(f"data folder {printable(folder)} is not a folder")
    try:
        with os.scandir(folder):
            pass
    except OSError as error:
        raise DataError(f"data folder {printable(folder)} cannot be read ({_reason(error)})") from None


def has_split_folders(folder: Path) -> bool:
    return all(os.path.isdir(os.path.join(folder, os.fsdecode(name))) for name in SPLIT_FOLDERS)


def scan_folder(folder: Path, should_stop: Callable[[], bool] = lambda: False) -> FolderListing:
    """Image files below `folder` (only DIR/train and DIR/test when both exist), sorted by path; hidden files and
    folders and other extensions are ignored. Raises DataError when the folder itself cannot be read, Cancelled on
    request."""
    folder = Path(folder)
    check_folder(folder)
    split = has_split_folders(folder)
    walk = _Walk(os.fsencode(folder), should_stop)
    for top in (SPLIT_FOLDERS if split else (b"",)):
        walk.run(top)
    return FolderListing(folder=folder, files=walk.files, split_folders=split, problems=walk.problems)


class _Walk:
    """Depth first, each folder's entries in name order: the files come out sorted by path (component by
    component) with no sort of the whole list."""

    def __init__(self, root: bytes, should_stop: Callable[[], bool]):
        self.root, self.should_stop = root, should_stop
        self.files: list[ImageFile] = []
        self.problems: list[str] = []
        self.seen_dirs: set[tuple[int, int]] = set()

    def _where(self, rel: bytes) -> str:
        return printable(os.path.join(self.root, rel) if rel else self.root)

    def run(self, top: bytes) -> None:
        opened = self._open(top)
        stack = [opened] if opened else []
        while stack:
            if self.should_stop():
                raise Cancelled("reading the data folder")
            rel_dir, entries = stack.pop()
            for index, entry in enumerate(entries):
                if index % STOP_CHECK_EVERY == STOP_CHECK_EVERY - 1 and self.should_stop():
                    raise Cancelled("reading the data folder")
                rel = rel_dir + b"/" + entry.name if rel_dir else entry.name
                if self._is_dir(entry):
                    opened = self._open(rel)
                    if opened:                # the rest of this folder comes after the sub-folder's files
                        stack += [(rel_dir, entries[index + 1:]), opened]
                        break
                else:
                    self._file(entry, rel)

    def _open(self, rel_dir: bytes) -> tuple[bytes, list[os.DirEntry]] | None:
        """The folder's entries (not hidden), sorted by name; None when it cannot be read or was read already."""
        path = os.path.join(self.root, rel_dir) if rel_dir else self.root
        try:
            info = os.stat(path)
            if (info.st_dev, info.st_ino) in self.seen_dirs:
                self.problems.append(f"{self._where(rel_dir)}: a link to a folder already read (a link loop); "
                                     f"not read twice")
                return None
            self.seen_dirs.add((info.st_dev, info.st_ino))
            with os.scandir(path) as listed:
                entries = [entry for entry in listed if not entry.name.startswith(b".")]
        except OSError as error:
            self.problems.append(f"{self._where(rel_dir)}: folder not read ({_reason(error)})")
            return None
        entries.sort(key=lambda entry: entry.name)
        return rel_dir, entries

    @staticmethod
    def _is_dir(entry: os.DirEntry) -> bool:
        try:
            return entry.is_dir()                 # follows links; no system call for plain folders and files
        except OSError:
            return False                          # a link that cannot be followed: judged as a file

    def _file(self, entry: os.DirEntry, rel: bytes) -> None:
        if not entry.name.lower().endswith(_IMAGE_SUFFIXES):
            return
        try:
            info = entry.stat()           # follows links
        except FileNotFoundError:
            reason = ("a link to nothing" if entry.is_symlink() else "vanished while the folder was read")
            self.problems.append(f"{self._where(rel)}: {reason}")
            return
        except OSError as error:
            self.problems.append(f"{self._where(rel)}: not readable ({_reason(error)})")
            return
        if not stat.S_ISREG(info.st_mode):
            self.problems.append(f"{self._where(rel)}: not a regular file (a pipe, device or socket)")
            return
        self.files.append(ImageFile(rel, info.st_size, info.st_mtime_ns))


def _reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if error.strerror:
        return error.strerror.lower()
    return type(error).__name__


# ---------------------------------------------------------------- the split

def is_test_file(rel: bytes, test_fraction: float) -> bool:
    """Deterministic by a hash of the relative path's bytes: stable when files are added, renamed elsewhere or
    listed in another order, and the same under any locale."""
    return zlib.crc32(rel) % 10_000 < test_fraction * 10_000


def split_files(listing: FolderListing, test_fraction: float) -> tuple[list[ImageFile], list[ImageFile]]:
    """Train and test files: DIR/train and DIR/test when the folder has both, else a split by path."""
    if listing.split_folders:
        return ([f for f in listing.files if f.rel.startswith(b"train/")],
                [f for f in listing.files if f.rel.startswith(b"test/")])
    train, test = [], []
    for file in listing.files:
        (test if is_test_file(file.rel, test_fraction) else train).append(file)
    return train, test


def list_images(folder: Path | str) -> list[Path]:
    """Image files below a folder, sorted (problems are left out; load_dataset() reports them)."""
    listing = scan_folder(Path(folder))
    return listing.paths()


def folder_splits(folder: Path | str, test_fraction: float) -> tuple[list[Path], list[Path]]:
    """Train and test file lists, in the order the data set holds them."""
    listing = scan_folder(Path(folder))
    train, test = split_files(listing, test_fraction)
    return listing.paths(train), listing.paths(test)
