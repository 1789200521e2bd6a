"""Test doubles for the Qt tests (a helper module, not a test file)."""
from __future__ import annotations


class RecordingDialogs:
    """Stands in for the explorer's dialogs: an error must never block a test on a modal box."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []
        self.next_path: str | None = None          # what a file dialog answers

    def error(self, title, text):
        self.errors.append((title, text))

    def warning(self, title, text):
        self.errors.append((title, text))

    def open_path(self, *args, **kwargs):
        return self.next_path
