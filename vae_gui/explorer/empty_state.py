"""What the Explore tab shows before any checkpoint is open."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    open_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("No checkpoint open", self)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        self.message = QLabel(
            "Open a trained model (a .pt checkpoint) to explore its latent space: move sliders to morph a face, "
            "draw random samples, interpolate between faces and find directions such as a smile.\n\n"
            "No model yet? Train one in the Train tab (the default VAE learns the built-in synthetic faces in a "
            "few minutes on a CPU), then press \"Open in explorer\". You can also drop a .pt file here.", self)
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # A wrapped label placed with an alignment flag gets no height-for-width; fix its size instead.
        self.message.setFixedWidth(560)
        self.message.setMinimumHeight(self.message.heightForWidth(560))
        self.open_button = QPushButton("Open checkpoint...", self)
        self.open_button.setMinimumWidth(200)
        self.open_button.clicked.connect(self.open_requested)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for widget in (title, self.message, self.open_button):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
            layout.addSpacing(12)
        layout.addStretch(3)
