"""The one test double for the explorer's dialogs (a helper module, not a test file): pass it at construction,
`ExplorerPanel(dialogs=RecordingDialogs())` or `MainWindow(dialogs=...)`, so no tab keeps a real modal dialog."""
from __future__ import annotations


class RecordingDialogs:
    """Implements vae_gui.explorer.dialogs.DialogsLike: records messages; file dialogs answer with what a test put
    in `next_path` / `next_paths` (None or [] = cancelled); Save face answers `next_size`; confirm answers
    `confirm_answer`."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        self.next_path: str | None = None
        self.next_paths: list[str] = []
        self.next_size: int | None = 64
        self.confirm_answer = False

    def error(self, title, text):
        self.errors.append((title, text))

    def warning(self, title, text):
        self.warnings.append((title, text))

    def confirm(self, title, text):
        return self.confirm_answer

    def open_path(self, *args, **kwargs):
        return self.next_path

    def open_paths(self, *args, **kwargs):
        return list(self.next_paths) if self.next_paths else ([self.next_path] if self.next_path else [])

    def open_folder(self, *args, **kwargs):
        return self.next_path

    def save_path(self, *args, **kwargs):
        return self.next_path

    def face_size(self, native):
        return self.next_size
