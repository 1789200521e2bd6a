"""The explorer's checkpoint box: mirrors the session (the checkpoint's description, the notes, the progress of the
background encoding)."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QWidget

from .. import theme
from ..model import Session
from .checkpoint_card import CheckpointCard


class InfoPanel(CheckpointCard):
    """Mirrors the session: the checkpoint's description, the notes (one line per section, in order) and the
    progress of the background encoding."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__("Checkpoint", parent)
        self.session = session
        self.stats_line = QLabel("", self)
        self.stats_line.setWordWrap(True)
        theme.set_tone(self.stats_line, theme.Tone.MUTED)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        layout = self.layout()
        layout.addWidget(self.stats_line)
        layout.addWidget(self.progress)
        session.checkpoint_changed.connect(self._show_checkpoint)
        session.model_replaced.connect(self._show_checkpoint)
        session.notes_changed.connect(self._show_notes)
        session.progress_changed.connect(self._show_progress)

    def _show_checkpoint(self) -> None:
        self.show_checkpoint(self.session.checkpoint)

    def _show_notes(self) -> None:
        self.stats_line.setText("\n".join(self.session.notes.values()))

    def _show_progress(self) -> None:
        progress = self.session.progress
        self.progress.setVisible(progress is not None)
        if progress is not None:
            self.progress.setRange(0, max(1, progress.total))
            self.progress.setValue(progress.done)
            self.progress.setFormat(f"{progress.what} %p%")
