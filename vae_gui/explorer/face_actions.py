"""What the user does to the current face: random faces, start from an image, save, copy, undo and redo."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QGuiApplication

from trainer.data.images import ImageDecodeError, load_image, save_png, save_png_resized
from trainer.latent.codec import decode_latents, reconstruct
from trainer.latent.samplers import random_code_latent, random_data_latent, random_prior_latent

from ..model import ExplorerModel, Source
from .dialogs import IMAGE_FILTER, PNG_FILTER
from .live_decoder import LiveDecoder
from .messages import Messages


SYNTHETIC_MODEL_HINT = ("This model learned only the built-in cartoon faces, so any image comes back as the "
                        "nearest cartoon.")


class FaceActions:
    """The face panel's buttons and the File/Edit menu's face entries; they write only to the explorer model."""

    def __init__(self, model: ExplorerModel, decoder: LiveDecoder, messages: Messages):
        self.state = model
        self.decoder = decoder
        self.messages = messages

    def on_face_action(self, key: str) -> None:
        handlers = {"reset": self.state.reset_to_mean, "random_prior": self.randomize_from_prior,
                    "random_data": self.randomize_from_data, "open_image": self.ask_start_from_file,
                    "save": self.ask_save_face, "copy": self.copy_face}
        if self.state.has_checkpoint:
            handlers[key]()

    def _say(self, message: str) -> None:
        self.messages.say(message)

    # ------------------------------------------------------------ new starting points

    def randomize_from_prior(self) -> None:
        """A VAE: z ~ N(0, I). A plain AE has no prior: draw from the spread of its encoded codes instead."""
        state = self.state
        if state.is_variational:
            z = random_prior_latent(state.latent_dim, state.rng)
            self._say("Random face from the prior N(0, I)")
        else:
            z = random_code_latent(state.stats, state.latent_dim, state.rng)
            self._say("Random face from the spread of the encoded codes (an AE has no prior)")
        state.set_z(z)

    def randomize_from_data(self) -> None:
        """Start from a random test image's encoding (its original and reconstruction shown)."""
        data = self.state.data
        if data is None:
            self._say("Still encoding the data set; try again in a moment")
            return
        if data.has_images:
            _, index = random_data_latent(data.test_latents, self.state.rng)
            self.start_from_test_image(index)
        else:
            z, _ = random_data_latent(data.train_latents, self.state.rng)
            self.state.set_z(z)
            self._say("Random encoded sample (the data set is not available)")

    def start_from_test_image(self, index: int) -> None:
        data = self.state.data
        if data is None or not data.has_images or not 0 <= index < len(data.test_images):
            return
        z = data.test_latents[index]
        reconstruction = decode_latents(self.state.model, z[None], exact=True)[0]
        self._start_from(z, data.test_images[index], reconstruction, f"test image {index + 1}")

    def start_from_file(self, path: str) -> bool:
        """Encode an image file (centre-cropped and resized like the training data) and start from it."""
        image = self.read_image(path)
        if image is None:
            return False
        z, reconstruction = reconstruct(self.state.model, image)
        synthetic = self.state.checkpoint.config.data.source == "synthetic"
        self._start_from(z, image, reconstruction, Path(path).name, SYNTHETIC_MODEL_HINT if synthetic else "")
        return True

    def ask_start_from_file(self) -> None:
        path = self.messages.dialogs.open_path("Encode an image", IMAGE_FILTER)
        if path:
            self.start_from_file(path)

    def _start_from(self, z: np.ndarray, original: np.ndarray, reconstruction: np.ndarray, name: str,
                    note: str = "") -> None:
        self.state.face.start_from(Source(original, reconstruction, name, z, note))
        self._say(f"Started from {name}")

    def read_image(self, path: str) -> np.ndarray | None:
        """The image at the model's size, or None after an error naming the file."""
        try:
            return load_image(path, self.state.checkpoint.config.model.image_size)
        except ImageDecodeError as error:
            self.messages.error("Cannot read image", f"{error.path}\n\n{error.reason}")
            return None

    # ------------------------------------------------------------ the face as a picture

    def current_face(self) -> np.ndarray | None:
        decoder = self.decoder
        if decoder.face is None and self.state.has_checkpoint:
            decoder.decode_now()
        return decoder.face

    def save_face(self, path: str, size: int | None = None) -> bool:
        """Save the current face as PNG: at the model's size, or `size` x `size` (smoothly resized)."""
        face = self.current_face()
        if face is None:
            return False
        try:
            if size is None or size == face.shape[0]:
                save_png(face, path)
            else:
                save_png_resized(face, path, size)
        except (OSError, ValueError) as error:
            self.messages.error("Cannot save face", f"{path}\n\nThe file could not be written ({error}).")
            return False
        side = size or face.shape[0]
        self._say(f"Saved {path} ({side} x {side} px)")
        return True

    def ask_save_face(self) -> None:
        if not self.state.has_checkpoint:
            return
        dialogs = self.messages.dialogs
        native = self.state.checkpoint.config.model.image_size
        size = dialogs.face_size(native)
        if size is None:
            return
        path = dialogs.save_path("Save face", PNG_FILTER, "face.png")
        if path:
            self.save_face(path, size)

    def copy_face(self) -> None:
        if self.current_face() is not None:
            QGuiApplication.clipboard().setImage(self.decoder.image)
            self._say("Face copied to the clipboard")

    # ------------------------------------------------------------ history

    def undo(self) -> None:
        if self.state.undo():
            self._say("Undid the last face edit")

    def redo(self) -> None:
        if self.state.redo():
            self._say("Redid the face edit")
