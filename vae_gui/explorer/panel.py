"""The Explore tab: open a checkpoint and touch its latent space.

Layout: left, the checkpoint info, the live face and its actions; right, tabs (Sliders, Samples, Morph, Traversals,
Directions) above a strip of the checkpoint's test images. The panel is the controller: it loads checkpoints,
starts the background encoding, and routes requests between the tabs. All dialogs go through `self.dialogs`, and
errors and warnings are also emitted as signals, so tests never block on a modal box.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from trainer.training.checkpoint import CheckpointError, LoadedCheckpoint
from trainer.training.checkpoint import load_checkpoint as read_checkpoint_file
from trainer.latent.explorer import (ExplorerSnapshot, ExplorerStateError, PreparedLatents, decode_faces, encode_faces,
                             encode_one, load_explorer_state, prepare_for_inference, random_code_latent,
                             random_data_latent, random_prior_latent, save_explorer_state, save_png,
                             save_png_resized)
from trainer.data.images import IMAGE_EXTENSIONS, ImageDecodeError, load_image
from trainer.latent.core import LatentStats, LatentStatsError

from ..qt_images import array_to_qimage
from .compare_panel import ComparePanel
from .data_worker import LatentDataLoader
from .dialogs import CHECKPOINT_FILTER, IMAGE_FILTER, PNG_FILTER, STATE_FILTER, Dialogs
from .directions_tab import DirectionsTab
from .empty_state import EmptyState
from .face_panel import FacePanel
from .follow_controller import RunFollowController
from .gallery import TestGallery
from .info_panel import InfoPanel
from .live_decoder import LiveDecoder
from .morph_tab import MorphTab
from .recent import RecentFiles
from .samples_tab import SamplesTab
from .sliders_tab import SlidersTab
from .state import ExplorerState
from .traversals_tab import TraversalsTab

CHECKPOINT_SUFFIXES = (".pt", ".pth")


class ExplorerPanel(QWidget):
    status_message = Signal(str)
    error_shown = Signal(str, str)          # title, message
    warning_shown = Signal(str, str)
    checkpoint_loaded = Signal(str)
    latents_ready = Signal()                # the background encoding finished (or fell back)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dialogs = Dialogs(self)
        self.recent = RecentFiles()
        self.state = ExplorerState(self)
        self.decoder = LiveDecoder(self.state, self)
        self.loader = LatentDataLoader(self)
        self._menu_actions: list[QAction] = []
        self._recent_menu: QMenu | None = None
        self._build()
        self._add_compare_and_follow()
        self.setAcceptDrops(True)
        self.decoder.face_ready.connect(self.face_panel.view.set_image)
        self.state.z_changed.connect(self._update_z_summary)
        self.loader.progress.connect(self.info.show_progress)
        self.loader.finished.connect(self._on_latents_prepared)
        self.loader.failed.connect(self._on_latents_failed)
        self._set_loaded(False)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.empty = EmptyState(self)
        self.empty.open_requested.connect(self.ask_open_checkpoint)
        self.info = InfoPanel(self)
        self.face_panel = FacePanel(self)
        self.face_panel.action.connect(self._on_face_action)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        left_layout.addWidget(self.info)
        left_layout.addWidget(self.face_panel, 1)
        left.setMinimumWidth(300)

        self.sliders_tab = SlidersTab(self.state, self)
        self.samples_tab = SamplesTab(self.state, self.dialogs, self)
        self.morph_tab = MorphTab(self.state, self.dialogs, self)
        self.traversals_tab = TraversalsTab(self.state, self.dialogs, self)
        self.directions_tab = DirectionsTab(self.state, self)
        self.tabs = QTabWidget(self)
        for tab, title in ((self.sliders_tab, "Sliders"), (self.samples_tab, "Samples"), (self.morph_tab, "Morph"),
                           (self.traversals_tab, "Traversals"), (self.directions_tab, "Directions")):
            self.tabs.addTab(tab, title)
        self.gallery = TestGallery(self)
        self.gallery_label = QLabel("Test images: double-click one to start from it; right-click for more.", self)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addWidget(self.tabs, 1)
        right_layout.addWidget(self.gallery_label)
        right_layout.addWidget(self.gallery)
        # No fixed minimum: the splitter keeps the tabs at their layouts' minimum, so no control is squeezed.

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setChildrenCollapsible(False)
        # The face grows with the window: the left column takes about 40% of the width (see resizeEvent).
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([400, 600])
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.stack)

        self.samples_tab.endpoint_picked.connect(self.morph_tab.set_endpoint)
        self.morph_tab.status_message.connect(self.status_message)
        self.morph_tab.endpoint_requested.connect(self._on_endpoint_requested)
        self.directions_tab.group_add_requested.connect(self._on_group_requested)
        self.gallery.start_requested.connect(self.start_from_test_image)
        self.gallery.action_requested.connect(self._on_gallery_action)

    def _add_compare_and_follow(self) -> None:
        """The Compare tab (a second model) and the follow-a-run controller with its status line."""
        self.compare = ComparePanel(self.state, self)
        self.tabs.addTab(self.compare, "Compare")
        self.compare.open_requested.connect(self.ask_open_second)
        self.compare.status_message.connect(self.status_message)
        self.compare.error_shown.connect(self.show_error)
        # One seed for the Samples tab and the compared samples (setValue of the same value emits nothing).
        self.samples_tab.seed.valueChanged.connect(self.compare.seed.setValue)
        self.compare.seed.valueChanged.connect(self.samples_tab.seed.setValue)
        self.follow = RunFollowController(self, self)
        self.follow.status_changed.connect(self.status_message)
        self.splitter.widget(0).layout().insertWidget(0, self.follow.status)

    def ask_open_second(self) -> None:
        path = self.dialogs.open_path("Open second model", CHECKPOINT_FILTER)
        if path:
            self.compare.open_second(path)
            self.tabs.setCurrentWidget(self.compare)

    def ask_follow_run(self) -> None:
        folder = self.dialogs.open_folder("Follow run directory (a run folder of the app or of vae-train)")
        if folder:
            self.follow.follow(folder)

    def _set_loaded(self, loaded: bool) -> None:
        self.stack.setCurrentWidget(self.splitter if loaded else self.empty)
        for action in self._menu_actions:
            action.setEnabled(loaded)

    # ------------------------------------------------------------ messages

    def show_error(self, title: str, message: str) -> None:
        self.error_shown.emit(title, message)
        self.status_message.emit(message.splitlines()[0] if message else title)
        self.dialogs.error(title, message)

    def show_warning(self, title: str, message: str) -> None:
        self.warning_shown.emit(title, message)
        self.dialogs.warning(title, message)

    # ------------------------------------------------------------ loading checkpoints

    def load_checkpoint(self, path: str) -> bool:
        """Open a checkpoint. On a bad file: an error naming it and why; the current checkpoint stays."""
        try:
            checkpoint = read_checkpoint_file(path)
        except CheckpointError as error:
            self.show_error("Cannot open checkpoint", f"{error.path}\n\n{error.reason}")
            return False
        prepare_for_inference(checkpoint.model)
        stats, note = self._stored_stats(checkpoint)
        self.loader.cancel()
        self.face_panel.hide_encoded()
        self.gallery.set_images(None)
        self._show_gallery(False)                  # until the test images are encoded
        self.info.show_checkpoint(checkpoint)
        self.info.show_stats_note(note)
        self.state.set_checkpoint(checkpoint, stats, note)
        self.recent.add(str(checkpoint.path))
        self._set_loaded(True)
        self.loader.start(checkpoint, compute_stats=stats is None)
        self.status_message.emit(f"Opened {checkpoint.path}")
        self.checkpoint_loaded.emit(str(checkpoint.path))
        return True

    @staticmethod
    def _stored_stats(checkpoint: LoadedCheckpoint) -> tuple[LatentStats | None, str]:
        stored = checkpoint.payload.get("latent_stats")
        if not stored:
            return None, "Computing latent statistics from the test images..."
        try:
            stats = LatentStats.from_dict(stored)
        except (LatentStatsError, TypeError, ValueError, KeyError):
            return None, "The stored latent statistics are unreadable; computing them again..."
        if stats.latent_dim != checkpoint.model.latent_dim:
            return None, "The stored latent statistics do not fit this model; computing them again..."
        return stats, f"Latent statistics of {stats.n_samples} encoded test images (stored with the checkpoint)."

    @Slot(object)
    def _on_latents_prepared(self, result: PreparedLatents) -> None:
        self.info.hide_progress()
        data = result.data
        if result.stats is not None:
            note = result.stats_note[0].upper() + result.stats_note[1:] + "."
            if result.stored:
                note += " Kept for this checkpoint (the file is unchanged), so the next load is instant."
            self.info.show_stats_note(note)
            untouched = np.array_equal(self.state.z, self.state.mean_latent())
            self.state.set_stats(result.stats, note)
            if untouched:           # the user has not moved yet: start at the data mean, as with stored stats
                self.state.reset_to_mean(undoable=False)
        elif data.data_error:
            self.info.show_stats_note(f"{self.state.stats_note} The training data is not available "
                                      f"({data.data_error}); fitted samplers use decoded prior samples.")
        self.state.set_data(data)
        self.gallery.set_images(data.test_images)
        self._show_gallery(data.has_images)
        self.latents_ready.emit()

    def _show_gallery(self, visible: bool) -> None:
        self.gallery_label.setVisible(visible)
        self.gallery.setVisible(visible)

    @Slot(str)
    def _on_latents_failed(self, message: str) -> None:
        self.info.hide_progress()
        self.info.show_stats_note(f"Could not encode the data set: {message}")
        self.status_message.emit(f"Could not encode the data set: {message}")

    def ask_open_checkpoint(self) -> None:
        folder = str(Path(self.recent.paths()[0]).parent) if self.recent.paths() else ""
        path = self.dialogs.open_path("Open checkpoint", CHECKPOINT_FILTER, folder)
        if path:
            self.load_checkpoint(path)

    # ------------------------------------------------------------ the File menu

    def build_file_menu(self, menu: QMenu) -> None:
        open_action = menu.addAction("&Open checkpoint...", self.ask_open_checkpoint)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        self._recent_menu = menu.addMenu("Open &Recent")
        self._recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        menu.addSeparator()
        save_face = menu.addAction("&Save face...", self.ask_save_face)
        save_face.setShortcut(QKeySequence.StandardKey.Save)
        copy_face = menu.addAction("&Copy face", self.copy_face)
        copy_face.setShortcut(QKeySequence("Ctrl+Shift+C"))
        menu.addSeparator()
        save_state = menu.addAction("Save explorer &state...", self.ask_save_state)
        load_state = menu.addAction("&Load explorer state...", self.ask_load_state)
        menu.addSeparator()
        open_second = menu.addAction("Open second &model...", self.ask_open_second)
        open_second.setToolTip("Compare another checkpoint with this one (the Compare tab)")
        close_second = menu.addAction("Close second model", self.compare.close_second)
        self.compare.second_changed.connect(lambda: close_second.setEnabled(self.compare.second is not None))
        close_second.setEnabled(False)
        menu.addAction("&Follow run directory...", self.ask_follow_run)
        stop_following = menu.addAction("Stop following", self.follow.stop)
        menu.aboutToShow.connect(lambda: stop_following.setEnabled(self.follow.following))
        self._menu_actions = [save_face, copy_face, save_state, open_second]
        for action in self._menu_actions:
            action.setEnabled(self.state.has_checkpoint)
        load_state.setEnabled(True)

    def _fill_recent_menu(self) -> None:
        menu = self._recent_menu
        menu.clear()
        paths = self.recent.paths()
        for index, path in enumerate(paths):
            action = menu.addAction(f"&{(index + 1) % 10} {Path(path).name}",
                                    lambda p=path: self._open_recent(p))
            action.setToolTip(path)
            action.setStatusTip(path)
        if not paths:
            menu.addAction("(none yet)").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear list", self.recent.clear).setEnabled(bool(paths))

    def _open_recent(self, path: str) -> None:
        if not Path(path).is_file():
            self.recent.remove(path)
        self.load_checkpoint(path)

    # ------------------------------------------------------------ actions on the face

    def _on_face_action(self, key: str) -> None:
        handlers = {"reset": self.state.reset_to_mean, "random_prior": self.randomize_from_prior,
                    "random_data": self.randomize_from_data, "open_image": self.ask_start_from_file,
                    "save": self.ask_save_face, "copy": self.copy_face}
        if self.state.has_checkpoint:
            handlers[key]()

    def randomize_from_prior(self) -> None:
        """A VAE: z ~ N(0, I). A plain AE has no prior: draw from the spread of its encoded codes instead."""
        if self.state.is_variational:
            z = random_prior_latent(self.state.latent_dim, self.state.rng)
            self.status_message.emit("Random face from the prior N(0, I)")
        else:
            z = random_code_latent(self.state.stats, self.state.latent_dim, self.state.rng)
            self.status_message.emit("Random face from the spread of the encoded codes (an AE has no prior)")
        self.face_panel.hide_encoded()
        self.state.set_z(z)

    def randomize_from_data(self) -> None:
        """Start from a random test image's encoding (its original and reconstruction shown)."""
        data = self.state.data
        if data is None:
            self.status_message.emit("Still encoding the data set; try again in a moment")
            return
        if data.has_images:
            _, index = random_data_latent(data.test_latents, self.state.rng)
            self.start_from_test_image(index)
        else:
            z, _ = random_data_latent(data.train_latents, self.state.rng)
            self.face_panel.hide_encoded()
            self.state.set_z(z)
            self.status_message.emit("Random encoded sample (the data set is not available)")

    def start_from_test_image(self, index: int) -> None:
        data = self.state.data
        if data is None or not data.has_images or not 0 <= index < len(data.test_images):
            return
        z = data.test_latents[index]
        reconstruction = decode_faces(self.state.model, z[None])[0]
        self._start_from(z, data.test_images[index], reconstruction, f"test image {index + 1}")

    def start_from_file(self, path: str) -> bool:
        """Encode an image file (centre-cropped and resized like the training data) and start from it."""
        image = self._read_image(path)
        if image is None:
            return False
        z, reconstruction = encode_one(self.state.model, image)
        self._start_from(z, image, reconstruction, Path(path).name)
        return True

    def _start_from(self, z: np.ndarray, original: np.ndarray, reconstruction: np.ndarray, name: str) -> None:
        error = float(np.abs(original.astype(np.float32) - reconstruction.astype(np.float32)).mean())
        self.face_panel.show_encoded(array_to_qimage(original), array_to_qimage(reconstruction),
                                     f"Original {name} and its reconstruction; mean pixel error "
                                     f"{error:.1f} / 255")
        self.state.set_source(original, name, z)
        self.state.set_z(z)
        self.status_message.emit(f"Started from {name}")

    def _read_image(self, path: str) -> np.ndarray | None:
        try:
            return load_image(path, self.state.checkpoint.config.model.image_size)
        except ImageDecodeError as error:
            self.show_error("Cannot read image", f"{error.path}\n\n{error.reason}")
            return None

    def ask_start_from_file(self) -> None:
        path = self.dialogs.open_path("Encode an image", IMAGE_FILTER)
        if path:
            self.start_from_file(path)

    def current_face(self) -> np.ndarray | None:
        if self.decoder.face is None and self.state.has_checkpoint:
            self.decoder.decode_now()
        return self.decoder.face

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
            self.show_error("Cannot save face", f"{path}\n\nThe file could not be written ({error}).")
            return False
        side = size or face.shape[0]
        self.status_message.emit(f"Saved {path} ({side} x {side} px)")
        return True

    def ask_save_face(self) -> None:
        if self.state.has_checkpoint:
            native = self.state.checkpoint.config.model.image_size
            size = self.dialogs.face_size(native) if hasattr(self.dialogs, "face_size") else native
            if size is None:
                return
            path = self.dialogs.save_path("Save face", PNG_FILTER, "face.png")
            if path:
                self.save_face(path, size)

    def undo(self) -> None:
        if self.state.undo():
            self.status_message.emit("Undid the last face edit")

    def redo(self) -> None:
        if self.state.redo():
            self.status_message.emit("Redid the face edit")

    def build_edit_menu(self, menu: QMenu) -> None:
        self.undo_action = menu.addAction("&Undo face edit", self.undo)
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = menu.addAction("&Redo face edit", self.redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.state.history_changed.connect(self._update_history_actions)
        self._update_history_actions()

    def _update_history_actions(self) -> None:
        self.undo_action.setEnabled(self.state.can_undo)
        self.redo_action.setEnabled(self.state.can_redo)

    def copy_face(self) -> None:
        if self.current_face() is not None:
            QGuiApplication.clipboard().setImage(self.decoder.image)
            self.status_message.emit("Face copied to the clipboard")

    def _update_z_summary(self) -> None:
        z = self.state.z
        self.face_panel.z_summary.setText(f"|z| = {np.linalg.norm(z):.2f}" if z.size else "")

    # ------------------------------------------------------------ requests from the tabs

    def _selected_test_images(self) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
        data = self.state.data
        indices = self.gallery.selected_indices()
        if data is None or not data.has_images or not indices:
            self.status_message.emit("Select test images in the gallery first")
            return None
        return data.test_latents[indices], data.test_images[indices], indices

    def _on_endpoint_requested(self, slot: str, source: str) -> None:
        if source == "gallery":
            selected = self._selected_test_images()
            if selected is not None:
                latents, _, indices = selected
                self.morph_tab.set_endpoint(slot, latents[0], f"test image {indices[0] + 1}")
        else:
            path = self.dialogs.open_path(f"Image for face {slot}", IMAGE_FILTER)
            image = self._read_image(path) if path else None
            if image is not None:
                z, _ = encode_one(self.state.model, image)
                self.morph_tab.set_endpoint(slot, z, Path(path).name)

    def _on_group_requested(self, group: str, source: str) -> None:
        if source == "gallery":
            selected = self._selected_test_images()
            if selected is not None:
                self.directions_tab.add_to_group(group, selected[0], selected[1])
            return
        images = [image for image in (self._read_image(p) for p in
                                      self.dialogs.open_paths(f"Images for group {group}", IMAGE_FILTER))
                  if image is not None]
        if images:
            stacked = np.stack(images)
            self.directions_tab.add_to_group(group, encode_faces(self.state.model, stacked)[0], stacked)

    def _on_gallery_action(self, action: str, indices: list[int]) -> None:
        data = self.state.data
        if data is None or not indices:
            return
        if action == "start":
            self.start_from_test_image(indices[0])
        elif action in ("A", "B"):
            self.morph_tab.set_endpoint(action, data.test_latents[indices[0]], f"test image {indices[0] + 1}")
            self.tabs.setCurrentWidget(self.morph_tab)
        else:
            group = "A" if action == "group_a" else "B"
            self.directions_tab.add_to_group(group, data.test_latents[indices], data.test_images[indices])
            self.tabs.setCurrentWidget(self.directions_tab)

    # ------------------------------------------------------------ explorer state files

    def save_state(self, path: str) -> None:
        save_explorer_state(path, self.state.snapshot())
        self.status_message.emit(f"Saved explorer state to {path}")

    def load_state(self, path: str) -> bool:
        """Restore z, slider mode and shown dims. Warns when the state was saved for other weights."""
        try:
            snapshot = load_explorer_state(path)
        except ExplorerStateError as error:
            self.show_error("Cannot load explorer state", f"{error.path}\n\n{error.reason}")
            return False
        if not self.state.has_checkpoint and not self.load_checkpoint(snapshot.checkpoint_path):
            return False
        if snapshot.weights_hash != self.state.weights_hash and not self._accept_other_weights(snapshot, path):
            return False
        self.state.set_slider_mode(snapshot.slider_mode)
        self.state.set_selected_dims(snapshot.selected_dims)
        self.state.set_z(snapshot.z)
        self.status_message.emit(f"Loaded explorer state from {path}")
        return True

    def _accept_other_weights(self, snapshot: ExplorerSnapshot, path: str) -> bool:
        current = self.state.checkpoint.path
        fits = snapshot.z.size == self.state.latent_dim
        message = (f"{path} was saved for the checkpoint {snapshot.checkpoint_path or '(unknown)'}, "
                   f"but the open checkpoint {current} has different weights, so the same z gives a different "
                   "face.")
        if fits:
            message += " The state was applied anyway."
        else:
            message += (f" Its z has {snapshot.z.size} values and this model has {self.state.latent_dim} latent "
                        "dimensions, so it was not applied. Open the checkpoint it was saved for first.")
        self.show_warning("Explorer state from another checkpoint", message)
        return fits

    def ask_save_state(self) -> None:
        if self.state.has_checkpoint:
            path = self.dialogs.save_path("Save explorer state", STATE_FILTER, "explorer_state.json")
            if path:
                self.save_state(path)

    def ask_load_state(self) -> None:
        path = self.dialogs.open_path("Load explorer state", STATE_FILTER)
        if path:
            self.load_state(path)

    # ------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_file(event)
        if path is None:
            return
        event.acceptProposedAction()
        if path.suffix.lower() in CHECKPOINT_SUFFIXES:
            self.load_checkpoint(str(path))
        elif self.state.has_checkpoint:
            self.start_from_file(str(path))

    @staticmethod
    def _dropped_file(event: QDragEnterEvent | QDropEvent) -> Path | None:
        for url in event.mimeData().urls() if event.mimeData().hasUrls() else []:
            path = Path(url.toLocalFile())
            if path.suffix.lower() in CHECKPOINT_SUFFIXES or path.suffix.lower() in IMAGE_EXTENSIONS:
                return path
        return None

    # ------------------------------------------------------------ shutdown

    def shutdown(self) -> None:
        """Stop the background encoding and fitting before the window goes."""
        self.loader.shutdown()
        self.samples_tab.shutdown()
        self.compare.shutdown()
        self.follow.shutdown()
