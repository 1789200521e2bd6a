"""The explorer's entries in the window's File and Edit menus (open, recent files, save/copy face, state, undo)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from ..model import ExplorerModel
from .checkpoint_loader import CheckpointLoader
from .compare_menu import add_compare_and_follow_entries
from .face_actions import FaceActions
from .recent import RecentFiles
from .state_files import StateFiles


class ExplorerMenus:
    """Builds the menu entries from the services they call; the actions that need an open checkpoint follow
    `set_loaded`, undo/redo follow the model's face history."""

    def __init__(self, model: ExplorerModel, recent: RecentFiles, checkpoints: CheckpointLoader, faces: FaceActions,
                 state_files: StateFiles, ask_open_second: Callable[[], None], ask_follow_run: Callable[[], None]):
        self.model = model
        self.recent = recent
        self.checkpoints = checkpoints
        self.faces = faces
        self.state_files = state_files
        self.ask_open_second = ask_open_second
        self.ask_follow_run = ask_follow_run
        self.checkpoint_actions: list[QAction] = []      # enabled only while a checkpoint is open
        self.recent_menu: QMenu | None = None
        self.undo_action: QAction | None = None
        self.redo_action: QAction | None = None

    def set_loaded(self, loaded: bool) -> None:
        for action in self.checkpoint_actions:
            action.setEnabled(loaded)

    def build_file_menu(self, menu: QMenu) -> None:
        open_action = menu.addAction("&Open checkpoint...", self.checkpoints.ask_open)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        self.fill_recent_menu()
        menu.addSeparator()
        save_face = menu.addAction("&Save face...", self.faces.ask_save_face)
        save_face.setShortcut(QKeySequence.StandardKey.Save)
        copy_face = menu.addAction("&Copy face", self.faces.copy_face)
        copy_face.setShortcut(QKeySequence("Ctrl+Shift+C"))
        menu.addSeparator()
        save_state = menu.addAction("Save explorer &state...", self.state_files.ask_save)
        menu.addAction("&Load explorer state...", self.state_files.ask_load)     # also opens its checkpoint
        compare_and_follow = add_compare_and_follow_entries(menu, self.model, self.ask_open_second,
                                                            self.ask_follow_run)
        self.checkpoint_actions = [save_face, copy_face, save_state, *compare_and_follow]
        self.set_loaded(self.model.has_checkpoint)

    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.recent
        paths = recent.paths()
        for index, path in enumerate(paths):
            action = menu.addAction(f"&{(index + 1) % 10} {Path(path).name}", lambda p=path: self._open_recent(p))
            action.setToolTip(path)
            action.setStatusTip(path)
        if not paths:
            menu.addAction("(none yet)").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear list", recent.clear).setEnabled(bool(paths))

    def _open_recent(self, path: str) -> None:
        if not Path(path).is_file():
            self.recent.remove(path)
        self.checkpoints.load(path)

    def build_edit_menu(self, menu: QMenu) -> None:
        faces = self.faces
        self.undo_action = menu.addAction("&Undo face edit", faces.undo)
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = menu.addAction("&Redo face edit", faces.redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.model.history_changed.connect(self._update_history_actions)
        self._update_history_actions()

    def _update_history_actions(self) -> None:
        self.undo_action.setEnabled(self.model.can_undo)
        self.redo_action.setEnabled(self.model.can_redo)
