"""The nearest training faces of the current face, in pixel space and in latent space, updating as z moves.

An observer of the live face: whatever made the current face (sliders, a sample, a morph frame, an encoded
photo), the strip follows the face the live decoder painted, and its z. The index is built once per data set and every query runs off the GUI thread
(vae_gui.tasks); while one query runs, later moves only mark the strip stale, and the newest z is queried next,
so a slider drag costs at most one query in flight. Clicking a thumbnail makes that training face's code current.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from trainer.latent.neighbours import NearestFaces, build_training_index

from .. import theme
from ..tasks import BackgroundTasks
from .live_decoder import LiveDecoder
from .neighbours_row import NeighbourRow

K = 8                     # thumbnails per row
THROTTLE_MS = 30          # at most one query start per this while dragging (a query takes ~15 ms)
PROGRESS_STEP = 10        # per cent: how finely indexing progress is shown
INDEX_CHANNEL = "neighbours-index"
QUERY_CHANNEL = "neighbours-query"
ENABLED_TIP = ("Show the training images closest to the current face: is it new, or a copy of a training face? "
               "Untick to hide them.")
SPACES = (("pixels", "pixel space"), ("latent", "latent space"), ("both", "both"))


def _build_index(task, codes, source: str, test_fraction: float) -> NearestFaces | None:
    return build_training_index(codes, source, test_fraction, progress=task.report,
                                should_stop=lambda: task.cancelled)


def _query(task, index: NearestFaces, z: np.ndarray, face: np.ndarray,
           spaces: tuple[str, ...]) -> tuple[np.ndarray, dict]:
    """The neighbours of the face as shown: `face` is the live decoder's image of `z` (not decoded again here)."""
    found = {}
    if "latent" in spaces and index.has_latents:
        found["latent"] = index.query_latent(z, K)
    task.check()
    if "pixels" in spaces:
        found["pixels"] = index.query_pixels(face, K)
    return z, found


