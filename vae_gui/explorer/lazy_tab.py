"""A tab (or a widget in one) that redraws only when visible: decoding a grid or updating 32 slider rows hidden in
another tab is wasted work."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

FOLLOW_DELAY_MS = 120          # a grid that follows the current face re-draws this long after it stops changing


class LazyRedrawTab(QWidget):
    """Subclasses implement redraw() (and set self._stale = False in it); refresh() marks them out of date."""

    _stale = True
    _follow: QTimer | None = None

    def refresh(self) -> None:
        """Re-draw now when visible, else when next shown."""
        self._stale = True
        if self.isVisible():
            self.redraw()

    def refresh_soon(self) -> None:
        """Re-draw shortly after the last call (while a slider is dragged), or when next shown."""
        self._stale = True
        if self._follow is None:
            self._follow = QTimer(self)
            self._follow.setSingleShot(True)
            self._follow.timeout.connect(self.refresh)
        if self.isVisible():
            self._follow.start(FOLLOW_DELAY_MS)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.redraw()

    def redraw(self) -> None:
        raise NotImplementedError
