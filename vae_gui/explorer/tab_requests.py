"""Requests the tabs and the gallery make of each other, routed here so the tabs never call each other.

Morph endpoints and direction groups come from the gallery's selection or from image files; the gallery's
context menu starts from an image, sets a morph endpoint or adds to a direction group.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trainer.latent.codec import encode_images, hwc_to_nchw, reconstruct

from .dialogs import IMAGE_FILTER

if TYPE_CHECKING:
    from .panel import ExplorerPanel


class TabRequests:
    def __init__(self, panel: ExplorerPanel):
        self.panel = panel
        self.state = panel.state

    def selected_test_images(self) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
        """(latents, images, indices) of the gallery's selection, or None after saying why not."""
        data = self.state.data
        indices = self.panel.gallery.selected_indices()
        if data is None or not data.has_images or not indices:
            self.panel.status_message.emit("Select test images in the gallery first")
            return None
        return data.test_latents[indices], data.test_images[indices], indices

    def on_endpoint_requested(self, slot: str, source: str) -> None:
        morph_tab = self.panel.morph_tab
        if source == "gallery":
            selected = self.selected_test_images()
            if selected is not None:
                latents, _, indices = selected
                morph_tab.set_endpoint(slot, latents[0], f"test image {indices[0] + 1}")
            return
        path = self.panel.dialogs.open_path(f"Image for face {slot}", IMAGE_FILTER)
        image = self.panel.faces.read_image(path) if path else None
        if image is not None:
            z, _ = reconstruct(self.state.model, image)
            morph_tab.set_endpoint(slot, z, Path(path).name)

    def on_group_requested(self, group: str, source: str) -> None:
        directions_tab = self.panel.directions_tab
        if source == "gallery":
            selected = self.selected_test_images()
            if selected is not None:
                directions_tab.add_to_group(group, selected[0], selected[1])
            return
        paths = self.panel.dialogs.open_paths(f"Images for group {group}", IMAGE_FILTER)
        images = [image for image in map(self.panel.faces.read_image, paths) if image is not None]
        if images:
            stacked = np.stack(images)
            directions_tab.add_to_group(group, encode_images(self.state.model, hwc_to_nchw(stacked))[0], stacked)

    def on_gallery_action(self, action: str, indices: list[int]) -> None:
        panel, data = self.panel, self.state.data
        if data is None or not indices:
            return
        if action == "start":
            panel.faces.start_from_test_image(indices[0])
        elif action in ("A", "B"):
            panel.morph_tab.set_endpoint(action, data.test_latents[indices[0]], f"test image {indices[0] + 1}")
            panel.tabs.setCurrentWidget(panel.morph_tab)
        else:
            group = "A" if action == "group_a" else "B"
            panel.directions_tab.add_to_group(group, data.test_latents[indices], data.test_images[indices])
            panel.tabs.setCurrentWidget(panel.directions_tab)
