"""The "Open Recent" list of checkpoints, kept in QSettings."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

RECENT_KEY = "explorer/recent_checkpoints"
MAX_RECENT = 10


class RecentFiles:
    def __init__(self, key: str = RECENT_KEY, limit: int = MAX_RECENT):
        self.key = key
        self.limit = limit

    def paths(self) -> list[str]:
        value = QSettings().value(self.key, [])
        if isinstance(value, str):          # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(p) for p in (value or [])][: self.limit]

    def add(self, path: str) -> None:
        path = str(Path(path).resolve())
        paths = [path] + [p for p in self.paths() if p != path]
        QSettings().setValue(self.key, paths[: self.limit])

    def remove(self, path: str) -> None:
        QSettings().setValue(self.key, [p for p in self.paths() if p != path])

    def clear(self) -> None:
        QSettings().setValue(self.key, [])
