"""One row of the nearest-faces strip: a caption and k clickable thumbnails with their distances."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QAbstractButton, QHBoxLayout, QLabel, QWidget

from trainer.latent.neighbours import NearestFaces, Neighbours

from .. import theme
from ..qt_images import array_to_qimage

THUMB = 48
SCALED_CACHE = 256          # scaled training faces kept (about 2.4 MB)
LABEL_HEIGHT = 13           # px of the distance strip at the bottom of a thumbnail
CAPTIONS = {"pixels": ("pixels", "RMS pixel difference on 0..1"), "latent": ("latent", "distance between codes")}


class Thumbnail(QAbstractButton):
    """A clickable face of fixed size with its distance written in its bottom strip (saves a text line under each).

    Unlike a QToolButton's icon, a new face only repaints this button: setIcon asked for a new layout of the whole
    window, which then repainted every widget in it. It paints every pixel (opaque), so the panels behind it are
    not repainted either."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._face = QPixmap()
        self._label = ""
        self.setFixedSize(THUMB + 4, THUMB + 4)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def face(self) -> QPixmap:
        return self._face

    def label(self) -> str:
        return self._label

    def set_face(self, face: QPixmap, label: str = "") -> None:
        self._face, self._label = face, label
        self.setAccessibleName(label)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(THUMB + 4, THUMB + 4)

    def enterEvent(self, event) -> None:        # the hover frame
        super().enterEvent(event)
        self.update()

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if not self._face.isNull():
            if not self.isEnabled():
                painter.setOpacity(0.5)
            painter.drawPixmap(2, 2, self._face)
            if self._label:
                band = QRect(2, 2 + self._face.height() - LABEL_HEIGHT, self._face.width(), LABEL_HEIGHT)
                colours = theme.current()
                painter.fillRect(band, colours.caption_band)
                font = painter.font()
                font.setPixelSize(11)
                painter.setFont(font)
                painter.setPen(colours.caption_text)
                painter.drawText(band, Qt.AlignmentFlag.AlignCenter, self._label)
        if self.underMouse() and self.isEnabled():
            painter.setOpacity(1.0)
            painter.setPen(self.palette().highlight().color())
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()


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
        self.buttons: list[Thumbnail] = []
        for position in range(k):
            button = Thumbnail(self)
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
            button.set_face(QPixmap())
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
                    button.set_face(QPixmap())
                    button.setEnabled(False)
                continue
            training = self.indices[position]
            distance = float(found.distances[position])
            label = f"{distance:.3f}" if self.space == "pixels" else f"{distance:.2f}"
            if self._shown.get(position) == (training, label, found.exact):
                continue
            self._shown[position] = (training, label, found.exact)
            button.set_face(self._scaled_face(training), label)
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
