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

from trainer.data.datasets import folder_splits, list_images
from trainer.data.images import ImageDecodeError, load_image

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
        check()
        try:
            summary.thumbnails.append(load_image(path, size))
        except ImageDecodeError as error:
            summary.unreadable.append(str(error))
    return summary


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
