"""The main window: an Explore tab (latent explorer) and a Train tab (watch-training window).

Drags of files anywhere on the window come here (see eventFilter: before any widget sees them); vae_gui/drops.py
says what a drop carries and the window decides what to do with it where it is dropped:
a checkpoint opens in the explorer; an image starts the explorer from its encoding (on the Explore tab, with a
checkpoint open); a folder of images becomes the training data (not while a run trains); a run folder opens its
model in the explorer, or, dropped on the Train tab, adds its curves for comparison, as a folder of runs does
there; a saved explorer state is restored. A drop the window refuses says why in the status bar, naming the file.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QSize
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

from trainer.resources import DEFAULT_CHECKPOINT_NAME, default_checkpoint
from trainer.training.run_files import RunFiles

from .app import APP_NAME
from .drops import Drop, DropKind, classify_drop
from .explorer.dialogs import DialogsLike
from .explorer.panel import ExplorerPanel
from .help import GuideDialog, about_text
from .tasks import shutdown_all
from .training.panel import TrainingPanel


MISSING_MODEL = (f"The bundled model {DEFAULT_CHECKPOINT_NAME} is missing (reinstall vae-face-explorer): open a "
                 "checkpoint with File > Open checkpoint, or train one here.")


class MainWindow(QMainWindow):
    def __init__(self, checkpoint: Path | None = None, start_on_training: bool = False,
                 dialogs: DialogsLike | None = None):
        """`dialogs`: the explorer's modal dialogs (tests pass tests/qt_doubles.RecordingDialogs)."""
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(initial_size(self.screen().availableGeometry().size() if self.screen() else None))
        self.explorer_panel = ExplorerPanel(self, dialogs=dialogs)
        self.training_panel = TrainingPanel(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.explorer_panel, "Explore")
        self.tabs.addTab(self.training_panel, "Train")
        self.setCentralWidget(self.tabs)
        self.training_panel.open_in_explorer.connect(self.open_in_explorer)
        self.training_panel.follow_in_explorer.connect(self.follow_in_explorer)
        self.explorer_panel.status_message.connect(self.statusBar().showMessage)
        self.training_panel.status_message.connect(self.statusBar().showMessage)
        # Training takes every core while the explorer is idle and leaves one while the user edits the face.
        self.explorer_panel.state.z_changed.connect(self.training_panel.runner.note_gui_busy)
        self._build_menus()
        self.setAcceptDrops(True)        # Qt 6's QMainWindow already does (for dock widgets); say so
        self._file_drops_routed = False          # see eventFilter
        self._last_drop: tuple[tuple[str, ...], Drop | None] | None = None      # the current drag's URLs, its kind
        self.explorer_panel.checkpoint_loaded.connect(self.update_title)
        self.training_panel.state.run_started.connect(self.update_title)
        self.tabs.currentChanged.connect(self.update_title)
        initial = checkpoint or default_checkpoint()
        if initial is not None:
            self.explorer_panel.load_checkpoint(str(initial))
        else:
            self.statusBar().showMessage(MISSING_MODEL)
        if start_on_training or initial is None:
            self.tabs.setCurrentWidget(self.training_panel)

    def update_title(self) -> None:
        """'<document> — VAE Face Explorer': the Train tab's run there, else the checkpoint open in the explorer."""
        run = self.training_panel.state.started
        checkpoint = self.explorer_panel.state.checkpoint
        document = ""
        if run is not None and self.tabs.currentWidget() is self.training_panel:
            document = Path(run.run_dir).name
        elif checkpoint is not None:
            document = checkpoint_title(checkpoint.path)
        self.setWindowTitle(f"{document} — {APP_NAME}" if document else APP_NAME)
        self.setWindowFilePath(str(checkpoint.path) if checkpoint is not None else "")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.explorer_panel.build_file_menu(file_menu)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self.explorer_panel.build_edit_menu(self.menuBar().addMenu("&Edit"))
        self.training_panel.build_run_menu(self.menuBar().addMenu("&Run"))
        help_menu = self.menuBar().addMenu("&Help")
        guide = QAction("&Guide", self)
        guide.setShortcut(QKeySequence.StandardKey.HelpContents)
        guide.triggered.connect(self.show_guide)
        help_menu.addAction(guide)
        about = QAction("&About", self)
        about.triggered.connect(self._show_about)
        help_menu.addAction(about)
        self.guide_dialog: GuideDialog | None = None

    def open_in_explorer(self, checkpoint_path: str) -> None:
        if self.explorer_panel.load_checkpoint(checkpoint_path):
            self.tabs.setCurrentWidget(self.explorer_panel)

    def follow_in_explorer(self, run_dir: str) -> None:
        if self.explorer_panel.follow.follow(run_dir):
            self.tabs.setCurrentWidget(self.explorer_panel)

    def show_guide(self) -> GuideDialog:
        if self.guide_dialog is None:
            self.guide_dialog = GuideDialog(self)
        self.guide_dialog.show()
        self.guide_dialog.raise_()
        return self.guide_dialog

    def _show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", about_text())

    # ------------------------------------------------------------ drops anywhere on the window

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        handle = self.windowHandle()
        if handle is not None and not self._file_drops_routed:
            handle.installEventFilter(self)
            self._file_drops_routed = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Drags of files are the window's, wherever they are over it. Text fields take drops by default, and a
        file manager's drag also carries the file's URL as text: dropped on the Train tab's folder field (or a
        slider's value box), it would type 'file:///...' into it. So the drag events reaching the window's QWindow
        are taken here, before Qt hands them to the widget under the cursor; drags of plain text still go there."""
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop) and event.mimeData().hasUrls():
            if kind == QEvent.Type.Drop:
                self.dropEvent(event)
            else:
                if kind == QEvent.Type.DragEnter:
                    self._last_drop = None          # a new drag: look at its files again
                self.dragEnterEvent(event)
            return True
        return super().eventFilter(watched, event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        drop = self._classify(event.mimeData())
        refusal = self.drop_refusal(drop) if drop is not None else ""
        if drop is not None and not refusal:
            event.acceptProposedAction()
            return
        if refusal:
            self.statusBar().showMessage(refusal)
        event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        drop = self._classify(event.mimeData())
        self._last_drop = None
        if drop is None or self.drop_refusal(drop):
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_drop(drop)

    def _classify(self, mime: QMimeData) -> Drop | None:
        """classify_drop, once per drag: drag-move events come at the mouse's rate and would look at the disk again."""
        key = tuple(url.toString() for url in mime.urls())
        if self._last_drop is None or self._last_drop[0] != key:
            self._last_drop = (key, classify_drop(mime))
        return self._last_drop[1]

    def drop_refusal(self, drop: Drop) -> str:
        """Why the window does not take `drop` here ('' when it does)."""
        name = drop.path.name
        if drop.kind is DropKind.UNSUPPORTED:
            return drop.message
        if drop.kind is DropKind.IMAGE:          # a start face only makes sense where the face is shown
            if self.tabs.currentWidget() is not self.explorer_panel:
                return f"{name}: drop images on the Explore tab, where they start the face from their encoding"
            if not self.explorer_panel.state.has_checkpoint:
                return f"{name}: open a checkpoint first; an image then starts the face from its encoding"
        if drop.kind is DropKind.IMAGE_FOLDER and self.training_panel.is_training:
            return f"{name}: the training data cannot change while a run trains"
        if drop.kind is DropKind.RUNS_FOLDER and self.tabs.currentWidget() is not self.training_panel:
            return (f"{name} holds several runs: drop one run's folder to open its model, or drop this one on the "
                    "Train tab to compare their curves")
        return ""

    def open_drop(self, drop: Drop) -> None:
        kind, path = drop.kind, str(drop.path)
        if kind is DropKind.CHECKPOINT:
            self.open_in_explorer(path)
        elif kind is DropKind.IMAGE:
            self.explorer_panel.start_from_file(path)
        elif kind is DropKind.IMAGE_FOLDER:
            self.tabs.setCurrentWidget(self.training_panel)
            self.training_panel.use_data_folder(path)
        elif kind is DropKind.RUN_DIRECTORY:
            if self.tabs.currentWidget() is self.training_panel:
                self.training_panel.load_runs(path)
            else:
                self.open_in_explorer(str(drop.run_checkpoint))
        elif kind is DropKind.RUNS_FOLDER:
            self.training_panel.load_runs(path)
        elif kind is DropKind.STATE_FILE:
            if self.explorer_panel.state_files.load(path):
                self.tabs.setCurrentWidget(self.explorer_panel)

    def confirm_close(self) -> bool:
        """While a run trains: ask whether to stop it (saving a checkpoint) and quit, or to keep working."""
        if not self.training_panel.runner.is_running:
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Training in progress",
                          "A training run is in progress. Stop it and quit? Its checkpoint is saved first, so "
                          "you can resume it later.", parent=self)
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Save).setText("Stop, save and quit")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Save

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_close():
            event.ignore()
            return
        # Stop a running training at its next step and write its checkpoint before the window goes.
        self.training_panel.shutdown(timeout_s=3.0)
        self.explorer_panel.shutdown()
        shutdown_all()              # any task left (a folder scan): cancelled and waited for, never destroyed running
        super().closeEvent(event)


def initial_size(available: QSize | None, preferred: QSize = QSize(1400, 900)) -> QSize:
    """The first window size: 1400x900, or 95% of a smaller screen's free area (a 1366x768 laptop)."""
    if available is None or available.isEmpty():
        return preferred
    return QSize(min(preferred.width(), int(available.width() * 0.95)),
                 min(preferred.height(), int(available.height() * 0.95)))


def checkpoint_title(path: Path) -> str:
    """A checkpoint as the title names it: its file name, with its run's name for a run's checkpoints/ file
    (every run has a best.pt)."""
    path = Path(path)
    run = RunFiles.of_checkpoint(path)
    return f"{run.path.name}/{path.name}" if run is not None and run.path.name else path.name
