"""Progress bar (epoch, step, images/s, time left), the status line, and a banner for training errors.

What they say is worked out in run_texts.py from the RunState; this view only shows it, and once a second while a
countdown runs (the time left goes down between the run's reports too)."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QToolButton, QVBoxLayout, QWidget

from .. import theme
from .run_state import RunState
from .run_texts import progress_bar, status_line

TICK_MS = 1000
COUNTING_STATUSES = ("running", "pausing", "evaluating")


class ProgressView(QWidget):
    def __init__(self, state: RunState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self.refresh_progress)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        state.progress_changed.connect(self.refresh_progress)
        state.status_changed.connect(self.refresh)
        state.run_started.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.refresh_status()
        self.refresh_progress()
        counting = self.state.status in COUNTING_STATUSES
        if counting != self.ticker.isActive():
            self.ticker.start() if counting else self.ticker.stop()

    def refresh_progress(self) -> None:
        # The details live in the bar's text: a label beside it would re-lay-out the window at every update.
        text = progress_bar(self.state)
        self.bar.setRange(0, text.maximum)
        self.bar.setValue(text.value)
        self.bar.setFormat(text.format)

    def refresh_status(self) -> None:
        self.status.setText(status_line(self.state))


class ErrorBanner(QFrame):
    """A red message strip with a close button; stays until closed or the next run starts."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        theme.follow(self, self._apply_theme)
        self.hide()

    def _apply_theme(self, colours: theme.Theme) -> None:
        self.setStyleSheet(f"#errorBanner {{ background: {colours.banner_background.name()}; "
                           f"border: 1px solid {colours.banner_border.name()}; border-radius: 4px; }}"
                           f"#errorBanner QLabel {{ color: {colours.banner_text.name()}; }}")

    @property
    def message(self) -> str:
        """The error shown now ('' when none)."""
        return self.label.text()

    def show_error(self, message: str) -> None:
        self.label.setText(message)
        self.show()

    def clear(self) -> None:
        self.label.setText("")
        self.hide()
