"""Files the core writes (trainer.atomic): a failed write leaves the file as it was and no temporary behind."""
import numpy as np
import pytest
from PIL import Image

from trainer.data.images import save_png


def test_save_png_writes_the_image(tmp_path):
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    path = save_png(image, tmp_path / "face.png")
    assert np.array_equal(np.asarray(Image.open(path)), image)
    assert [p.name for p in tmp_path.iterdir()] == ["face.png"]


def test_a_failed_png_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "face.png"
    save_png(np.zeros((4, 4, 3), np.uint8), path)
    before = path.read_bytes()

    def full_disk(self, target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError):
        save_png(np.full((4, 4, 3), 255, np.uint8), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["face.png"]
