"""Points drawn into one RGBA image with numpy, for the atlas.

A pyqtgraph ScatterPlotItem paints every point in view on each repaint (about 20 ms for 50,000 points on a laptop
core), and any change on the plot, even the current-face marker moving one step, repaints it. An image of the points
is drawn once per view change (pan, zoom, resize, recolour) in a few milliseconds and then only copied to the screen.
"""
from __future__ import annotations

import numpy as np

BACKGROUND_RGBA = (0, 0, 0, 0)      # transparent: the plot's background shows through


def disc_offsets(diameter: int) -> np.ndarray:
    """(K, 2) integer pixel offsets (dx, dy) of a filled disc."""
    radius = diameter / 2.0
    span = np.arange(-int(radius), int(radius) + 1)
    dx, dy = np.meshgrid(span, span)
    inside = dx * dx + dy * dy <= radius * radius
    return np.stack([dx[inside], dy[inside]], axis=1)


def rasterize(coords: np.ndarray, colours: np.ndarray, view: tuple[tuple[float, float], tuple[float, float]],
              width: int, height: int, offsets: np.ndarray) -> np.ndarray:
    """uint8 (height, width, 4) image of discs at map coords (M, 2) with RGBA colours (M, 4) over the view range
    ((x0, x1), (y0, y1)); row 0 is the bottom of the view (y0). Later points are drawn over earlier ones."""
    image = np.zeros((height, width), np.uint32)
    if len(coords) and width > 0 and height > 0:
        (x0, x1), (y0, y1) = view
        px = np.floor((coords[:, 0] - x0) * (width / max(x1 - x0, 1e-30))).astype(np.int64)
        py = np.floor((coords[:, 1] - y0) * (height / max(y1 - y0, 1e-30))).astype(np.int64)
        margin = int(np.abs(offsets).max()) + 1 if len(offsets) else 1
        near = (px >= -margin) & (px < width + margin) & (py >= -margin) & (py < height + margin)
        px, py = px[near], py[near]
        packed = np.ascontiguousarray(colours[near], dtype=np.uint8).view(np.uint32).reshape(-1)
        flat = image.reshape(-1)
        for dx, dy in offsets:
            x, y = px + dx, py + dy
            ok = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            flat[y[ok] * width + x[ok]] = packed[ok]
    return image.view(np.uint8).reshape(height, width, 4)
