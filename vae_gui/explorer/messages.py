"""How the explorer's services talk to the user: a status line, and errors and warnings shown through the dialogs
passed in (tests pass tests/qt_doubles.RecordingDialogs, so nothing blocks). The signals let the window and tests
see every message."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from .dialogs import DialogsLike


class Messages(QObject):
    status = Signal(str)
    error_shown = Signal(str, str)          # title, message
    warning_shown = Signal(str, str)

    def __init__(self, dialogs: DialogsLike, parent: QObject | None = None):
        super().__init__(parent)
        self.dialogs = dialogs

    def say(self, text: str) -> None:
        self.status.emit(text)

    def error(self, title: str, message: str) -> None:
        self.error_shown.emit(title, message)
        self.status.emit(message.splitlines()[0] if message else title)
        self.dialogs.error(title, message)

    def warning(self, title: str, message: str) -> None:
        self.warning_shown.emit(title, message)
        self.dialogs.warning(title, message)
