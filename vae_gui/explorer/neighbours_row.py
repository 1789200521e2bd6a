"""One row of the nearest-faces strip: a caption and k clickable thumbnails with their distances."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from trainer.latent.neighbours import NearestFaces, Neighbours

from ..qt_images import array_to_qimage

THUMB = 48
CAPTIONS = {"pixels": ("pixels", "RMS pixel difference on 0..1"), "latent": ("latent", "distance between codes")}


class NeighbourRow(QWidget):
    picked = Signal(int)                  # training index

    def __init__(self, space: str, k: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.space = space
        self.indices: list[int] = []
        caption, unit = CAPTIONS[space]
        self.unit = unit
        label = QLabel(caption, self)
        label.setToolTip(f"Nearest training faces in {caption} space; the number under each is the {unit}")
        label.setFixedWidth(label.fontMetrics().horizontalAdvance("latent") + 10)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(label)
        self.buttons: list[QToolButton] = []
        for position in range(k):
            button = QToolButton(self)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIconSize(QSize(THUMB, THUMB))
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, p=position: self._on_clicked(p))
            layout.addWidget(button)
            self.buttons.append(button)
        layout.addStretch(1)
        self.clear()

    def clear(self) -> None:
        self.indices = []
        for button in self.buttons:
            button.setIcon(QIcon())
            button.setText("")
            button.setToolTip("")
            button.setEnabled(False)

    def show_neighbours(self, index: NearestFaces, found: Neighbours) -> None:
        self.indices = [int(i) for i in found.indices]
        for position, button in enumerate(self.buttons):
            if position >= len(self.indices):
                button.setIcon(QIcon())
                button.setText("")
                button.setEnabled(False)
                continue
            training = self.indices[position]
            image = index.images[training].permute(1, 2, 0).numpy()
            button.setIcon(QIcon(QPixmap.fromImage(array_to_qimage(image))))
            distance = float(found.distances[position])
            button.setText(f"{distance:.3f}" if self.space == "pixels" else f"{distance:.2f}")
            approximate = "" if found.exact else " (the search stopped early: a closer image may exist)"
            button.setToolTip(f"{index.name(training)}\n{self.unit}: {distance:.4f}{approximate}\n"
                              "Click: make this training face's code the current face")
            button.setEnabled(index.has_latents)

    def _on_clicked(self, position: int) -> None:
        if position < len(self.indices):
            self.picked.emit(self.indices[position])
