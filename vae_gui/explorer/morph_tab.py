"""The "Morph" tab: two faces A and B, the interpolation strip between them, a morph slider, PNG/GIF export."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QSpinBox, QVBoxLayout, QWidget)

from trainer.data.images import save_gif, save_png
from trainer.latent.codec import decode_latents
from trainer.latent.grids import image_grid
from trainer.latent.paths import interpolate

from .. import theme
from ..model import Face, Morph, Session
from ..vertical_scroll import scrolling_body
from ..qt_images import array_to_qimage
from .dialogs import GIF_FILTER, PNG_FILTER, Dialogs
from .face_view import FaceView
from .image_grid import ImageGrid

MORPH_STEPS = 1000


class EndpointBox(QGroupBox):
    """One end of the morph: its face, where it came from, and buttons to pick another."""

    picked = Signal(str)            # "current" | "gallery" | "file"

    def __init__(self, slot: str, parent: QWidget | None = None):
        super().__init__(f"Face {slot}", parent)
        self.view = FaceView(self, minimum=88)
        self.view.setMaximumSize(128, 128)
        self.view.set_smooth(True)
        self.description = QLabel("", self)
        self.description.setWordWrap(True)
        theme.set_tone(self.description, theme.Tone.MUTED)
        self.description.setFixedHeight(self.description.fontMetrics().lineSpacing() * 2 + 2)
        self.buttons: list[QPushButton] = []
        column = QVBoxLayout()
        column.addWidget(self.description)
        for source, text, tip in (
                ("current", "Current face", "Use the face shown on the left"),
                ("gallery", "Test image", "Use the test image selected in the gallery below"),
                ("file", "Image file...", "Encode an image file")):
            button = QPushButton(text, self)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, s=source: self.picked.emit(s))
            column.addWidget(button)
            self.buttons.append(button)
        column.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(column)


class MorphTab(QWidget):
    """Mirrors the model's Morph part (endpoints, kind, steps, path) and writes the user's picks to it; decodes with
    the session's model; "Current face" and "Load into sliders" read and move the face."""

    endpoint_requested = Signal(str, str)        # slot "A" | "B", source "gallery" | "file"
    status_message = Signal(str)

    def __init__(self, morph: Morph, session: Session, face: Face, dialogs: Dialogs, parent: QWidget | None = None):
        super().__init__(parent)
        self.morph = morph
        self.session = session
        self.face = face
        self.dialogs = dialogs
        self._strip_images: np.ndarray | None = np.zeros((0, 1, 1, 3), np.uint8)   # None: not decoded yet
        self._stale_views: set[str] = set()          # what to decode when next shown: "A", "B", "strip"
        self.morph_latent: np.ndarray | None = None
        self._morph_timer = QTimer(self)
        self._morph_timer.setSingleShot(True)
        self._morph_timer.timeout.connect(self._decode_morph)
        self._build()
        self.morph.endpoint_changed.connect(self._on_endpoint)
        self.morph.path_changed.connect(self._on_path)
        session.model_replaced.connect(self._on_model_replaced)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.boxes = {slot: EndpointBox(slot, self) for slot in ("A", "B")}
        for slot, box in self.boxes.items():
            box.picked.connect(lambda source, s=slot: self._on_pick(s, source))
        self.kind = QComboBox(self)
        self.kind.addItem("Straight line (lerp)", "lerp")
        self.kind.addItem("Great circle (slerp)", "slerp")
        self.kind.setToolTip("Slerp keeps the distance from the origin, staying where prior samples live")
        self.steps = QSpinBox(self)
        self.steps.setRange(2, 32)
        self.steps.setValue(8)
        self.frame_ms = QSpinBox(self)
        self.frame_ms.setRange(20, 2000)
        self.frame_ms.setValue(120)
        self.frame_ms.setSuffix(" ms")
        self.frame_ms.setToolTip("Time per GIF frame")
        export_strip = QPushButton("Save strip...", self)
        export_gif = QPushButton("Save GIF...", self)
        export_strip.clicked.connect(self._ask_save_strip)
        export_gif.clicked.connect(self._ask_save_gif)
        self.steps.setToolTip("Faces in the strip, A and B included")
        export_strip.setToolTip("Save the strip as one PNG image")
        export_gif.setToolTip("Save the strip as a looping animated GIF")
        controls = QHBoxLayout()
        for widget in (QLabel("Path:", self), self.kind, QLabel("Steps:", self), self.steps):
            controls.addWidget(widget)
        controls.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.boxes["A"], 1)
        top.addWidget(self.boxes["B"], 1)

        self.strip = ImageGrid(self, placeholder="Pick faces A and B.")
        self.strip.setMinimumHeight(64)
        self.strip.tile_clicked.connect(self._load_strip_face)
        self.morph_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.morph_slider.setRange(0, MORPH_STEPS)
        self.morph_slider.setToolTip("Slide from A (left) to B (right); the face below follows live")
        self.morph_label = QLabel("A", self)
        self.morph_label.setMinimumWidth(self.morph_label.fontMetrics().horizontalAdvance("t = 0.000") + 4)
        self.morph_view = FaceView(self, minimum=96)
        self.morph_view.set_smooth(True)
        send = QPushButton("Load into sliders", self)
        send.setToolTip("Make the morphed face the current face")
        send.clicked.connect(self._send_morph_to_sliders)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("A", self))
        slider_row.addWidget(self.morph_slider, 1)
        slider_row.addWidget(QLabel("B", self))
        slider_row.addWidget(self.morph_label)
        actions = QVBoxLayout()
        actions.addWidget(send)
        actions.addSpacing(8)
        frame_row = QHBoxLayout()
        frame_row.addWidget(QLabel("GIF frame:", self))
        frame_row.addWidget(self.frame_ms)
        actions.addLayout(frame_row)
        actions.addWidget(export_strip)
        actions.addWidget(export_gif)
        actions.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.morph_view, 1)
        bottom.addLayout(actions)

        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.addLayout(top)
        layout.addLayout(controls)
        layout.addWidget(QLabel("Interpolation (click a face to load it into the sliders):", self))
        layout.addWidget(self.strip, 1)
        layout.addLayout(slider_row)
        layout.addLayout(bottom, 2)

        self.kind.currentIndexChanged.connect(self._on_controls)
        self.steps.valueChanged.connect(self._on_controls)
        self.morph_slider.valueChanged.connect(lambda _: self._morph_timer.start(0))

    # ------------------------------------------------------------ endpoints

    def _on_pick(self, slot: str, source: str) -> None:
        if source == "current":
            self.morph.set_endpoint(slot, self.face.z, "the current face")
        else:
            self.endpoint_requested.emit(slot, source)

    def _on_endpoint(self, slot: str) -> None:
        endpoint = self.morph.endpoints[slot]
        self.boxes[slot].description.setText(endpoint.name if endpoint is not None else "")
        self._stale_views.add(slot)
        if self.isVisible():
            self.redraw()

    def _on_model_replaced(self) -> None:
        """New weights (a followed run): the same codes are other faces."""
        self._stale_views.update(("A", "B"))
        self._on_path()

    # ------------------------------------------------------------ strip and morph

    @property
    def interpolation(self) -> str:
        return self.morph.kind

    @property
    def strip_latents(self) -> np.ndarray:
        return self.morph.path

    def _on_controls(self) -> None:
        self.morph.set_interpolation(self.kind.currentData(), self.steps.value())

    def _on_path(self) -> None:
        """The path changed: the controls show its kind and steps; the faces are decoded when the tab is shown, so a
        checkpoint reload or new data does not decode a hidden strip on the GUI thread."""
        for widget in (self.kind, self.steps):
            widget.blockSignals(True)
        self.kind.setCurrentIndex(self.kind.findData(self.morph.kind))
        self.steps.setValue(self.morph.steps)
        for widget in (self.kind, self.steps):
            widget.blockSignals(False)
        self._strip_images = None
        self._stale_views.add("strip")
        if self.isVisible():
            self.redraw()

    @property
    def strip_images(self) -> np.ndarray:
        """The strip's faces (decoded on first use after a change)."""
        if self._strip_images is None:
            self._strip_images = (decode_latents(self.session.model, self.strip_latents)
                                  if len(self.strip_latents) and self.session.model is not None
                                  else np.zeros((0, 1, 1, 3), np.uint8))
        return self._strip_images

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale_views:
            self.redraw()

    def redraw(self) -> None:
        """Decode what changed while hidden: endpoint thumbnails, the strip and the morph."""
        for slot in ("A", "B"):
            z = self.morph.z_of(slot)
            if slot in self._stale_views and z is not None and self.session.model is not None:
                image = decode_latents(self.session.model, z[None])[0]
                self.boxes[slot].view.set_image(array_to_qimage(image))
        if "strip" in self._stale_views:
            if len(self.strip_latents) and self.session.model is not None:
                self.strip.set_images(self.strip_images, columns=len(self.strip_images))
                self._decode_morph()
            else:
                self.strip.clear()
        self._stale_views.clear()

    def _decode_morph(self) -> None:
        a, b = self.morph.z_of("A"), self.morph.z_of("B")
        if a is None or b is None or self.session.model is None:
            return
        t = self.morph_slider.value() / MORPH_STEPS
        self.morph_label.setText(f"t = {t:.3f}")
        self.morph_latent = interpolate(a, b, t, self.interpolation)
        self.morph_view.set_image(array_to_qimage(decode_latents(self.session.model, self.morph_latent[None])[0]))

    def _load_strip_face(self, index: int) -> None:
        if 0 <= index < len(self.strip_latents):
            self.face.set_z(self.strip_latents[index])

    def _send_morph_to_sliders(self) -> None:
        if self.morph_latent is not None:
            self.face.set_z(self.morph_latent)

    # ------------------------------------------------------------ export

    def save_strip(self, path: str) -> None:
        save_png(image_grid(self.strip_images, nrow=len(self.strip_images)), path, scale=2)

    def save_gif(self, path: str) -> None:
        """The strip as an animation: one frame per step, looping."""
        save_gif(self.strip_images, path, frame_ms=self.frame_ms.value(), scale=4)

    def _ask_save_strip(self) -> None:
        if len(self.strip_images):
            path = self.dialogs.save_path("Save interpolation strip", PNG_FILTER, "morph_strip.png")
            if path:
                self._export(self.save_strip, path)

    def _ask_save_gif(self) -> None:
        if len(self.strip_images):
            path = self.dialogs.save_path("Save morph animation", GIF_FILTER, "morph.gif")
            if path:
                self._export(self.save_gif, path)

    def _export(self, save, path: str) -> None:
        try:
            save(path)
        except (OSError, ValueError) as error:
            self.dialogs.error("Cannot save", f"{path}\n\nThe file could not be written ({error}).")
            self.status_message.emit(f"Could not save {path}")
            return
        self.status_message.emit(f"Saved {path}")
