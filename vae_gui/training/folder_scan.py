"""Image count and a few thumbnails of a data folder, computed off the GUI thread.

The walk and the decoding run as a background task (vae_gui.tasks; a folder of 200k files takes seconds to list).
A newer scan replaces the running one, whose result is dropped; a cancelled scan stops before its next thumbnail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.data import listing as folder_listing
from trainer.data.listing import DataError, split_files
from trainer.data.images import ImageDecodeError, load_image
from trainer.names import printable

from ..tasks import BackgroundTasks, TaskContext

THUMBNAIL_SIZE = 48
SCAN_CHANNEL = "scan folder"


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
                     size: int = THUMBNAIL_SIZE, check: Callable[[], None] = lambda: None) -> FolderSummary:
    """Count the images training would use and decode the first few (slow for big folders: call off-thread).

    `check` is called before each thumbnail and may raise to stop (a cancelled task)."""
    folder = Path(folder).expanduser()
    summary = FolderSummary(folder=printable(folder))
    try:
        listing = folder_listing.scan_folder(folder, should_stop=_stop_check(check))
    except DataError as error:
        summary.error = str(error)
        return summary
    train, test = split_files(listing, test_fraction)
    summary.image_count, summary.train_count, summary.test_count = len(listing.files), len(train), len(test)
    summary.has_split_folders = listing.split_folders
    if not listing.files:
        summary.error = f"no image files found in {printable(folder)}"
    for path in listing.paths()[:n_thumbnails * 3]:          # try a few more so a bad file does not leave a gap
        if len(summary.thumbnails) >= n_thumbnails:
            break
        check()
        try:
            summary.thumbnails.append(load_image(path, size))
        except ImageDecodeError as error:
            summary.unreadable.append(str(error))
    return summary


def _stop_check(check: Callable[[], None]) -> Callable[[], bool]:
    """A should_stop() for the folder walk from a `check` that raises to stop (the raise goes through)."""
    def should_stop() -> bool:
        check()
        return False
    return should_stop


def scan_folder(task: TaskContext, folder: str, test_fraction: float) -> FolderSummary:
    """The background task: the folder's summary, stopping between thumbnails once cancelled."""
    return summarize_folder(folder, test_fraction=test_fraction, check=task.check)


class FolderScanner(QObject):
    """scan(folder) -> summary_ready(FolderSummary) later, in the GUI thread. Only the newest scan reports."""

    summary_ready = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.tasks = BackgroundTasks(self)
        self.tasks.finished.connect(self._deliver)
        self.tasks.failed.connect(self._deliver_failure)
        self._folder = ""

    def scan(self, folder: str, test_fraction: float = 0.1) -> None:
        self._folder = folder
        self.tasks.start(SCAN_CHANNEL, scan_folder, folder, test_fraction)

    def cancel(self) -> None:
        self.tasks.cancel(SCAN_CHANNEL)

    def shutdown(self) -> None:
        self.tasks.shutdown()

    def _deliver(self, _channel: str, summary: FolderSummary) -> None:
        self.summary_ready.emit(summary)

    def _deliver_failure(self, _channel: str, message: str) -> None:
        self.summary_ready.emit(FolderSummary(folder=self._folder, error=f"cannot scan {self._folder}: {message}"))
