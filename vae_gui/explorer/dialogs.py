"""Every modal dialog the explorer opens, in one object that tests replace or patch so nothing blocks."""
from __future__ import annotations

import os
from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

CHECKPOINT_FILTER = "Checkpoints (*.pt);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp *.gif *.tif *.tiff *.ppm *.pgm);;All files (*)"
PNG_FILTER = "PNG images (*.png)"
GIF_FILTER = "Animated GIF (*.gif)"
STATE_FILTER = "Explorer state (*.json)"
LAST_FOLDER_KEY = "dialogs/last_folder"
FACE_SIZES = (64, 512)              # Save face: smallest and largest size offered
FACE_SIZE_KEY = "explorer/save_face_size"


def last_folder() -> str:
    """The folder of the last file chosen in any of the app's file dialogs ('' the first time)."""
    folder = str(QSettings().value(LAST_FOLDER_KEY, "") or "")
    return folder if folder and os.path.isdir(folder) else ""


def remember_folder(path: str) -> None:
    if path:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        QSettings().setValue(LAST_FOLDER_KEY, folder)


class DialogsLike(Protocol):
    """What the explorer asks of the user through modal dialogs. The panel takes one at construction: the real
    `Dialogs` in the app, tests/qt_doubles.RecordingDialogs in tests."""

    def error(self, title: str, text: str) -> None: ...
    def warning(self, title: str, text: str) -> None: ...
    def confirm(self, title: str, text: str) -> bool: ...
    def open_path(self, caption: str, file_filter: str, folder: str = "") -> str | None: ...
    def open_paths(self, caption: str, file_filter: str, folder: str = "") -> list[str]: ...
    def open_folder(self, caption: str) -> str | None: ...
    def save_path(self, caption: str, file_filter: str, suggested: str = "") -> str | None: ...
    def face_size(self, native: int) -> int | None: ...


class Dialogs:
    """Thin wrappers over QMessageBox and QFileDialog. Paths come back as str, or None when cancelled."""

    def __init__(self, parent: QWidget):
        self.parent = parent

    def error(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)

    def warning(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.parent, title, text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def open_path(self, caption: str, file_filter: str, folder: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, caption, folder or last_folder(), file_filter)
        remember_folder(path)
        return path or None

    def open_paths(self, caption: str, file_filter: str, folder: str = "") -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(self.parent, caption, folder or last_folder(), file_filter)
        if paths:
            remember_folder(paths[0])
        return list(paths)

    def open_folder(self, caption: str) -> str | None:
        folder = QFileDialog.getExistingDirectory(self.parent, caption, last_folder())
        remember_folder(folder)
        return folder or None

    def save_path(self, caption: str, file_filter: str, suggested: str = "") -> str | None:
        if suggested and not os.path.dirname(suggested) and last_folder():
            suggested = os.path.join(last_folder(), suggested)
        path, _ = QFileDialog.getSaveFileName(self.parent, caption, suggested, file_filter)
        remember_folder(path)
        return path or None

    def face_size(self, native: int) -> int | None:
        """Ask the size to save the face at (pixels per side), or None when cancelled."""
        low, high = FACE_SIZES
        default = int(QSettings().value(FACE_SIZE_KEY, max(low, native)) or native)
        size, ok = QInputDialog.getInt(self.parent, "Save face", f"Size in pixels ({low} to {high}; the model "
                                       f"draws {native} x {native}, larger sizes are smoothly enlarged):",
                                       min(max(default, low), high), low, high, 64)
        if ok:
            QSettings().setValue(FACE_SIZE_KEY, size)
        return size if ok else None
