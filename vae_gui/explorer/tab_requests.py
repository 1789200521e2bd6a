"""What the tabs and the gallery ask for, done by writing to the model: a morph endpoint or direction group from the
gallery's selection (the model's Selection) or from image files, and the gallery's context menu. The Morph and
Directions tabs observe their parts, so a tab never calls another; `show_tab` tells the panel which tab to bring
forward after a gallery action.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.latent.codec import encode_images, hwc_to_nchw, reconstruct

from ..model import ExplorerModel
from .dialogs import IMAGE_FILTER
from .face_actions import FaceActions
from .messages import Messages

MORPH_TAB, DIRECTIONS_TAB = "morph", "directions"


class TabRequests(QObject):
    show_tab = Signal(str)          # MORPH_TAB | DIRECTIONS_TAB: the tab that shows what a gallery action changed

    def __init__(self, model: ExplorerModel, messages: Messages, faces: FaceActions, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self.messages = messages
        self.faces = faces

    def selected_test_images(self) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
        """(latents, images, indices) of the gallery's selection, or None after saying why not."""
        data, indices = self.model.data, self.model.selection.indices
        if data is None or not data.has_images or not indices or indices[-1] >= len(data.test_images):
            self.messages.say("Select test images in the gallery first")
            return None
        return data.test_latents[indices], data.test_images[indices], indices

    def on_endpoint_requested(self, slot: str, source: str) -> None:
        if source == "gallery":
            selected = self.selected_test_images()
            if selected is not None:
                latents, _, indices = selected
                self.model.morph.set_endpoint(slot, latents[0], f"test image {indices[0] + 1}")
            return
        path = self.messages.dialogs.open_path(f"Image for face {slot}", IMAGE_FILTER)
        image = self.faces.read_image(path) if path else None
        if image is not None:
            z, _ = reconstruct(self.model.model, image)
            self.model.morph.set_endpoint(slot, z, Path(path).name)

    def on_group_requested(self, group: str, source: str) -> None:
        if source == "gallery":
            selected = self.selected_test_images()
            if selected is not None:
                self.model.directions.add_to_group(group, selected[0], selected[1])
            return
        paths = self.messages.dialogs.open_paths(f"Images for group {group}", IMAGE_FILTER)
        images = [image for image in map(self.faces.read_image, paths) if image is not None]
        if images:
            stacked = np.stack(images)
            latents = encode_images(self.model.model, hwc_to_nchw(stacked))[0]
            self.model.directions.add_to_group(group, latents, stacked)

    def on_gallery_action(self, action: str, indices: list[int]) -> None:
        data = self.model.data
        if data is None or not indices:
            return
        if action == "start":
            self.faces.start_from_test_image(indices[0])
        elif action in ("A", "B"):
            self.model.morph.set_endpoint(action, data.test_latents[indices[0]], f"test image {indices[0] + 1}")
            self.show_tab.emit(MORPH_TAB)
        else:
            group = "A" if action == "group_a" else "B"
            self.model.directions.add_to_group(group, data.test_latents[indices], data.test_images[indices])
            self.show_tab.emit(DIRECTIONS_TAB)
