"""The explorer's entries in the window's File and Edit menus (open, recent files, save/copy face, state, undo)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from .compare_menu import add_compare_and_follow_entries

if TYPE_CHECKING:
    from .panel import ExplorerPanel


class ExplorerMenus:
    """Builds the menu entries; the actions that need an open checkpoint follow `set_loaded`."""

    def __init__(self, panel: ExplorerPanel):
        self.panel = panel
        self.checkpoint_actions: list[QAction] = []      # enabled only while a checkpoint is open
        self.recent_menu: QMenu | None = None
        self.undo_action: QAction | None = None
        self.redo_action: QAction | None = None

    def set_loaded(self, loaded: bool) -> None:
        for action in self.checkpoint_actions:
            action.setEnabled(loaded)

    def build_file_menu(self, menu: QMenu) -> None:
        panel = self.panel
        open_action = menu.addAction("&Open checkpoint...", panel.checkpoints.ask_open)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        self.fill_recent_menu()
        menu.addSeparator()
        save_face = menu.addAction("&Save face...", panel.faces.ask_save_face)
        save_face.setShortcut(QKeySequence.StandardKey.Save)
        copy_face = menu.addAction("&Copy face", panel.faces.copy_face)
        copy_face.setShortcut(QKeySequence("Ctrl+Shift+C"))
        menu.addSeparator()
        save_state = menu.addAction("Save explorer &state...", panel.state_files.ask_save)
        menu.addAction("&Load explorer state...", panel.state_files.ask_load)     # also opens its checkpoint
        self.checkpoint_actions = [save_face, copy_face, save_state, *add_compare_and_follow_entries(menu, panel)]
        self.set_loaded(panel.state.has_checkpoint)

    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.panel.recent
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
            self.panel.recent.remove(path)
        self.panel.load_checkpoint(path)

    def build_edit_menu(self, menu: QMenu) -> None:
        faces = self.panel.faces
        self.undo_action = menu.addAction("&Undo face edit", faces.undo)
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = menu.addAction("&Redo face edit", faces.redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.panel.state.history_changed.connect(self._update_history_actions)
        self._update_history_actions()

    def _update_history_actions(self) -> None:
        self.undo_action.setEnabled(self.panel.state.can_undo)
        self.redo_action.setEnabled(self.panel.state.can_redo)
