"""The Explore tab: open a checkpoint and touch its latent space.

Layout: left, the checkpoint info, the live face and its actions; right, tabs (Sliders, Samples, Morph, Traversals,
Directions, Variations) above a strip of the checkpoint's test images. The panel only lays out and wires: the state
is the Qt-free explorer model (vae_gui/model/, `self.state`), views take the part they mirror and observe it, and
the services that do the work write only to the model:

    checkpoints   CheckpointLoader     opening a checkpoint, the background encoding of its data (checkpoint_loader.py)
    faces         FaceActions          random faces, start from an image, save/copy the face, undo/redo (face_actions.py)
    state_files   StateFiles           explorer state save/load (state_files.py)
    follow        RunFollowController  reloading a followed run's checkpoints (follow_controller.py)
    requests      TabRequests          morph endpoints and direction groups from the gallery or files (tab_requests.py)
    menus         ExplorerMenus        the File and Edit menu entries (menus.py)

A user action in one tab reaches another only through the model: "Set as morph A" in the gallery sets the model's
morph endpoint, and the Morph tab shows it because it observes the morph.

Drops are handled by the main window (vae_gui/drops.py says what a drop carries). Every dialog goes through the
`dialogs` given at construction (tests pass tests/qt_doubles.RecordingDialogs), and errors and warnings are also
emitted as signals, so tests never block on a modal box.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QMenu, QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from ..vertical_scroll import scrolling_body
from .atlas_view import AtlasView
from .checkpoint_loader import CheckpointLoader
from .compare_panel import ComparePanel
from .dialogs import CHECKPOINT_FILTER, Dialogs, DialogsLike
from .directions_tab import DirectionsTab
from .empty_state import EmptyState
from .face_actions import FaceActions
from .face_panel import FacePanel
from .follow_controller import FollowStatus, RunFollowController
from .gallery import TestGallery
from .info_panel import InfoPanel
from .live_decoder import LiveDecoder
from .menus import ExplorerMenus
from .messages import Messages
from .morph_tab import MorphTab
from .neighbours_strip import NeighboursStrip
from .recent import RecentFiles
from .samples_tab import SamplesTab
from .sliders_tab import SlidersTab
from .state import ExplorerState
from .state_files import StateFiles
from .tab_requests import DIRECTIONS_TAB, MORPH_TAB, TabRequests
from .traversals_tab import TraversalsTab
from .variations_tab import VariationsTab

class ExplorerPanel(QWidget):
    status_message = Signal(str)
    error_shown = Signal(str, str)          # title, message
    warning_shown = Signal(str, str)
    checkpoint_loaded = Signal(str)
    latents_ready = Signal()                # the background encoding finished (or fell back)

    def __init__(self, parent: QWidget | None = None, dialogs: DialogsLike | None = None):
        super().__init__(parent)
        self.dialogs = dialogs if dialogs is not None else Dialogs(self)
        self.messages = Messages(self.dialogs, self)
        self.messages.status.connect(self.status_message)
        self.messages.error_shown.connect(self.error_shown)
        self.messages.warning_shown.connect(self.warning_shown)
        self.recent = RecentFiles()
        self.state = ExplorerState()
        self.decoder = LiveDecoder(self.state, self)
        self.checkpoints = CheckpointLoader(self.state, self.messages, self.recent, self)
        self.checkpoints.opened.connect(self._on_opened)
        self.checkpoints.latents_ready.connect(self.latents_ready)
        self.faces = FaceActions(self.state, self.decoder, self.messages)
        self.state_files = StateFiles(self.state, self.messages, self.checkpoints.load)
        self.requests = TabRequests(self.state, self.messages, self.faces, self)
        self._build()
        self._connect()
        self._add_compare_and_follow()
        self.menus = ExplorerMenus(self.state, self.recent, self.checkpoints, self.faces, self.state_files,
                                   self.ask_open_second, self.ask_follow_run)
        self.set_loaded(False)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.empty = EmptyState(self)
        self.info = InfoPanel(self.state.session, self)
        self.face_panel = FacePanel(self.state.face, self)
        left = QWidget(self)
        left_layout = QVBoxLayout(scrolling_body(left))   # a short window scrolls the texts, never overlaps the face
        left_layout.setContentsMargins(0, 0, 4, 0)
        left_layout.addWidget(self.info)
        left_layout.addWidget(self.face_panel, 1)
        left.setMinimumWidth(300)

        self.sliders_tab = SlidersTab(self.state, self)
        self.samples_tab = SamplesTab(self.state, self.dialogs, self)
        self.morph_tab = MorphTab(self.state.morph, self.state.session, self.state.face, self.dialogs, self)
        self.traversals_tab = TraversalsTab(self.state, self.dialogs, self)
        self.directions_tab = DirectionsTab(self.state, self)
        self.variations_tab = VariationsTab(self.state, self)
        self.atlas_tab = AtlasView(self.state, self.dialogs, self)
        self.atlas_tab.status_message.connect(self.status_message)
        self.tabs = QTabWidget(self)
        for tab, title in ((self.sliders_tab, "Sliders"), (self.samples_tab, "Samples"), (self.morph_tab, "Morph"),
                           (self.traversals_tab, "Traversals"), (self.directions_tab, "Directions"),
                           (self.variations_tab, "Variations"), (self.atlas_tab, "Atlas")):
            self.tabs.addTab(tab, title)
        self.gallery = TestGallery(self.state.session, self.state.selection, self)
        self.gallery_label = QLabel("Test images: double-click one to start from it; right-click for more.", self)
        self.gallery_label.setVisible(False)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addWidget(self.tabs, 1)
        right_layout.addWidget(self.gallery_label)
        right_layout.addWidget(self.gallery)
        self.neighbours_strip = NeighboursStrip(self.state, self.decoder, parent=self)
        self.neighbours_strip.status_message.connect(self.status_message)
        right_layout.addWidget(self.neighbours_strip)
        # No fixed minimum: the splitter keeps the tabs at their layouts' minimum, so no control is squeezed.

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setChildrenCollapsible(False)
        # The face grows with the window: the left column takes about 40% of the width.
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([400, 600])
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.stack)

    def _connect(self) -> None:
        self.empty.open_requested.connect(self.checkpoints.ask_open)
        self.face_panel.action.connect(self.faces.on_face_action)
        self.decoder.face_ready.connect(self.face_panel.view.set_image)
        self.state.data_changed.connect(self._show_gallery_label)
        self.state.checkpoint_changed.connect(self._show_gallery_label)
        self.morph_tab.status_message.connect(self.status_message)
        self.morph_tab.endpoint_requested.connect(self.requests.on_endpoint_requested)
        self.directions_tab.group_add_requested.connect(self.requests.on_group_requested)
        self.gallery.start_requested.connect(self.faces.start_from_test_image)
        self.gallery.action_requested.connect(self.requests.on_gallery_action)
        self.requests.show_tab.connect(self._show_tab)

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
        self.follow = RunFollowController(self.state, self.checkpoints, self.messages, self._current_face, self)
        self.follow.status_changed.connect(self.status_message)
        self.follow_status = FollowStatus(self.state.follow)
        self.splitter.widget(0).layout().insertWidget(0, self.follow_status)

    def _show_tab(self, name: str) -> None:
        self.tabs.setCurrentWidget({MORPH_TAB: self.morph_tab, DIRECTIONS_TAB: self.directions_tab}[name])

    def _current_face(self):
        return self.decoder.face

    def _show_gallery_label(self) -> None:
        data = self.state.data
        self.gallery_label.setVisible(data is not None and data.has_images)

    def _on_opened(self, path: str) -> None:
        self.set_loaded(True)
        self.checkpoint_loaded.emit(path)

    def ask_open_second(self) -> None:
        path = self.dialogs.open_path("Open second model", CHECKPOINT_FILTER)
        if path:
            self.compare.open_second(path)
            self.tabs.setCurrentWidget(self.compare)

    def ask_follow_run(self) -> None:
        folder = self.dialogs.open_folder("Follow run directory (a run folder of the app or of vae-train)")
        if folder:
            self.follow.follow(folder)

    def set_loaded(self, loaded: bool) -> None:
        self.stack.setCurrentWidget(self.splitter if loaded else self.empty)
        self.menus.set_loaded(loaded)

    # ------------------------------------------------------------ messages

    def show_error(self, title: str, message: str) -> None:
        self.messages.error(title, message)

    def show_warning(self, title: str, message: str) -> None:
        self.messages.warning(title, message)

    # ------------------------------------------------------------ what the main window asks of the panel

    def load_checkpoint(self, path: str) -> bool:
        """Open a checkpoint (see CheckpointLoader.load); False after an error naming the file."""
        return self.checkpoints.load(path)

    def start_from_file(self, path: str) -> bool:
        """Encode an image file and start from it (see FaceActions.start_from_file)."""
        return self.faces.start_from_file(path)

    def build_file_menu(self, menu: QMenu) -> None:
        self.menus.build_file_menu(menu)

    def build_edit_menu(self, menu: QMenu) -> None:
        self.menus.build_edit_menu(menu)

    # ------------------------------------------------------------ shutdown

    def shutdown(self) -> None:
        """Stop the background encoding and fitting before the window goes."""
        self.checkpoints.shutdown()
        self.samples_tab.shutdown()
        self.neighbours_strip.shutdown()
        self.atlas_tab.shutdown()
        self.compare.shutdown()
        self.follow.shutdown()
