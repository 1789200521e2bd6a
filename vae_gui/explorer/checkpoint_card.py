"""A box with a checkpoint's description (checkpoint_text.py) and, as its tooltip, what each number means."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from trainer.training.checkpoint import LoadedCheckpoint

from .checkpoint_text import describe_checkpoint, metrics_tooltip


class CheckpointCard(QGroupBox):
    def __init__(self, title: str = "Checkpoint", parent: QWidget | None = None):
        super().__init__(title, parent)
        self.text = QLabel("", self)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        QVBoxLayout(self).addWidget(self.text)

    def show_checkpoint(self, checkpoint: LoadedCheckpoint | None) -> None:
        self.text.setText(describe_checkpoint(checkpoint) if checkpoint is not None else "")
        self.text.setToolTip(metrics_tooltip(checkpoint) if checkpoint is not None else "")
