"""numpy <-> Qt image conversion. QImage objects made here own their pixels (safe across threads)."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def array_to_qimage(image_hwc: np.ndarray) -> QImage:
    """uint8 (H, W, 3) -> an RGB888 QImage that owns a copy of the pixels."""
    image_hwc = np.ascontiguousarray(image_hwc, dtype=np.uint8)
    height, width, _ = image_hwc.shape
    wrapped = QImage(image_hwc.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return wrapped.copy()       # the wrapper does not own the numpy buffer


def qimage_to_array(image: QImage) -> np.ndarray:
    """QImage -> uint8 (H, W, 3) copy."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, :3 * width].reshape(height, width, 3).copy()
