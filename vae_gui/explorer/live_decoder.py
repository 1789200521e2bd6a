"""Decodes the current z into the face image, at most once per frame; the latest z always wins.

A 64 px decoder takes a few milliseconds on a CPU, so decoding runs in the GUI thread: a worker would add a
thread hop and a copy for nothing. Slider drags only mark the face dirty; a single-shot timer decodes whatever
z is current when it fires, so a burst of slider events costs one decode per frame.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from trainer.latent.codec import decode_latents

from ..qt_images import array_to_qimage
from .state import ExplorerState

FRAME_MS = 16


class LiveDecoder(QObject):
    face_ready = Signal(QImage)

    def __init__(self, state: ExplorerState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.face: np.ndarray | None = None        # uint8 (H, W, 3) of the last decode
        self.face_z: np.ndarray | None = None      # the z it was decoded from
        self.image = QImage()
        self.decode_count = 0
        self._last_decode = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.decode_now)
        state.z_changed.connect(self.request)

    def request(self) -> None:
        """Schedule a decode of the current z (coalesced: one per frame at most)."""
        if self._timer.isActive():
            return
        since_last_ms = (time.perf_counter() - self._last_decode) * 1000
        self._timer.start(int(max(0.0, FRAME_MS - since_last_ms)))

    def decode_now(self) -> None:
        self._timer.stop()
        model = self.state.model
        if model is None or self.state.z.size == 0:
            return
        self.face_z = self.state.z.copy()
        self.face = decode_latents(model, self.face_z[None])[0]
        self.image = array_to_qimage(self.face)
        self._last_decode = time.perf_counter()
        self.decode_count += 1
        self.face_ready.emit(self.image)
