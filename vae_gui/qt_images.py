"""numpy <-> Qt image conversion. QImage objects made here own their pixels (safe across threads)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage, QPixmap

from trainer.atomic import write_atomically


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


def save_png_atomically(image: QImage | QPixmap, path: str | Path) -> bool:
    """Write a QImage or QPixmap as PNG under a temporary name, then rename it: a failed or interrupted save never
    leaves a half-written file, nor replaces the one already there. False when Qt could not write it."""
    def write(temporary: Path) -> None:
        if not image.save(str(temporary), "PNG"):
            raise OSError(f"Qt could not write {temporary}")

    try:
        write_atomically(path, write)
    except OSError:
        return False
    return True
