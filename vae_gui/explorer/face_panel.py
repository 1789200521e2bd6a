"""The left column: the live face, display toggles, the actions on z, and the encoded-image comparison.

The comparison box is always there (empty until an image is encoded), so the buttons never move."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .. import theme
from ..model import Face
from ..qt_images import array_to_qimage
from .face_view import FaceView

ACTIONS = (
    ("reset", "Reset to mean", "Set every slider to the mean of the encoded data"),
    ("random_prior", "Random (prior)", "Draw z from the prior N(0, I)"),
    ("random_data", "Random (data)", "Start from a random test image's encoding"),
    ("open_image", "Encode image...", "Encode an image file (or drop one on the window) and start from it"),
    ("save", "Save face...", "Save the current face as PNG, at a size you choose (64 to 512 px)"),
    ("copy", "Copy face", "Copy the current face to the clipboard"),
)


EMPTY_CAPTION = "Random (data) or Encode image... shows the original and its reconstruction here."


class FacePanel(QWidget):
    action = Signal(str)           # one of the ACTIONS keys

    def __init__(self, face: Face, parent: QWidget | None = None):
        super().__init__(parent)
        self.face = face
        self.view = FaceView(self, minimum=160, placeholder="")
        self.view.set_smooth(True)
        self.smooth = QCheckBox("Smooth", self)
        self.smooth.setChecked(True)
        self.smooth.setToolTip("Smooth scaling; untick to see the model's pixels as crisp squares")
        self.actual_size = QCheckBox("1:1", self)
        self.actual_size.setToolTip("Show the face at its real size (one screen pixel per image pixel)")
        self.z_summary = QLabel("", self)
        theme.set_tone(self.z_summary, theme.Tone.MUTED)
        metrics = self.z_summary.fontMetrics()     # fixed: its text changes on every slider move (no re-layout)
        self.z_summary.setFixedSize(metrics.horizontalAdvance("|z| = 0000.00") + 8, metrics.height() + 4)
        self.z_summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.smooth.toggled.connect(self.view.set_smooth)
        self.actual_size.toggled.connect(self.view.set_actual_size)
        toggles = QHBoxLayout()
        toggles.addWidget(self.smooth)
        toggles.addWidget(self.actual_size)
        toggles.addStretch(1)
        toggles.addWidget(self.z_summary)

        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for index, (key, text, tip) in enumerate(ACTIONS):
            button = QPushButton(text, self)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, k=key: self.action.emit(k))
            grid.addWidget(button, index // 2, index % 2)
            self.buttons[key] = button

        self.encoded_box = QGroupBox("Encoded image", self)
        self.encoded_box.setToolTip("The image you started from and the model's reconstruction of it")
        self.original_view = FaceView(self.encoded_box, minimum=64)
        self.reconstruction_view = FaceView(self.encoded_box, minimum=64)
        for view in (self.original_view, self.reconstruction_view):
            view.setFixedSize(64, 64)
            view.set_smooth(True)
        self.original_view.setToolTip("original")
        self.reconstruction_view.setToolTip("reconstruction")
        self.encoded_caption = QLabel("", self.encoded_box)
        self.encoded_caption.setWordWrap(True)
        theme.set_tone(self.encoded_caption, theme.Tone.MUTED)
        caption_metrics = self.encoded_caption.fontMetrics()
        # Room for 4 lines from the start, so the first caption moves nothing; a longer one in a narrow column grows.
        self.encoded_caption.setMinimumHeight(caption_metrics.lineSpacing() * 4 + 4)
        pair = QHBoxLayout(self.encoded_box)
        pair.setContentsMargins(6, 4, 6, 4)
        pair.addWidget(self.original_view)
        pair.addWidget(self.reconstruction_view)
        pair.addWidget(self.encoded_caption, 1)
        self._show_encoded()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(toggles)
        layout.addLayout(grid)
        layout.addWidget(self.encoded_box)
        face.source_changed.connect(self._show_encoded)
        face.z_changed.connect(self._show_z_summary)

    def _show_encoded(self) -> None:
        """The image the face was encoded from while z is its code; else an empty box (it keeps its place, so
        nothing below or beside it moves)."""
        source = self.face.encoded
        if source is None:
            self.original_view.clear()
            self.reconstruction_view.clear()
            self.encoded_caption.setText(EMPTY_CAPTION)
            self.encoded_caption.setToolTip("")
            return
        caption = (f"Original {source.name} and its reconstruction; mean pixel error "
                   f"{source.mean_error:.1f} / 255" + (f". {source.note}" if source.note else ""))
        self.original_view.set_image(array_to_qimage(source.image))
        self.reconstruction_view.set_image(array_to_qimage(source.reconstruction))
        self.encoded_caption.setText(caption)
        self.encoded_caption.setToolTip(caption)

    def _show_z_summary(self) -> None:
        z = self.face.z
        self.z_summary.setText(f"|z| = {np.linalg.norm(z):.2f}" if z.size else "")

    @property
    def has_encoded(self) -> bool:
        return not self.original_view.image().isNull()
