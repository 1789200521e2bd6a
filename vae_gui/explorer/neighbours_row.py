"""One row of the nearest-faces strip: a caption and k clickable thumbnails with their distances."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from trainer.latent.neighbours import NearestFaces, Neighbours

from ..qt_images import array_to_qimage

THUMB = 48
SCALED_CACHE = 256          # scaled training faces kept (about 2.4 MB)
CAPTIONS = {"pixels": ("pixels", "RMS pixel difference on 0..1"), "latent": ("latent", "distance between codes")}


class NeighbourRow(QWidget):
    picked = Signal(int)                  # training index

    def __init__(self, space: str, k: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.space = space
        self.indices: list[int] = []
        caption, unit = CAPTIONS[space]
        self.unit = unit
        self.caption = QLabel(caption, self)
        self.caption.setToolTip(f"Nearest training faces in {caption} space; the number under each is the {unit}")
        self.caption.setFixedWidth(self.caption.fontMetrics().horizontalAdvance("latent") + 6)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        self.buttons: list[QToolButton] = []
        for position in range(k):
            button = QToolButton(self)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)     # the distance is on the image
            button.setIconSize(QSize(THUMB, THUMB))
            button.setAutoRaise(True)
            button.setFixedSize(THUMB + 4, THUMB + 4)
            button.clicked.connect(lambda _=False, p=position: self._on_clicked(p))
            layout.addWidget(button)
            self.buttons.append(button)
        layout.addStretch(1)
        self.clear()

    def set_caption_visible(self, visible: bool) -> None:
        self.caption.setVisible(visible)

    def clear(self) -> None:
        self.indices = []
        self._index: NearestFaces | None = None
        self._shown: dict[int, tuple[int, str, bool]] = {}      # button position -> (face, label, exact) shown
        self._scaled: dict[int, QPixmap] = {}                   # training index -> its THUMB px pixmap
        for button in self.buttons:
            button.setIcon(QIcon())
            button.setText("")
            button.setToolTip("")
            button.setEnabled(False)

    def show_neighbours(self, index: NearestFaces, found: Neighbours) -> None:
        """Show the found faces. While a slider moves the same faces come back again and again: a button whose face
        and distance text are unchanged is not touched (a thumbnail costs ~0.2 ms of the GUI thread)."""
        if index is not self._index:             # another index: nothing shown belongs to it
            self.clear()
            self._index = index
        self.indices = [int(i) for i in found.indices]
        for position, button in enumerate(self.buttons):
            if position >= len(self.indices):
                if self._shown.pop(position, None) is not None:
                    button.setIcon(QIcon())
                    button.setText("")
                    button.setEnabled(False)
                continue
            training = self.indices[position]
            distance = float(found.distances[position])
            label = f"{distance:.3f}" if self.space == "pixels" else f"{distance:.2f}"
            if self._shown.get(position) == (training, label, found.exact):
                continue
            self._shown[position] = (training, label, found.exact)
            button.setIcon(QIcon(_labelled(self._scaled_face(training), label)))
            button.setText(label)
            approximate = "" if found.exact else " (the search stopped early: a closer image may exist)"
            button.setToolTip(f"{index.name(training)}\n{self.unit}: {distance:.4f}{approximate}\n"
                              "Click: make this training face's code the current face")
            button.setEnabled(index.has_latents)

    def _scaled_face(self, training: int) -> QPixmap:
        """The training face at THUMB px, kept for the faces shown lately (scaling is most of a thumbnail's cost)."""
        pixmap = self._scaled.get(training)
        if pixmap is None:
            if len(self._scaled) >= SCALED_CACHE:
                self._scaled.clear()
            image = self._index.images[training].permute(1, 2, 0).numpy()
            pixmap = QPixmap.fromImage(array_to_qimage(image)).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self._scaled[training] = pixmap
        return pixmap

    def _on_clicked(self, position: int) -> None:
        if position < len(self.indices):
            self.picked.emit(self.indices[position])


def _labelled(face: QPixmap, label: str) -> QPixmap:
    """A copy of the face with its distance written in its bottom strip (saves a text line under each)."""
    pixmap = face.copy()
    painter = QPainter(pixmap)
    font = painter.font()
    font.setPixelSize(11)
    painter.setFont(font)
    band = QRect(0, pixmap.height() - 13, pixmap.width(), 13)
    painter.fillRect(band, QColor(0, 0, 0, 150))
    painter.setPen(QColor("white"))
    painter.drawText(band, Qt.AlignmentFlag.AlignCenter, label)
    painter.end()
    return pixmap
