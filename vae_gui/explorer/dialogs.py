"""Every modal dialog the explorer opens, in one object that tests replace or patch so nothing blocks."""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

CHECKPOINT_FILTER = "Checkpoints (*.pt);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp *.gif *.tif *.tiff *.ppm *.pgm);;All files (*)"
PNG_FILTER = "PNG images (*.png)"
GIF_FILTER = "Animated GIF (*.gif)"
STATE_FILTER = "Explorer state (*.json)"


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
        path, _ = QFileDialog.getOpenFileName(self.parent, caption, folder, file_filter)
        return path or None

    def open_paths(self, caption: str, file_filter: str, folder: str = "") -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(self.parent, caption, folder, file_filter)
        return list(paths)

    def save_path(self, caption: str, file_filter: str, suggested: str = "") -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, caption, suggested, file_filter)
        return path or None
