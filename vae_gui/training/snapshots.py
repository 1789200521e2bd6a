"""Every preview snapshot of a run, kept for the history slider, stored as PNG bytes.

PNG (level 1) makes a 64 px snapshot ~140 KB instead of ~420 KB raw (zlib alone: ~220 KB). The worker thread
encodes, so the GUI thread only decodes (~3 ms) the snapshot the slider shows; the newest one stays raw.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image


@dataclass
class PreviewGrids:
    """One snapshot: originals over reconstructions, and decoded fixed latent vectors, as uint8 (H, W, 3)."""
    step: int
    reconstructions: np.ndarray
    samples: np.ndarray
    from_eval: bool = False
    encoded: tuple[bytes, bytes] | None = field(default=None, repr=False)     # PNGs of the two grids

    def encode(self) -> "PreviewGrids":
        """Fill `encoded` (done in the worker thread); returns self."""
        if self.encoded is None:
            self.encoded = (encode_png(self.reconstructions), encode_png(self.samples))
        return self


def encode_png(image_hwc: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_hwc)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class _Stored:
    step: int
    from_eval: bool
    pngs: tuple[bytes, bytes]


class SnapshotStore:
    """Append-only list of snapshots. GUI thread only."""

    def __init__(self) -> None:
        self._items: list[_Stored] = []
        self._newest: PreviewGrids | None = None         # kept raw: it is the one usually shown

    def __len__(self) -> int:
        return len(self._items)

    def append(self, grids: PreviewGrids) -> int:
        """Store a snapshot (encoding it here if the worker did not); returns its index."""
        self._items.append(_Stored(step=grids.step, from_eval=grids.from_eval, pngs=grids.encode().encoded))
        self._newest = grids
        return len(self._items) - 1

    def __getitem__(self, index: int) -> PreviewGrids:
        if index < 0:
            index += len(self._items)
        if index == len(self._items) - 1 and self._newest is not None:
            return self._newest
        item = self._items[index]
        return PreviewGrids(step=item.step, reconstructions=decode_png(item.pngs[0]),
                            samples=decode_png(item.pngs[1]), from_eval=item.from_eval, encoded=item.pngs)

    def step(self, index: int) -> int:
        return self._items[index].step

    def is_eval(self, index: int) -> bool:
        return self._items[index].from_eval

    def stored_bytes(self) -> int:
        return sum(len(png) for item in self._items for png in item.pngs)
