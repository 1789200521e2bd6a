"""The atlas's pyqtgraph plot: points in colour layers, thumbnails when zoomed in, the current face, a morph path.

Points are drawn into one image per view (atlas_raster), so 50,000 points need no per-point Python object and
moving the current-face marker only copies that image. Hover and click pick the thumbnail drawn on top when zoomed
in, else the nearest point with a k-d tree over the shown coordinates; the aspect ratio is locked, so a distance in
map units divided by the pixel size is a distance in screen pixels.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem

from .. import theme
from .atlas_raster import disc_offsets, rasterize

POINT_SIZE = 5                 # screen pixels
PICK_RADIUS_PX = 8             # hover and click find a point within this many pixels
MAX_THUMBNAILS = 200           # thumbnails replace dots once at most this many points are in view
THUMBNAIL_DELAY_MS = 60        # thumbnails are placed once panning or zooming pauses this long
COLOUR_LEVELS = 32
MARKER_SIZE = 18               # screen pixels


def level_colours(levels: int = COLOUR_LEVELS) -> list[QColor]:
    """The continuous colour scale, low to high, every step readable on the plot background (theme.py)."""
    return theme.current().colour_scale(levels)


def category_colours(count: int) -> list[QColor]:
    series = theme.current().series
    return [series[i % len(series)] for i in range(count)]


def missing_colour() -> QColor:
    """Points of unknown value: faint, drawn under the others."""
    return theme.current().plot_faint


class FaceMarker(QGraphicsEllipseItem):
    """The current face: a ring of fixed screen size. Moving it repaints only the ring's few pixels; a
    ScatterPlotItem recomputed its bounds and the view's on every move (~2 ms of the GUI thread per frame)."""

    def __init__(self):
        radius = MARKER_SIZE / 2
        super().__init__(-radius, -radius, MARKER_SIZE, MARKER_SIZE)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setBrush(QBrush())
        self.hide()

    @property
    def position(self) -> tuple[float, float] | None:
        """Where the marker is in map coordinates; None while hidden."""
        return (self.pos().x(), self.pos().y()) if self.isVisible() else None

    def move_to(self, position: np.ndarray | None) -> None:
        if position is None:
            self.hide()
            return
        self.setPos(float(position[0]), float(position[1]))
        self.show()


