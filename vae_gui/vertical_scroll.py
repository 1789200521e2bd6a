"""A page that scrolls up and down when the window is short, instead of squeezing its controls over each other.

`scrolling_body(page)` gives a page one child, a `VerticalScroll`, and returns the widget to lay the page's controls
out on. The scroll area asks for the full width its content needs (so nothing is clipped sideways and no horizontal
bar appears) but only a few rows of height: a short window shows a vertical scroll bar, a tall one shows everything.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

SHORTEST = 160          # px: the least height a scrolling page asks for (a few rows of controls)


class VerticalScroll(QScrollArea):
    def __init__(self, content: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Not widgetResizable: Qt would then size a content with wrapping texts at its *preferred* height (a face
        # view's full size), scrolling a window that has room. Here the content gets the viewport, or what it needs.
        self.setWidget(content)
        content.installEventFilter(self)

    def _extra_width(self) -> int:
        """The vertical scroll bar's width, kept free so the content never loses width when the bar appears."""
        return self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:
        content = self.widget().minimumSizeHint()
        return QSize(content.width() + self._extra_width(), min(content.height(), SHORTEST))

    def sizeHint(self) -> QSize:
        content = self.widget().sizeHint()
        return QSize(content.width() + self._extra_width(), content.height())

    def needed_height(self) -> int:
        """The content's minimum height, with each wrapping text as tall as its lines need at its width (Qt's
        minimum assumes a wide text)."""
        content = self.widget()
        extra = 0
        for label in content.findChildren(QLabel):
            if label.wordWrap() and label.isVisibleTo(content) and label.width() > 0:
                extra += max(0, label.heightForWidth(label.width()) - label.minimumSizeHint().height())
        return content.minimumSizeHint().height() + extra

    def fit_content(self) -> None:
        viewport = self.viewport().size()
        size = QSize(viewport.width(), max(viewport.height(), self.needed_height()))
        if self.widget().size() != size:
            self.widget().resize(size)
            QTimer.singleShot(0, self, self.fit_content)      # the texts' widths changed: their heights may have too

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:         # the window, or the scroll bar coming or going
            self.fit_content()
        return super().viewportEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()           # the content's needs changed (a longer text): ask again
            QTimer.singleShot(0, self, self.fit_content)
        return super().eventFilter(watched, event)


def scrolling_body(page: QWidget) -> QWidget:
    """Make `page` a vertically scrolling page; returns the widget its controls go on."""
    body = QWidget()
    outer = QVBoxLayout(page)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(VerticalScroll(body, page))
    return body
