"""A grid of small face images: click a tile, right-click for a menu; optional labels left of each row."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QFontMetrics, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .. import theme
from ..qt_images import array_to_qimage

PADDING = 2


class ImageGrid(QWidget):
    tile_clicked = Signal(int)
    tile_menu_requested = Signal(int, QPoint)     # tile index, global position

    def __init__(self, parent: QWidget | None = None, placeholder: str = ""):
        super().__init__(parent)
        self.placeholder = placeholder
        self.images = np.zeros((0, 1, 1, 3), np.uint8)
        self.columns = 1
        self.row_labels: list[str] = []
        self.column_labels: list[str] = []
        self.highlighted: set[int] = set()
        self._tiles: list[QImage] = []
        self.paint_count = 0
        self.setMouseTracking(False)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # ------------------------------------------------------------ content

    def set_images(self, images: np.ndarray, columns: int, row_labels: list[str] | None = None,
                   column_labels: list[str] | None = None) -> None:
        """uint8 (N, H, W, 3) tiles, `columns` per row."""
        self.images = images
        self.columns = max(1, columns)
        self.row_labels = list(row_labels or [])
        self.column_labels = list(column_labels or [])
        # RGB32 is the raster engine's native format, so drawing scaled tiles needs no conversion.
        self._tiles = [array_to_qimage(image).convertToFormat(QImage.Format.Format_RGB32) for image in images]
        self.highlighted = {i for i in self.highlighted if i < len(images)}
        self.update()

    def clear(self) -> None:
        self.set_images(np.zeros((0, 1, 1, 3), np.uint8), 1)

    def set_highlighted(self, indices: set[int]) -> None:
        self.highlighted = set(indices)
        self.update()

    @property
    def rows(self) -> int:
        return (len(self._tiles) + self.columns - 1) // self.columns

    def sizeHint(self) -> QSize:
        return QSize(520, 520)

    # ------------------------------------------------------------ geometry

    def _label_width(self) -> int:
        if not self.row_labels:
            return 0
        metrics = QFontMetrics(self.font())
        return max(metrics.horizontalAdvance(label) for label in self.row_labels) + 10

    def _header_height(self) -> int:
        return QFontMetrics(self.font()).height() + 4 if self.column_labels else 0

    def _tile_size(self, width: int, height: int) -> int:
        """Largest square tile that fits; whole multiples of the image size keep pixels crisp."""
        if not self._tiles:
            return 0
        usable_w = width - self._label_width() - PADDING * (self.columns + 1)
        usable_h = height - self._header_height() - PADDING * (self.rows + 1)
        size = max(4, min(usable_w // self.columns, usable_h // max(1, self.rows)))
        native = self._tiles[0].width()
        return size - size % native if size >= 2 * native else size

    def _whole_multiple(self, size: int) -> bool:
        native = self._tiles[0].width() if self._tiles else 1
        return size % native == 0

    def tile_rect(self, index: int, width: int | None = None, height: int | None = None) -> QRect:
        width = self.width() if width is None else width
        height = self.height() if height is None else height
        size = self._tile_size(width, height)
        grid_w = self._label_width() + self.columns * (size + PADDING) + PADDING
        grid_h = self._header_height() + self.rows * (size + PADDING) + PADDING
        left = max(0, (width - grid_w) // 2) + self._label_width() + PADDING
        top = max(0, (height - grid_h) // 2) + self._header_height() + PADDING
        row, column = divmod(index, self.columns)
        return QRect(left + column * (size + PADDING), top + row * (size + PADDING), size, size)

    def index_at(self, position: QPoint) -> int:
        for index in range(len(self._tiles)):
            if self.tile_rect(index).contains(position):
                return index
        return -1

    # ------------------------------------------------------------ painting and export

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        colours = theme.current()
        painter.fillRect(self.rect(), colours.canvas)
        if not self._tiles:
            painter.setPen(colours.canvas_muted)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        else:
            self._paint_grid(painter, self.width(), self.height())
        painter.end()
        self.paint_count += 1

    def _paint_grid(self, painter: QPainter, width: int, height: int, highlight: bool = True) -> None:
        # Crisp pixels at whole multiples of the image size; smooth scaling otherwise, so pixels are not uneven.
        smooth = not self._whole_multiple(self._tile_size(width, height))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        for index, tile in enumerate(self._tiles):
            painter.drawImage(self.tile_rect(index, width, height), tile)
        colours = theme.current()
        painter.setPen(colours.canvas_text)
        for row, label in enumerate(self.row_labels[: self.rows]):
            first = self.tile_rect(row * self.columns, width, height)
            painter.drawText(QRect(0, first.top(), first.left() - 6, first.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        for column, label in enumerate(self.column_labels[: self.columns]):
            first = self.tile_rect(column, width, height)
            painter.drawText(QRect(first.left(), first.top() - self._header_height(), first.width(),
                                   self._header_height()), Qt.AlignmentFlag.AlignCenter, label)
        if highlight:
            painter.setPen(QPen(colours.canvas_highlight, 2))
            for index in self.highlighted:
                painter.drawRect(self.tile_rect(index, width, height).adjusted(-1, -1, 0, 0))

    def export_image(self, scale: int = 1) -> QImage:
        """The grid at `scale` x the native tile size, labels included, on a white-free dark background."""
        native = self._tiles[0].width() * max(1, scale) if self._tiles else 1
        width = self._label_width() + self.columns * (native + PADDING) + PADDING
        height = self._header_height() + self.rows * (native + PADDING) + PADDING
        image = QImage(width, height, QImage.Format.Format_RGB888)
        image.fill(theme.current().canvas)
        painter = QPainter(image)
        painter.setFont(self.font())
        self._paint_grid(painter, width, height, highlight=False)
        painter.end()
        return image

    # ------------------------------------------------------------ mouse

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.index_at(event.position().toPoint())
            if index >= 0:
                self.tile_clicked.emit(index)
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.index_at(event.pos())
        if index >= 0:
            self.tile_menu_requested.emit(index, event.globalPos())
