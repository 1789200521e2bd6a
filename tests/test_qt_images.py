"""Images the GUI saves (the atlas, the traversal grid) are written whole or not at all."""
from __future__ import annotations

import numpy as np
from PIL import Image

from vae_gui.qt_images import array_to_qimage, save_png_atomically


class HalfWritingImage:
    """Stands in for a QImage whose save fails half-way (a full disk): some bytes written, then False."""

    def save(self, path: str, fmt: str) -> bool:
        with open(path, "wb") as file:
            file.write(b"\x89PNG half")
        return False


def test_a_saved_image_is_a_whole_png(tmp_path):
    face = np.full((64, 64, 3), 200, np.uint8)
    path = tmp_path / "face.png"
    assert save_png_atomically(array_to_qimage(face), path)
    assert Image.open(path).size == (64, 64)
    assert [p.name for p in tmp_path.iterdir()] == ["face.png"]


def test_a_failed_save_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "atlas.png"
    assert save_png_atomically(array_to_qimage(np.zeros((8, 8, 3), np.uint8)), path)
    before = path.read_bytes()
    assert not save_png_atomically(HalfWritingImage(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["atlas.png"]
    assert not save_png_atomically(array_to_qimage(np.zeros((8, 8, 3), np.uint8)), tmp_path / "missing" / "a.png")
