"""A tab that redraws only when visible: decoding a grid hidden in another tab is wasted work."""
from __future__ import annotations

from PySide6.QtWidgets import QWidget


class LazyRedrawTab(QWidget):
    """Subclasses implement redraw() (and set self._stale = False in it); refresh() marks them out of date."""

    _stale = True

    def refresh(self) -> None:
        """Re-draw now when visible, else when next shown."""
        self._stale = True
        if self.isVisible():
            self.redraw()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.redraw()

    def redraw(self) -> None:
        raise NotImplementedError
