"""Helpers that write small image files for the data and CLI tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def colour_image(seed: int, size: tuple[int, int] = (40, 40)) -> Image.Image:
    """An RGB image with a smooth gradient and a seed-dependent colour, so no two files are alike."""
    width, height = size
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    ramp = np.linspace(0, 60, width)[None, :, None]
    pixels = np.clip(base[None, None, :] + ramp + np.zeros((height, 1, 1)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def write_images(folder: Path, count: int, start: int = 0, suffix: str = ".png",
                 size: tuple[int, int] = (40, 40)) -> list[Path]:
    """`count` PNG (or other `suffix`) files named img_NNNN in `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"img_{i:04d}{suffix}"
        colour_image(i, size).save(path)
        paths.append(path)
    return paths


def make_split_folder(root: Path, n_train: int = 12, n_test: int = 4) -> Path:
    """DIR/train + DIR/test layout."""
    write_images(root / "train", n_train)
    write_images(root / "test", n_test, start=1000)
    return root


def make_nested_folder(root: Path, count: int = 16) -> Path:
    """A flat layout with images spread over nested sub-folders."""
    half = count // 2
    write_images(root / "a", half)
    write_images(root / "b" / "c", count - half, start=500)
    return root


def truncated_png(path: Path, seed: int = 0) -> Path:
    """A PNG of noise cut off half-way through its pixel data."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def count_image_opens(monkeypatch) -> list[int]:
    """Count the images PIL opens from now on (one per decoded file, whatever the loader's structure); returns a
    one-item list holding the count."""
    from PIL import Image

    count = [0]
    real_open = Image.open

    def counting_open(*args, **kwargs):
        count[0] += 1
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    return count
