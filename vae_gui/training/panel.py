"""The Train tab: a setup form on the left; progress, loss curves, live images, KL per dimension and the run list
on the right. Training runs trainer.training.loop.train() on a worker thread (see runner.py); this panel only wires
widgets to the RunState they observe and turns user actions into runner calls."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QHBoxLayout, QMenu, QPushButton,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)

from trainer.training.checkpoint import CheckpointError
from trainer.config import ConfigError, RunConfig
from trainer.training.events import RunFinished
from trainer.training.loop import resume_config
from trainer.training.resume import resume_point
from trainer.training.rundir import RunDirError

from .budget_texts import run_comparison
from .image_history import ImageHistory
from .kl_chart import KlChart
from .loss_plot import LossPlot
from .progress_view import ErrorBanner, ProgressView
from .resume_dialog import ResumeDialog
from .run_list import RunList, RunLoadError, load_run_curves
from .run_state import RunState
from .runner import TrainingRunner
from .setup_form import SetupForm

GUI_PREVIEW_EVERY_S = 2.5     # live reconstructions between evaluations
GUI_LOG_EVERY_STEPS = 1      # the live curve has every step; so does the log it is redrawn from on resume
GUI_SAMPLES = 16              # a 4x4 sample grid: every snapshot is kept, so keep them small


def gui_run_config(config: RunConfig) -> RunConfig:
    """The config as the GUI trains it: live previews every few seconds, a small sample grid, and every step in
    metrics.jsonl, so a resumed run redraws its earlier curve as finely as the live one."""
    preview = config.train.preview_every_s or GUI_PREVIEW_EVERY_S
    train = dataclasses.replace(config.train, preview_every_s=preview,
                                n_samples=min(config.train.n_samples, GUI_SAMPLES),
                                log_every_steps=min(config.train.log_every_steps, GUI_LOG_EVERY_STEPS))
    return dataclasses.replace(config, train=train)


class TrainingPanel(QWidget):
    open_in_explorer = Signal(str)         # path of a checkpoint to open in the explorer tab
    follow_in_explorer = Signal(str)       # a run folder the explorer reloads each time a checkpoint is written
    status_message = Signal(str)
    error_shown = Signal(str)              # an error the user was shown (also in the banner)
    run_finished = Signal(object)          # trainer.training.events.RunFinished

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = RunState(self)
        self.runner = TrainingRunner(self)
        self.setup_form = SetupForm()
        self.progress_view = ProgressView(self.state)
        self.error_banner = ErrorBanner()
        self.loss_plot = LossPlot(self.state)
        self.image_history = ImageHistory(self.state)
        self.kl_chart = KlChart(self.state)
        self.run_list = RunList(self.state)
        self._create_actions()
        self._build_layout()
        self._connect()
        self._update_actions()
        app = QCoreApplication.instance()
        if app is not None:         # quitting without closing the window must also stop the thread first
            app.aboutToQuit.connect(self.shutdown)

    # ------------------------------------------------------------ construction
    def _create_actions(self) -> None:
        self.start_action = QAction("&Start training", self)
        self.start_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.start_action.triggered.connect(lambda: self.start_training())
        self.pause_action = QAction("&Pause", self)
        self.pause_action.setShortcut(QKeySequence("Ctrl+P"))
        self.pause_action.triggered.connect(self.toggle_pause)
        self.stop_action = QAction("S&top (save checkpoint)", self)
        self.stop_action.triggered.connect(self.stop_training)
        self.resume_run_action = QAction("&Resume from run…", self)
        self.resume_run_action.triggered.connect(self._choose_run_to_resume)
        self.load_runs_action = QAction("&Load runs to compare…", self)
        self.load_runs_action.triggered.connect(self._choose_runs_to_load)
        self.open_explorer_action = QAction("Open model in &explorer", self)
        self.open_explorer_action.setToolTip("Open the run's best checkpoint (best.pt) in the Explore tab; before the "
                                             "first validation, its last checkpoint (last.pt)")
        self.open_explorer_action.triggered.connect(self._open_best_in_explorer)
        self.follow_action = QAction("&Follow in explorer", self)
        self.follow_action.setToolTip("The Explore tab shows this run's model and reloads it each time a new best "
                                      "or last checkpoint is written, keeping the current face")
        self.follow_action.triggered.connect(
            lambda: self.state.started is not None and self.follow_in_explorer.emit(self.state.started.run_dir))

    def _build_layout(self) -> None:
        self.start_button = _button_for(self.start_action, "Start")
        self.start_button.setDefault(True)
        self.pause_button = _button_for(self.pause_action)
        self.stop_button = _button_for(self.stop_action, "Stop")
        self.resume_button = _button_for(self.resume_run_action)
        self.explorer_button = _button_for(self.open_explorer_action, "Open in explorer")
        self.follow_button = _button_for(self.follow_action, "Follow in explorer")
        buttons = QGridLayout()
        buttons.addWidget(self.start_button, 0, 0, 1, 2)
        buttons.addWidget(self.pause_button, 1, 0)
        buttons.addWidget(self.stop_button, 1, 1)
        buttons.addWidget(self.resume_button, 2, 0, 1, 2)
        buttons.addWidget(self.explorer_button, 3, 0)
        buttons.addWidget(self.follow_button, 3, 1)
        # The form scrolls when the window is short; the buttons below it never do.
        form_holder = QWidget()
        form_layout = QVBoxLayout(form_holder)
        form_layout.setContentsMargins(0, 0, 4, 0)
        form_layout.addWidget(self.setup_form)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(form_holder)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        width = form_holder.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 8
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)
        left.setFixedWidth(width)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.loss_plot)
        top.addWidget(self.image_history)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)
        top.setSizes([600, 400])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.kl_chart)
        bottom.addWidget(self.run_list)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 1)
        views = QSplitter(Qt.Orientation.Vertical)
        views.addWidget(top)
        views.addWidget(bottom)
        views.setStretchFactor(0, 3)
        views.setStretchFactor(1, 1)
        right = QVBoxLayout()
        right.addWidget(self.error_banner)
        right.addWidget(self.progress_view)
        right.addWidget(views, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(left)
        layout.addLayout(right, 1)

    def _connect(self) -> None:
        self.runner.update.connect(self.state.apply)
        self.runner.error.connect(self._on_worker_error)
        self.runner.running_changed.connect(self._update_actions)
        self.state.status_changed.connect(self._update_actions)
        self.state.best_checkpoint_changed.connect(self._update_actions)
        self.state.run_started.connect(self._on_run_started)
        self.state.run_finished.connect(self._on_run_finished)
        self.setup_form.validity_changed.connect(self._update_actions)
        self.setup_form.validity_changed.connect(self._on_form_validity)
        self.run_list.load_requested.connect(self._choose_runs_to_load)

    # ------------------------------------------------------------ interface for the main window
    def build_run_menu(self, menu: QMenu) -> None:
        menu.addAction(self.start_action)
        menu.addAction(self.pause_action)
        menu.addAction(self.stop_action)
        menu.addSeparator()
        menu.addAction(self.resume_run_action)
        menu.addAction(self.load_runs_action)
        menu.addSeparator()
        menu.addAction(self.open_explorer_action)
        menu.addAction(self.follow_action)

    def shutdown(self, timeout_s: float = 3.0) -> None:
        """Stop a running training at its next step; wait for its checkpoint and the thread's end."""
        if self.runner.is_running:
            self.state.request_stop()
            self.runner.shutdown(timeout_s)
        self.loss_plot.timer.stop()

    @property
    def is_training(self) -> bool:
        return self.runner.is_running

    # ------------------------------------------------------------ user actions
    def start_training(self, config: RunConfig | None = None) -> bool:
        """Start a run of `config` (default: what the form says). False, with the reason shown, when refused."""
        if self.runner.is_running:
            self.show_error("A run is already in progress: stop it before starting another.")
            return False
        try:
            config = gui_run_config(config or self.setup_form.config())
            config.validate()
        except ConfigError as error:
            self.show_error(f"Cannot start: {error}")
            return False
        self.setup_form.remember()
        self._launch(config, resume=None, message="loading data…")
        return True

    def resume_run(self, run_dir: str | Path, epochs: int | None = None,
                   time_budget_minutes: float | None = None) -> bool:
        """Continue the run in `run_dir` from its last checkpoint, optionally until a new number of epochs or with
        a new time budget; a run with a time budget otherwise continues with what is left of it."""
        if self.runner.is_running:
            self.show_error("A run is already in progress: stop it before resuming another.")
            return False
        try:
            config = gui_run_config(resume_config(run_dir, epochs=epochs, time_budget_minutes=time_budget_minutes))
        except (CheckpointError, ConfigError, RunDirError) as error:
            self.show_error(f"Cannot resume {run_dir}: {error}")
            return False
        self._launch(config, resume=str(run_dir), message=f"resuming {Path(run_dir).name}, loading data…")
        return True

    def toggle_pause(self) -> None:
        if self.runner.is_paused:
            self.runner.resume()
            self.state.resume_after_pause()
        elif self.runner.is_running and self.state.status in ("running", "starting"):
            self.runner.pause()
            self.state.request_pause()
        self._update_actions()

    def stop_training(self) -> None:
        if self.runner.is_running:
            self.runner.stop()
            self.state.request_stop()
            self.status_message.emit("Stopping training: saving a checkpoint…")

    def load_runs(self, folder: str | Path) -> int:
        """Overlay the curves of the run(s) in `folder`; returns how many were added."""
        try:
            runs = load_run_curves(folder)
        except (RunLoadError, OSError) as error:
            self.show_error(str(error))
            return 0
        added = sum(self.state.add_run(curves) for curves in runs)
        self.status_message.emit(f"Loaded {added} run(s) from {folder} for comparison")
        return added

    def show_error(self, message: str) -> None:
        """Show an error in the banner (never a blocking dialog) and tell observers."""
        self.error_banner.show_error(message)
        self.status_message.emit(message)
        self.error_shown.emit(message)

    # ------------------------------------------------------------ reactions
    def _launch(self, config: RunConfig, resume: str | None, message: str) -> None:
        self.error_banner.clear()
        self.state.begin(message)
        self.runner.start(config, resume=resume)
        self.status_message.emit(f"Training: {message}")

    def _on_run_started(self) -> None:
        self._update_actions()                  # "Follow in explorer" needs the run folder, known from now
        s = self.state.started
        what = "resumed at step {:,}".format(s.start_step) if s.resumed else "started"
        self.status_message.emit(f"Run {Path(s.run_dir).name} {what}: {s.n_train:,} train / {s.n_test:,} test "
                                 f"images, {s.param_count:,} parameters, {s.device} ({s.precision})")

    def _on_run_finished(self, finished: RunFinished) -> None:
        if finished.status == "failed":
            self.show_error(f"Training failed: {finished.message}")
        else:
            self.status_message.emit(f"Training {finished.status}: {finished.message}")
        self.setup_form.forget_speeds()          # the run just timed this computer
        self._show_comparison(finished)
        self.run_finished.emit(finished)
        self._update_actions()

    def _show_comparison(self, finished: RunFinished) -> None:
        """Below the budget: the run's final evaluation against what the measured curve expected."""
        if self.state.started is None:
            return
        config = RunConfig.from_dict(self.state.started.config)
        text = run_comparison(self.setup_form.budget_curve, config, finished.step, finished.final_eval)
        if text:
            self.setup_form.show_expectation(f"This run: {text}")

    def _on_worker_error(self, message: str) -> None:
        if self.state.status != "failed":
            self.state.set_status("failed", message)
        self.show_error(message)

    def _update_actions(self, *_) -> None:
        running = self.runner.is_running
        form_valid = not self.setup_form.validation_label.text()
        self.setup_form.set_editable(not running)
        self.start_action.setEnabled(not running and form_valid)
        # The loop pauses between steps only: not while data loads' last part or the final evaluation runs.
        self.pause_action.setEnabled(running and self.state.status in ("running", "pausing", "paused", "starting"))
        self.pause_action.setText("&Resume" if self.runner.is_paused else "&Pause")
        self.stop_action.setEnabled(running and self.state.status != "stopping")
        self.resume_run_action.setEnabled(not running)
        self.open_explorer_action.setEnabled(self.explorer_checkpoint() is not None)
        self.follow_action.setEnabled(self.state.started is not None)

    def explorer_checkpoint(self) -> str | None:
        """What "Open in explorer" opens: best.pt once a validation chose it, else last.pt (a run stopped before
        its first validation), when the file exists."""
        for path in (self.state.best_checkpoint, self.state.last_checkpoint):
            if path and Path(path).is_file():
                return path
        return None

    def _open_best_in_explorer(self) -> None:
        path = self.explorer_checkpoint()
        if path:
            self.open_in_explorer.emit(path)

    def _on_form_validity(self, valid: bool, _reason: str = "") -> None:
        # A setup error shown in the banner (an empty folder...) is over once the form is valid again.
        if valid and not self.runner.is_running and self.state.status in ("idle", "failed"):
            self.error_banner.clear()

    # ------------------------------------------------------------ dialogs
    def _choose_run_to_resume(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a run folder to continue",
                                                  self.setup_form.runs_dir.text())
        if not folder:
            return
        try:
            point = resume_point(folder)
        except (CheckpointError, ConfigError, RunDirError) as error:
            self.show_error(f"Cannot resume {folder}: {error}")
            return
        dialog = ResumeDialog(point, self)
        if dialog.exec():
            choice = dialog.choice()
            self.resume_run(folder, epochs=choice.epochs, time_budget_minutes=choice.time_budget_minutes)

    def _choose_runs_to_load(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a run folder (or a folder of runs) to compare",
                                                  self.setup_form.runs_dir.text())
        if folder:
            self.load_runs(folder)

    # ------------------------------------------------------------ a data folder dropped on the window
    def use_data_folder(self, folder: str | Path) -> bool:
        """Make `folder` the training data (a folder dropped on the window); refused while a run trains."""
        if self.runner.is_running:
            return False
        self.setup_form.set_data_folder(str(folder))
        self.status_message.emit(f"Data folder: {folder}")
        return True


def _button_for(action: QAction, text: str | None = None) -> QPushButton:
    """A push button that triggers `action` and follows its enabled state (and text, unless given)."""
    button = QPushButton(text or action.text().replace("&", ""))
    button.setToolTip(action.text().replace("&", ""))
    button.clicked.connect(action.trigger)

    def sync() -> None:
        button.setEnabled(action.isEnabled())
        if text is None:
            button.setText(action.text().replace("&", ""))

    action.changed.connect(sync)
    sync()
    return button