class NeighboursStrip(QWidget):
    status_message = Signal(str)
    training_face_picked = Signal()              # a thumbnail was clicked (z already set to its code)

    def __init__(self, state, decoder: LiveDecoder, tasks: BackgroundTasks | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.decoder = decoder
        self.tasks = tasks or BackgroundTasks(self)
        self.index: NearestFaces | None = None
        self.query_count = 0
        self._pending = False
        self._last_start = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start_query)

        self.enabled = QCheckBox("Nearest training faces", self)
        self.enabled.setChecked(True)
        self.enabled.setToolTip(ENABLED_TIP)
        self.space = QComboBox(self)
        for key, text in SPACES:
            self.space.addItem(text, key)
        self.space.setToolTip("Pixel space: the training images that look most alike (RMS pixel difference on "
                              "0..1).\nLatent space: the training images whose codes are closest (Euclidean).")
        self.note = QLabel("", self)              # in place of the thumbnails until there are some
        theme.set_tone(self.note, theme.Tone.MUTED)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # One line: the controls in a narrow column at the left, the thumbnails beside them (the tabs above keep
        # their height at 1024 x 700).
        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(2)
        controls.addWidget(self.enabled)
        controls.addWidget(self.space)
        controls.addStretch(1)
        column = QWidget(self)
        column.setLayout(controls)
        column.setFixedWidth(max(self.enabled.sizeHint().width(), self.space.sizeHint().width()) + 4)
        self.rows = {"pixels": NeighbourRow("pixels", K, self), "latent": NeighbourRow("latent", K, self)}
        rows = QVBoxLayout()
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(0)
        rows.addWidget(self.note)
        for row in self.rows.values():
            row.picked.connect(self.pick)
            rows.addWidget(row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.addWidget(column)
        thumbnails = QWidget(self)
        thumbnails.setLayout(rows)
        # A narrow window clips the last thumbnails instead of widening the column (the tabs above set its width).
        thumbnails.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(thumbnails, 1)

        self.enabled.toggled.connect(self._on_toggled)
        self.space.currentIndexChanged.connect(self._on_space_changed)
        self.tasks.finished.connect(self._on_finished)
        self.tasks.failed.connect(self._on_failed)
        self.tasks.progress.connect(self._on_progress)
        state.checkpoint_changed.connect(self._on_checkpoint_changed)
        state.data_changed.connect(self._on_data_changed)
        # Queries follow the face as painted: each starts after a decode, so on two cores it runs beside the GUI
        # thread's idle time, not beside its next decode (sharing the interpreter, both took twice as long).
        decoder.face_ready.connect(self.request)
        self._on_space_changed()
        self._on_checkpoint_changed()

    # ------------------------------------------------------------ public

    @property
    def ready(self) -> bool:
        return self.index is not None

    @property
    def shown_spaces(self) -> tuple[str, ...]:
        key = self.space.currentData()
        return ("pixels", "latent") if key == "both" else (key,)

    def set_space(self, key: str) -> None:
        self.space.setCurrentIndex([k for k, _ in SPACES].index(key))

    def request(self) -> None:
        """A new face is shown: query at once, or once THROTTLE_MS have passed since the last query started (one
        query in flight at a time)."""
        if self.index is None or not self.enabled.isChecked() or self.decoder.face is None:
            return
        if not self._timer.isActive():
            since_last_ms = (time.perf_counter() - self._last_start) * 1000
            self._timer.start(int(max(0.0, THROTTLE_MS - since_last_ms)))

    def pick(self, training_index: int) -> None:
        """Make a training face current: its latent code becomes z."""
        if self.index is None or not self.index.has_latents:
            return
        self.state.set_z(self.index.latents[training_index].numpy())
        self.status_message.emit(f"Started from the code of {self.index.name(training_index)}")
        self.training_face_picked.emit()

    def shutdown(self) -> None:
        self._timer.stop()
        self.tasks.shutdown()

    # ------------------------------------------------------------ building the index

    def _on_checkpoint_changed(self) -> None:
        self.tasks.cancel(INDEX_CHANNEL)
        self.tasks.cancel(QUERY_CHANNEL)
        self.index = None
        self._pending = False
        for row in self.rows.values():
            row.clear()
        self._say("waiting for the encoded data set..." if self.state.has_checkpoint else "")

    def _on_data_changed(self) -> None:
        data, codes = self.state.data, self.state.codes       # the codes the atlas shares
        self.tasks.cancel(QUERY_CHANNEL)                          # a query of the old index: its answer is stale
        self.index = None
        if codes is None or len(codes.images("train")) == 0:
            reason = f" ({data.data_error})" if data is not None and data.data_error else ""
            self._say(f"The training images are not available{reason}.")
            return
        config = self.state.checkpoint.config.data
        self._say("Indexing the training faces...")
        self.tasks.start(INDEX_CHANNEL, _build_index, codes, config.source, config.test_fraction)

    def _on_progress(self, channel: str, done: int, total: int, what: str) -> None:
        # In steps of PROGRESS_STEP %: a new text re-lays out the whole window, which then repaints every widget.
        if channel == INDEX_CHANNEL and total:
            percent = PROGRESS_STEP * (100 * done // total // PROGRESS_STEP)
            text = f"{what[:1].upper()}{what[1:]}: {percent}%"
            if text != self.note.text():
                self._say(text)

    # ------------------------------------------------------------ queries

    def _start_query(self) -> None:
        if self.index is None or not self.enabled.isChecked():
            return
        if self.tasks.is_busy(QUERY_CHANNEL):
            self._pending = True            # query the newest z when this one is done
            return
        face, z = self.decoder.face, self.decoder.face_z
        if face is None or z is None or z.shape != (self.state.latent_dim,):
            return
        self._pending = False
        self._last_start = time.perf_counter()
        self.tasks.start(QUERY_CHANNEL, _query, self.index, z.copy(), face, self.shown_spaces)

    def _on_finished(self, channel: str, result) -> None:
        if channel == INDEX_CHANNEL:
            self.index = result
            if result is None:
                self._say("The training images are not available.")
                return
            self.enabled.setToolTip(f"{ENABLED_TIP}\n{len(result):,} training images are indexed.")
            self.note.clear()
            self._update_visibility()
            self.request()
        elif channel == QUERY_CHANNEL:
            z, found = result
            self.query_count += 1
            for space, neighbours in found.items():
                self.rows[space].show_neighbours(self.index, neighbours)
            if self._pending or not np.array_equal(z, self.decoder.face_z):
                self.request()

    def _on_failed(self, channel: str, message: str) -> None:
        if channel in (INDEX_CHANNEL, QUERY_CHANNEL):
            self._say(f"Nearest faces failed: {message}")

    # ------------------------------------------------------------ showing

    def _on_toggled(self, on: bool) -> None:
        self.space.setEnabled(on)
        self._on_space_changed()
        if on:
            self.request()

    def _on_space_changed(self) -> None:
        self._update_visibility()
        self.request()

    def _say(self, text: str) -> None:
        """A message where the thumbnails go (progress, why there are none)."""
        self.note.setText(text)
        self.note.setToolTip(text)
        self._update_visibility()

    def _update_visibility(self) -> None:
        on = self.enabled.isChecked()
        talking = bool(self.note.text())
        self.note.setVisible(on and talking)
        for key, row in self.rows.items():
            row.setVisible(on and not talking and key in self.shown_spaces)
            row.set_caption_visible(len(self.shown_spaces) > 1)     # one row: the menu already names it
