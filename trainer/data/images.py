"""Image files: decoding one into a square RGB uint8 array (the same way for training and for the explorer), and
writing uint8 (H, W, 3) arrays as PNG or animated GIF."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from trainer.atomic import write_atomically
from trainer.errors import UserError
from trainer.names import printable

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".pgm", ".ppm", ".pbm", ".tif", ".tiff"})

# What PIL raises for unreadable, truncated or hostile files.
DECODE_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError,
                 EOFError, MemoryError)


# Larger images are refused as unsafe (PIL only warns up to twice its own limit, and decoding such a file takes
# gigabytes): 89 million pixels, PIL's limit, is far beyond any face photo.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
# We refuse those files ourselves (load_image), with a message naming them: PIL's warning would only add noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageDecodeError(UserError):
    """An image file could not be read."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{printable(path)}: {reason}")
        self.path = printable(path)           # shown in dialogs: no undecodable bytes
        self.reason = reason


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB from any mode: 16-bit and float are rescaled, palette and alpha are composited on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def square_resize(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize with an antialiasing filter."""
    width, height = image.size
    if width == height == size:
        return image
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


def load_image(path: Path | str | BinaryIO, size: int, name: Path | str | None = None) -> np.ndarray:
    """uint8 (size, size, 3) from a file name or an open binary file (then `name` names it in errors). Raises
    ImageDecodeError naming the file and the problem."""
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:        # refused before its pixels are decoded
                raise Image.DecompressionBombError(f"{image.width} x {image.height} pixels")
            image.seek(0)                 # first frame of an animation
            image.load()                  # decode now: truncated files fail here, not later
            ImageOps.exif_transpose(image, in_place=True)
            return np.asarray(square_resize(to_rgb(image), size), dtype=np.uint8)
    except DECODE_ERRORS as error:
        raise ImageDecodeError(name if name is not None else path, decode_error_reason(error)) from None


def decode_error_reason(error: BaseException) -> str:
    """Our sentence for what PIL raised (its own text names classes and internals)."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "this is a folder, not an image file"
    if isinstance(error, PermissionError):
        return "the file cannot be read (permission denied)"
    if isinstance(error, UnidentifiedImageError):
        return "not an image this program can read (an unknown format, or not an image at all)"
    if isinstance(error, Image.DecompressionBombError):
        return "the image is too large to decode safely"
    if isinstance(error, MemoryError):
        return "the image is too large to decode in the available memory"
    return f"the image is damaged or truncated ({error})"


# ---------------------------------------------------------------- writing images

def save_png(image_hwc: np.ndarray, path: Path | str, scale: int = 1) -> Path:
    """Save a uint8 (H, W, 3) image as PNG, optionally enlarged with nearest-neighbour pixels; atomically (a
    failed write leaves the file as it was). Every PNG the core writes goes through here."""
    image = _enlarge(Image.fromarray(np.ascontiguousarray(image_hwc, dtype=np.uint8)), scale)
    return write_atomically(path, lambda temporary: image.save(temporary, format="PNG"))


def save_png_resized(image_hwc: np.ndarray, path: Path | str, size: int) -> Path:
    """Save a uint8 (H, W, 3) image as a size x size PNG, smoothly resized (Lanczos), atomically."""
    image = Image.fromarray(np.ascontiguousarray(image_hwc, dtype=np.uint8))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return save_png(np.asarray(image), path)


def save_gif(frames_hwc: np.ndarray, path: Path | str, frame_ms: int = 100, scale: int = 4) -> None:
    """Save uint8 (N, H, W, 3) frames as a looping animated GIF (identical neighbour frames may be merged)."""
    if len(frames_hwc) == 0:
        raise ValueError("no frames to save")
    images = [_enlarge(Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8)), scale) for f in frames_hwc]
    write_atomically(path, lambda temporary: images[0].save(temporary, format="GIF", save_all=True,
                                                            append_images=images[1:], duration=int(frame_ms),
                                                            loop=0))


def _enlarge(image: Image.Image, scale: int) -> Image.Image:
    if scale <= 1:
        return image
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
