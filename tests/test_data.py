"""Image folders: layouts, splits, formats and modes, broken files, errors and the disk cache."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import trainer.data.datasets
from imagefiles import (colour_image, count_image_opens, make_nested_folder, make_split_folder, truncated_png,
                        write_images)
from trainer.config import DataConfig
from trainer.data.datasets import DataError, load_dataset
from trainer.data.listing import folder_splits, list_images
from trainer.data.images import ImageDecodeError, load_image


def _load(folder: Path, cache: Path, size: int = 32, test_fraction: float = 0.25):
    return load_dataset(DataConfig(source=str(folder), image_size=size, test_fraction=test_fraction,
                                   cache_dir=str(cache)))


# ---------------------------------------------------------------- layouts and splits

@pytest.mark.parametrize("size", [32, 64])
def test_train_test_layout(tmp_path: Path, size: int) -> None:
    folder = make_split_folder(tmp_path / "faces", n_train=12, n_test=4)
    data = _load(folder, tmp_path / "cache", size=size)
    assert data.train.shape == (12, 3, size, size)
    assert data.test.shape == (4, 3, size, size)
    assert data.train.dtype == torch.uint8 and data.test.dtype == torch.uint8
    assert data.source == str(folder)
    assert data.image_size == size
    assert data.skipped == []
    assert not data.has_factors
    assert "12 train / 4 test" in data.describe()


def test_nested_flat_layout(tmp_path: Path) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=20)
    data = _load(folder, tmp_path / "cache", size=64)
    assert len(data.train) + len(data.test) == 20
    assert len(data.train) > 0 and len(data.test) > 0
    assert data.train.shape[1:] == (3, 64, 64) and data.train.dtype == torch.uint8
    train_paths, test_paths = folder_splits(folder, 0.25)
    assert (len(train_paths), len(test_paths)) == (len(data.train), len(data.test))


def test_split_is_deterministic_and_stable_when_files_are_added(tmp_path: Path) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=30)
    first = folder_splits(folder, 0.3)
    assert folder_splits(folder, 0.3) == first
    assert first[0] and first[1]
    write_images(folder / "a", 10, start=2000)
    train, test = folder_splits(folder, 0.3)
    assert set(first[0]) <= set(train)
    assert set(first[1]) <= set(test)
    assert len(train) + len(test) == 40


def test_images_keep_their_pixels(tmp_path: Path) -> None:
    """A 32px file loaded at 32px is not resampled: the tensor holds the file's pixels."""
    folder = tmp_path / "faces"
    write_images(folder / "train", 2, size=(32, 32))
    write_images(folder / "test", 1, start=7, size=(32, 32))
    data = _load(folder, tmp_path / "cache")
    expected = np.asarray(colour_image(0, (32, 32))).transpose(2, 0, 1)
    assert np.array_equal(data.train[0].numpy(), expected)


# ---------------------------------------------------------------- formats and modes

