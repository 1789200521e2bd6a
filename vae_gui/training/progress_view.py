"""Progress bar (epoch, step, images/s, ETA), the status line, and a banner for training errors."""
from __future__ import annotations

import html
import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QToolButton, QVBoxLayout, QWidget

from trainer.training.events import DataProgress

from .. import theme
from .run_state import RunState

STATUS_TEXT = {"idle": "Ready. Choose data and a model, then press Start.", "starting": "Starting…",
               "running": "Training", "paused": "Paused", "stopping": "Stopping: saving a checkpoint…",
               "completed": "Finished", "stopped": "Stopped", "failed": "Failed"}


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(state: RunState) -> str:
    m = state.latest
    if m is None:
        return ""
    epochs = f"/{state.epochs}" if state.epochs else ""
    rate = f"{m.images_per_s:,.0f} img/s" if m.images_per_s > 0 else "measuring speed…"
    if state.status == "paused":
        remaining = "paused"                       # the ETA would freeze: say why instead
    elif state.time_budget_minutes > 0:
        remaining = (f"{format_duration(m.eta_s)} left of the {state.time_budget_minutes:g} min budget")
    else:
        remaining = f"ETA {format_duration(m.eta_s)}"
    return f"epoch {m.epoch + 1}{epochs} · step {m.step:,}/{m.total_steps:,} · {rate} · {remaining}"


def loading_text(loading: DataProgress) -> str:
    if loading.total <= 0:
        return f"{loading.what}…"
    return f"{loading.what}: {loading.done:,} of {loading.total:,}"


class ProgressView(QWidget):
    def __init__(self, state: RunState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        state.progress_changed.connect(self.refresh_progress)
        state.status_changed.connect(self.refresh_status)
        state.status_changed.connect(self.refresh_progress)     # paused / resumed changes the text
        state.run_started.connect(self.refresh_progress)
        self.refresh_status()

    def refresh_progress(self) -> None:
        m = self.state.latest
        loading = self.state.loading
        if m is None and self.state.started is None and loading is not None and self.state.status == "starting":
            self.bar.setRange(0, max(0, loading.total))          # 0..0: a busy bar while the total is unknown
            self.bar.setValue(loading.done)
            self.bar.setFormat(f"%p% · {loading_text(loading)}" if loading.total > 0 else loading_text(loading))
            return
        if m is None:
            start = self.state.started
            total = start.total_steps if start else 1
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(start.start_step if start else 0)
            self.bar.setFormat("%p%")
            return
        # The details live in the bar's text: a label beside it would re-lay-out the window at every update.
        self.bar.setRange(0, max(1, m.total_steps))
        self.bar.setValue(m.step)
        self.bar.setFormat(f"%p% · {progress_text(self.state)}")

    def refresh_status(self) -> None:
        head = STATUS_TEXT.get(self.state.status, self.state.status)
        message = self.state.message
        if message.lower().startswith(head.lower()):      # "finished 24 steps" needs no "Finished:" before it
            text = f"<b>{message[:len(head)].capitalize()}</b>{html.escape(message[len(head):])}"
        else:
            text = f"<b>{head}</b>" + (f": {html.escape(message)}" if message else "")
        self.status.setText(text)
        if self.state.status == "completed":
            self.bar.setValue(self.bar.maximum())


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
