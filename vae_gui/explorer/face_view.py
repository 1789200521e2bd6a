"""A large view of one decoded face: crisp pixel scaling (or smooth), optionally at 1:1."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from .. import theme


def fitted_rect(image_size: QSize, area: QRect, smooth: bool, actual_size: bool) -> QRect:
    """Where the image goes inside `area`: centred; whole-pixel zoom when crisp, so every pixel has the same size."""
    width, height = image_size.width(), image_size.height()
    if width <= 0 or height <= 0:
        return QRect()
    if actual_size:
        scale = 1.0
    else:
        scale = min(area.width() / width, area.height() / height)
        if not smooth and scale >= 1.0:
            scale = float(int(scale))
    w, h = max(1, int(width * scale)), max(1, int(height * scale))
    return QRect(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)


class FaceView(QWidget):
    """Shows a QImage. `paint_count` counts finished paints (the latency benchmark waits on it)."""

    def __init__(self, parent: QWidget | None = None, minimum: int = 256, placeholder: str = ""):
        super().__init__(parent)
        self._image = QImage()
        self.smooth = False
        self.actual_size = False
        self.placeholder = placeholder
        self.paint_count = 0
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # paintEvent fills every pixel: a new face then repaints this view only, not the panels and the window
        # behind it (which doubled the GUI thread's painting per slider move).
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def image(self) -> QImage:
        return self._image

    def set_image(self, image: QImage) -> None:
        # RGB32 is the raster engine's native format: scaling an RGB888 image costs several ms per paint.
        self._image = image.convertToFormat(QImage.Format.Format_RGB32) if not image.isNull() else image
        self.update()

    def clear(self) -> None:
        self._image = QImage()
        self.update()

    def set_smooth(self, smooth: bool) -> None:
        self.smooth = smooth
        self.update()

    def set_actual_size(self, actual_size: bool) -> None:
        self.actual_size = actual_size
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(384, 384)

    def heightForWidth(self, width: int) -> int:
        return width

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        colours = theme.current()
        painter.fillRect(self.rect(), colours.canvas)
        if self._image.isNull():
            if self.placeholder:
                painter.setPen(colours.canvas_muted)
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                                 self.placeholder)
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
            target = fitted_rect(self._image.size(), self.rect(), self.smooth, self.actual_size)
            painter.drawImage(target, self._image)
        painter.end()
        self.paint_count += 1
