"""The preview snapshots of a run, kept for the history slider, stored as PNG bytes.

PNG (level 1) makes a 64 px snapshot ~140 KB instead of ~420 KB raw (zlib alone: ~220 KB). The worker thread
encodes, so the GUI thread only decodes (~3 ms) the snapshot the slider shows; the newest one stays raw.
Every validation snapshot is kept; live ones (one every few seconds) are thinned to every other one whenever there
are more than MAX_LIVE_SNAPSHOTS, so a run of many hours keeps its whole span in tens of MB, denser near the end.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

MAX_LIVE_SNAPSHOTS = 300      # ~40 MB of PNGs at 64 px


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
    """Snapshots in step order; live ones are thinned past `max_live` (see the module docstring). GUI thread only."""

    def __init__(self, max_live: int = MAX_LIVE_SNAPSHOTS) -> None:
        if max_live < 2:
            raise ValueError(f"max_live must be at least 2, got {max_live}")
        self._max_live = max_live
        self._live_count = 0
        self._items: list[_Stored] = []
        self._newest: PreviewGrids | None = None         # kept raw: it is the one usually shown

    def __len__(self) -> int:
        return len(self._items)

    def append(self, grids: PreviewGrids) -> int:
        """Store a snapshot (encoding it here if the worker did not); returns its index."""
        self._items.append(_Stored(step=grids.step, from_eval=grids.from_eval, pngs=grids.encode().encoded))
        self._newest = grids
        if not grids.from_eval:
            self._live_count += 1
            if self._live_count > self._max_live:
                self._thin_live()
        return len(self._items) - 1

    def _thin_live(self) -> None:
        """Drop every second live snapshot, keeping the first, the newest and all validation snapshots."""
        kept: list[_Stored] = []
        live_seen = 0
        last = len(self._items) - 1
        for index, item in enumerate(self._items):
            if item.from_eval or index == last:
                kept.append(item)
                continue
            if live_seen % 2 == 0:
                kept.append(item)
            live_seen += 1
        self._items = kept
        self._live_count = sum(not item.from_eval for item in kept)

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