def _save(image: Image.Image, path: Path, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def _solid(colour, size=(32, 32), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp", ".pgm"])
def test_formats(tmp_path: Path, suffix: str) -> None:
    image = _solid(200, mode="L") if suffix == ".pgm" else _solid((200, 40, 40))
    path = _save(image, tmp_path / f"face{suffix}")
    pixels = load_image(path, 32)
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
    expected = (200, 200, 200) if suffix == ".pgm" else (200, 40, 40)
    assert np.abs(pixels.astype(int) - expected).max() <= 6       # JPEG and WebP are lossy


def test_animated_gif_uses_the_first_frame(tmp_path: Path) -> None:
    frames = [_solid((255, 0, 0)), _solid((0, 0, 255)), _solid((0, 255, 0))]
    path = _save(frames[0], tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    with Image.open(path) as check:
        assert check.n_frames == 3
    pixels = load_image(path, 32).astype(int)
    assert pixels[..., 0].min() > 200 and pixels[..., 2].max() < 50


def test_grayscale_and_palette_modes(tmp_path: Path) -> None:
    gray = load_image(_save(_solid(90, mode="L"), tmp_path / "gray.png"), 32)
    assert (gray == 90).all()
    palette = _solid((10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    path = _save(palette, tmp_path / "palette.png")
    with Image.open(path) as check:
        assert check.mode == "P"
    assert np.abs(load_image(path, 32).astype(int) - (10, 200, 30)).max() <= 3


def test_16_bit_image_stays_bright(tmp_path: Path) -> None:
    image = Image.fromarray(np.full((32, 32), 60000, dtype=np.uint16))
    path = _save(image, tmp_path / "deep.png")
    with Image.open(path) as check:
        assert check.mode.startswith("I")
    pixels = load_image(path, 32)
    assert pixels.min() >= 225      # 60000 / 65535 * 255 = 233


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)          # transparent black ...
    rgba[:, 16:] = (200, 0, 0, 255)                        # ... beside opaque red
    path = _save(Image.fromarray(rgba, "RGBA"), tmp_path / "alpha.png")
    pixels = load_image(path, 32)
    assert (pixels[:, :16] == 255).all()
    assert (pixels[:, 16:] == (200, 0, 0)).all()


def test_transparent_palette_gif_is_composited_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (16, 0, 32, 32))
    path = _save(image, tmp_path / "transparent.gif", transparency=0)
    pixels = load_image(path, 32)
    assert (pixels[:, :16] == 255).all()
    assert (pixels[:, 16:] == (255, 0, 0)).all()


def test_non_square_image_is_centre_cropped(tmp_path: Path) -> None:
    wide = np.zeros((32, 64, 3), dtype=np.uint8)
    wide[:] = (0, 255, 0)                                  # green margins, 16px each side
    wide[:, 16:48] = (0, 0, 255)                           # blue square in the centre
    pixels = load_image(_save(Image.fromarray(wide), tmp_path / "wide.png"), 32)
    assert (pixels == (0, 0, 255)).all()
    tall = np.ascontiguousarray(wide.transpose(1, 0, 2))
    pixels = load_image(_save(Image.fromarray(tall), tmp_path / "tall.png"), 16)
    assert (pixels == (0, 0, 255)).all()


def test_hidden_files_and_other_extensions_are_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    write_images(folder, 4)
    write_images(folder / ".thumbnails", 3)
    colour_image(9).save(folder / ".hidden.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "data.npy").write_bytes(b"\x93NUMPY")
    colour_image(10).save(folder / "upper.PNG")
    found = list_images(folder)
    assert [p.name for p in found] == ["img_0000.png", "img_0001.png", "img_0002.png", "img_0003.png",
                                       "upper.PNG"]
    data = _load(folder, tmp_path / "cache")
    assert len(data.train) + len(data.test) == 5


# ---------------------------------------------------------------- broken files and errors

def test_corrupt_files_are_skipped_with_one_warning(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "faces"
    write_images(folder / "train", 6)
    write_images(folder / "test", 2, start=100)
    (folder / "train" / "junk.png").write_bytes(b"this is not a png at all" * 10)
    truncated_png(folder / "train" / "cut.png")
    with caplog.at_level(logging.WARNING):
        data = _load(folder, tmp_path / "cache")
    assert len(data.train) == 6 and len(data.test) == 2
    assert len(data.skipped) == 2
    assert any("junk.png" in s for s in data.skipped) and any("cut.png" in s for s in data.skipped)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "skipped 2 " in text
    assert "junk.png" in text or "cut.png" in text


def test_truncated_png_raises_decode_error_naming_the_file(tmp_path: Path) -> None:
    path = truncated_png(tmp_path / "cut.png")
    with pytest.raises(ImageDecodeError) as info:
        load_image(path, 32)
    assert str(path) in str(info.value)


def test_folder_of_junk_raises_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(3):
        (folder / f"bad{i}.jpg").write_bytes(os.urandom(200))
    with pytest.raises(DataError, match=str(folder)) as info:
        _load(folder, tmp_path / "cache")
    assert "failed to decode" in str(info.value)


def test_empty_and_missing_folders_raise_data_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match="no image files.*" + str(empty)):
        _load(empty, tmp_path / "cache")
    missing = tmp_path / "missing"
    with pytest.raises(DataError, match="does not exist") as info:
        _load(missing, tmp_path / "cache")
    assert str(missing) in str(info.value)


def test_one_usable_image_is_not_enough(tmp_path: Path) -> None:
    folder = tmp_path / "single"
    write_images(folder, 1)
    with pytest.raises(DataError, match="at least 2"):
        _load(folder, tmp_path / "cache")


# ---------------------------------------------------------------- cache

def test_second_load_comes_from_the_cache(tmp_path: Path, monkeypatch) -> None:
    folder = make_split_folder(tmp_path / "faces", n_train=6, n_test=2)
    first = _load(folder, tmp_path / "cache")
    decoded = count_image_opens(monkeypatch)
    second = _load(folder, tmp_path / "cache")
    assert decoded[0] == 0, "images were decoded again although the cache is current"
    assert torch.equal(first.train, second.train)
    assert torch.equal(first.test, second.test)


def test_touching_or_changing_a_file_invalidates_the_cache(tmp_path: Path, monkeypatch) -> None:
    folder = make_split_folder(tmp_path / "faces", n_train=6, n_test=2)
    first = _load(folder, tmp_path / "cache")
    decoded = count_image_opens(monkeypatch)
    target = folder / "train" / "img_0000.png"
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    touched = _load(folder, tmp_path / "cache")
    assert decoded[0] == 0, "a touched file has the same content: its row is kept"
    assert torch.equal(first.train, touched.train)

    _solid((1, 2, 3), size=(40, 40)).save(target)
    changed = _load(folder, tmp_path / "cache")
    assert decoded[0] == 1, "only the changed file is decoded"
    assert (changed.train[0] == torch.tensor([1, 2, 3], dtype=torch.uint8)[:, None, None]).all()
    assert not torch.equal(first.train, changed.train)
    assert torch.equal(first.train[1:], changed.train[1:])
