"""The File menu's entries for a second model and for following a run (vae_gui/explorer/menus.py adds them)."""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from ..model import ExplorerModel


def add_compare_and_follow_entries(menu: QMenu, model: ExplorerModel, ask_open_second: Callable[[], None],
                                   ask_follow_run: Callable[[], None]) -> list[QAction]:
    """Adds the entries; returns those that need an open checkpoint. "Close second model" and "Stop following"
    follow the model's comparison and follow parts."""
    menu.addSeparator()
    open_second = menu.addAction("Open second &model...", ask_open_second)
    open_second.setToolTip("Compare another checkpoint with this one (the Compare tab)")
    close_second = menu.addAction("Close second model", lambda: model.comparison.set_second(None))
    model.comparison.changed.connect(lambda: close_second.setEnabled(model.comparison.active))
    close_second.setEnabled(model.comparison.active)
    follow = menu.addAction("&Follow run directory...", ask_follow_run)
    follow.setToolTip("Show a training run's model and reload it each time it writes a checkpoint")
    stop = menu.addAction("Stop following", model.follow.stop)     # the follow controller observes it
    menu.aboutToShow.connect(lambda: stop.setEnabled(model.follow.following))
    return [open_second]
