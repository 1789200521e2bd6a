"""What a drag-and-drop carries: the one place that decides it.

`classify_drop(mime)` looks at the first dropped URL (the first one decides, as in most desktop apps) and says
what it is; the main window decides what to do with each kind where it is dropped. Kinds:

    checkpoint      a .pt / .pth file
    image           an image file the data pipeline reads (trainer.data.images.IMAGE_EXTENSIONS)
    image folder    any other folder (its images are counted by the Train tab's folder scan, off the GUI thread)
    run directory   a training run's folder: it has checkpoints/last.pt or checkpoints/best.pt
    runs folder     a folder with run directories in it (a runs/ folder); never training data: its runs'
                    preview PNGs are not faces to train on
    explorer state  a .json file written by "Save explorer state"
    unsupported     anything else; `message` names the file and says what can be dropped

Classifying is cheap (a file name, a folder's checkpoint paths and its first few sub-folders, a small .json),
because it runs on every drag-enter.
"""
from __future__ import annotations

import enum
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData

from trainer.data.images import IMAGE_EXTENSIONS
from trainer.latent.explorer_state import STATE_FORMAT
from trainer.training.run_files import RunFiles

CHECKPOINT_SUFFIXES = (".pt", ".pth")
STATE_SUFFIX = ".json"
MAX_STATE_BYTES = 1_000_000         # explorer states are a few kB; a bigger .json is something else
MAX_ENTRIES_LOOKED_AT = 200         # of a dropped folder, when looking for runs in it (a data folder may hold 200k)
WHAT_CAN_BE_DROPPED = ("a checkpoint (.pt), an image, a folder of images, a run folder or a saved explorer "
                       "state (.json)")


class DropKind(enum.Enum):
    CHECKPOINT = "checkpoint"
    IMAGE = "image"
    IMAGE_FOLDER = "image folder"
    RUN_DIRECTORY = "run directory"
    RUNS_FOLDER = "runs folder"
    STATE_FILE = "explorer state"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Drop:
    kind: DropKind
    path: Path
    message: str = ""               # for UNSUPPORTED: what to tell the user, naming the file

    @property
    def run_checkpoint(self) -> Path:
        """A run directory's model to open: best.pt once a validation chose it, else last.pt."""
        return RunFiles(self.path).model_checkpoint


def classify_drop(mime: QMimeData) -> Drop | None:
    """What the drag carries, judged by its first URL; None when it carries no URL at all (dragged text)."""
    urls = mime.urls() if mime.hasUrls() else []
    if not urls:
        return None
    url = urls[0]
    if not url.isLocalFile():
        return _unsupported(Path(url.fileName() or url.toString()),
                            f"{url.toString()} is not a file on this computer; download it first")
    return classify_path(Path(url.toLocalFile()))


def classify_path(path: Path) -> Drop:
    if path.is_dir():
        if _is_run_directory(path):
            return Drop(DropKind.RUN_DIRECTORY, path)
        return Drop(DropKind.RUNS_FOLDER if _holds_runs(path) else DropKind.IMAGE_FOLDER, path)
    if not path.is_file():
        return _unsupported(path, f"{path} does not exist (any more)")
    suffix = path.suffix.lower()
    if suffix in CHECKPOINT_SUFFIXES:
        return Drop(DropKind.CHECKPOINT, path)
    if suffix in IMAGE_EXTENSIONS:
        return Drop(DropKind.IMAGE, path)
    if suffix == STATE_SUFFIX:
        if _is_explorer_state(path):
            return Drop(DropKind.STATE_FILE, path)
        return _unsupported(path, f"{path.name} is a JSON file but not a saved explorer state; this window takes "
                                  f"{WHAT_CAN_BE_DROPPED}")
    return _unsupported(path, f"{path.name} cannot be opened here; this window takes {WHAT_CAN_BE_DROPPED}")


def _unsupported(path: Path, message: str) -> Drop:
    return Drop(DropKind.UNSUPPORTED, path, message)


def _is_run_directory(path: Path) -> bool:
    run = RunFiles(path)
    return run.last_checkpoint.is_file() or run.best_checkpoint.is_file()


def _holds_runs(folder: Path) -> bool:
    """Whether one of the folder's first entries is a run directory."""
    try:
        with os.scandir(folder) as entries:
            for entry in itertools.islice(entries, MAX_ENTRIES_LOOKED_AT):
                if entry.is_dir() and _is_run_directory(Path(entry.path)):
                    return True
    except OSError:
        return False
    return False


def _is_explorer_state(path: Path) -> bool:
    try:
        if path.stat().st_size > MAX_STATE_BYTES:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == STATE_FORMAT