class AtlasPlot(pg.PlotWidget):
    hovered = Signal(int)              # atlas index of the point under the mouse, -1 when none
    clicked = Signal(int)              # atlas index of a clicked point
    view_changed = Signal()            # after thumbnails were updated for a new view range

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAspectLocked(True)
        self.plotItem.hideButtons()
        self.points = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.points, ignoreBounds=True)
        self._rgba = np.zeros((0, 4), np.uint8)           # colour of each shown point, in drawing order
        self._order = np.zeros(0, np.int64)
        self._disc = disc_offsets(POINT_SIZE)
        self.drawn_points = 0
        self.coords = np.zeros((0, 2), np.float32)     # shown points
        self.ids = np.zeros(0, np.int64)               # their atlas point indices
        self._tree = None
        self.thumbnail_source: Callable[[int], np.ndarray] | None = None   # atlas index -> uint8 (H, W, 3)
        self._thumbnails: list[pg.ImageItem] = []
        self.thumbnail_count = 0
        self._thumbnail_rows = np.zeros(0, np.int64)     # the shown points each thumbnail shows, in drawing order
        self._thumbnail_side = 0.0
        self.samples = pg.ScatterPlotItem(pxMode=True, size=7, symbol="x", brush=None)
        self.path = pg.PlotDataItem(symbol="o", symbolSize=6, symbolPen=None)
        self.marker = FaceMarker()
        theme.style_plot(self)
        theme.follow(self, self._apply_theme)
        for item, z in ((self.samples, 20), (self.path, 30)):
            item.setZValue(z)
            self.addItem(item)
        self.marker.setZValue(40)
        self.addItem(self.marker, ignoreBounds=True)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.timeout.connect(self.update_thumbnails)
        self.plotItem.vb.sigRangeChanged.connect(self._on_range_changed)
        self.plotItem.vb.sigResized.connect(self._on_range_changed)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._last_hover = -1

    def _apply_theme(self, colours: theme.Theme) -> None:
        """Samples in the plot's text colour; the current face and the morph path in the marker colour."""
        self.samples.setPen(pg.mkPen(colours.plot_foreground, width=1.2))
        self.path.setPen(pg.mkPen(colours.marker, width=2))
        self.path.setSymbolBrush(colours.marker)
        self.marker.setPen(pg.mkPen(colours.marker, width=3))

    # ------------------------------------------------------------ data

    def set_points(self, coords: np.ndarray, ids: np.ndarray, levels: np.ndarray, colours: list[QColor]) -> None:
        """Show points at coords (M, 2) with colour level codes (M,) (-1: missing) into `colours`."""
        self.coords = np.asarray(coords, np.float32)
        self.ids = np.asarray(ids, np.int64)
        self._tree = None
        if len(self.coords):
            from scipy.spatial import cKDTree      # not for the empty atlas of a start-up: scipy takes ~0.5 s
            self._tree = cKDTree(self.coords)
        self.set_levels(levels, colours)
        self._last_hover = -1
        self.update_thumbnails()

    def set_levels(self, levels: np.ndarray, colours: list[QColor]) -> None:
        """Recolour the shown points; points of unknown value (-1) are drawn first, under the others."""
        levels = np.asarray(levels, np.int64)
        palette = np.array([[*c.getRgb()[:3], 255] for c in (*colours, missing_colour())], np.uint8)
        self._order = np.argsort(levels >= 0, kind="stable")
        self._rgba = palette[levels[self._order]] if len(levels) else np.zeros((0, 4), np.uint8)
        self.redraw_points()

    def redraw_points(self) -> None:
        """Draw the shown points for the current view into the points image."""
        vb = self.plotItem.vb
        width, height = max(1, int(vb.width())), max(1, int(vb.height()))
        view = vb.viewRange()
        image = rasterize(self.coords[self._order], self._rgba, view, width, height, self._disc)
        self.points.setImage(image, autoLevels=False, levels=(0, 255))
        (x0, x1), (y0, y1) = view
        self.points.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.drawn_points = len(self.coords)

    def _on_range_changed(self, *_) -> None:
        self.redraw_points()
        self._thumb_timer.start(THUMBNAIL_DELAY_MS)

    def set_marker(self, position: np.ndarray | None) -> None:
        self.marker.move_to(position)

    def set_path(self, positions: np.ndarray | None) -> None:
        if positions is None or len(positions) == 0:
            self.path.setData([], [])
        else:
            self.path.setData(positions[:, 0], positions[:, 1])

    def set_samples(self, positions: np.ndarray | None) -> None:
        self.samples.setData(pos=np.zeros((0, 2)) if positions is None else positions)

    def show_all(self) -> None:
        if len(self.coords):
            low, high = self.coords.min(axis=0), self.coords.max(axis=0)
            pad = 0.05 * np.maximum(high - low, 1e-3)
            self.setRange(xRange=(float(low[0] - pad[0]), float(high[0] + pad[0])),
                          yRange=(float(low[1] - pad[1]), float(high[1] + pad[1])), padding=0)

    # ------------------------------------------------------------ thumbnails

    def visible_points(self) -> np.ndarray:
        """Rows of the shown points inside the current view."""
        (x0, x1), (y0, y1) = self.plotItem.vb.viewRange()
        inside = ((self.coords[:, 0] >= x0) & (self.coords[:, 0] <= x1) & (self.coords[:, 1] >= y0)
                  & (self.coords[:, 1] <= y1))
        return np.flatnonzero(inside)

    def update_thumbnails(self) -> None:
        """Zoomed in far enough (at most MAX_THUMBNAILS points in view): the points become their images."""
        rows = self.visible_points() if self.thumbnail_source is not None and len(self.coords) else np.zeros(0, int)
        if len(rows) > MAX_THUMBNAILS:
            rows = rows[:0]
        (x0, x1), (y0, y1) = self.plotItem.vb.viewRange()
        if len(rows):
            # Side: about the spacing of the points in view, at most a sixth of the view.
            side = min(0.8 * np.sqrt((x1 - x0) * (y1 - y0) / len(rows)), (x1 - x0) / 6, (y1 - y0) / 6)
        while len(self._thumbnails) < len(rows):
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(10)
            self.addItem(item)
            self._thumbnails.append(item)
        for item, row in zip(self._thumbnails, rows):
            image = self.thumbnail_source(int(self.ids[row]))
            item.setImage(image[::-1], autoLevels=False, levels=(0, 255))   # rows flipped: the map's y points up
            x, y = self.coords[row]
            item.setRect(QRectF(float(x - side / 2), float(y - side / 2), float(side), float(side)))
            item.show()
        for item in self._thumbnails[len(rows):]:
            item.hide()
        self.thumbnail_count = len(rows)
        self._thumbnail_rows, self._thumbnail_side = rows, (side if len(rows) else 0.0)
        self.view_changed.emit()

    # ------------------------------------------------------------ hover and click

    def point_at(self, scene_pos: QPointF) -> int:
        """Row of the shown point under a scene position: zoomed in, the thumbnail drawn on top there; else the
        point within PICK_RADIUS_PX. -1 if none."""
        if self._tree is None or not self.plotItem.sceneBoundingRect().contains(scene_pos):
            return -1
        vb = self.plotItem.vb
        point = vb.mapSceneToView(scene_pos)
        if self.thumbnail_count:
            return self._thumbnail_at(point.x(), point.y())
        pixel = max(vb.viewPixelSize())
        distance, row = self._tree.query((point.x(), point.y()), distance_upper_bound=PICK_RADIUS_PX * pixel)
        return int(row) if np.isfinite(distance) else -1

    def _thumbnail_at(self, x: float, y: float) -> int:
        """Row of the topmost thumbnail covering (x, y) in view coordinates (a later one is drawn over an earlier
        one), or -1."""
        rows = self._thumbnail_rows
        half = self._thumbnail_side / 2
        centres = self.coords[rows]
        under = np.flatnonzero((np.abs(centres[:, 0] - x) <= half) & (np.abs(centres[:, 1] - y) <= half))
        return int(rows[under[-1]]) if len(under) else -1

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        row = self.point_at(scene_pos)
        point = int(self.ids[row]) if row >= 0 else -1
        if point != self._last_hover:
            self._last_hover = point
            self.hovered.emit(point)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() == pg.QtCore.Qt.MouseButton.LeftButton and not event.double():
            row = self.point_at(event.scenePos())
            if row >= 0:
                self.clicked.emit(int(self.ids[row]))
