"""The File menu's entries for a second model and for following a run (vae_gui/explorer/menus.py adds them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from .panel import ExplorerPanel


def add_compare_and_follow_entries(menu: QMenu, panel: ExplorerPanel) -> list[QAction]:
    """Adds the entries; returns those that need an open checkpoint."""
    menu.addSeparator()
    open_second = menu.addAction("Open second &model...", panel.ask_open_second)
    open_second.setToolTip("Compare another checkpoint with this one (the Compare tab)")
    close_second = menu.addAction("Close second model", panel.compare.close_second)
    panel.compare.second_changed.connect(lambda: close_second.setEnabled(panel.compare.second is not None))
    close_second.setEnabled(False)
    follow = menu.addAction("&Follow run directory...", panel.ask_follow_run)
    follow.setToolTip("Show a training run's model and reload it each time it writes a checkpoint")
    stop_following = menu.addAction("Stop following", panel.follow.stop)
    menu.aboutToShow.connect(lambda: stop_following.setEnabled(panel.follow.following))
    return [open_second]
