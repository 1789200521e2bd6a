"""Image count and a few thumbnails of a data folder, computed off the GUI thread.

A daemon Python thread does the walk and the decoding (a folder of 200k files takes seconds to list), so closing
the window never waits for a scan. Results come back through a queued signal; stale results are dropped.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.data.datasets import folder_splits, list_images
from trainer.data.images import ImageDecodeError, load_image

THUMBNAIL_SIZE = 48


@dataclass
class FolderSummary:
    folder: str
    image_count: int = 0
    train_count: int = 0
    test_count: int = 0
    has_split_folders: bool = False        # DIR/train and DIR/test
    thumbnails: list[np.ndarray] = field(default_factory=list)     # uint8 (s, s, 3)
    unreadable: list[str] = field(default_factory=list)            # of the files tried for thumbnails
    error: str = ""


def summarize_folder(folder: Path | str, n_thumbnails: int = 8, test_fraction: float = 0.1,
                     size: int = THUMBNAIL_SIZE) -> FolderSummary:
    """Count the images training would use and decode the first few (slow for big folders: call off-thread)."""
    folder = Path(folder).expanduser()
    summary = FolderSummary(folder=str(folder))
    if not folder.is_dir():
        summary.error = f"{folder} is not a folder"
        return summary
    try:
        paths = list_images(folder)
        train, test = folder_splits(folder, test_fraction)
    except OSError as error:
        summary.error = f"cannot read {folder}: {error}"
        return summary
    summary.image_count, summary.train_count, summary.test_count = len(paths), len(train), len(test)
    summary.has_split_folders = (folder / "train").is_dir() and (folder / "test").is_dir()
    if not paths:
        summary.error = f"no image files found in {folder}"
    for path in paths[:n_thumbnails * 3]:          # try a few more so a bad file does not leave a gap
        if len(summary.thumbnails) >= n_thumbnails:
            break
        try:
            summary.thumbnails.append(load_image(path, size))
        except ImageDecodeError as error:
            summary.unreadable.append(str(error))
    return summary


class FolderScanner(QObject):
    """scan(folder) -> summary_ready(FolderSummary) later, in the GUI thread. Only the newest scan reports."""

    summary_ready = Signal(object)
    _finished = Signal(int, object)        # (scan id, summary), emitted from the scanning thread

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._scan_id = 0
        self._finished.connect(self._deliver)

    def scan(self, folder: str, test_fraction: float = 0.1) -> None:
        self._scan_id += 1
        scan_id = self._scan_id
        threading.Thread(target=self._scan, args=(scan_id, folder, test_fraction), name="vae-folder-scan",
                         daemon=True).start()

    def cancel(self) -> None:
        self._scan_id += 1

    def _scan(self, scan_id: int, folder: str, test_fraction: float) -> None:
        summary = summarize_folder(folder, test_fraction=test_fraction)
        try:
            self._finished.emit(scan_id, summary)
        except RuntimeError:                # the scanner was deleted (the window closed) meanwhile
            pass

    def _deliver(self, scan_id: int, summary: FolderSummary) -> None:
        if scan_id == self._scan_id:
            self.summary_ready.emit(summary)
