"""The main window: an Explore tab (latent explorer) and a Train tab (watch-training window).

Drops anywhere on the window: a checkpoint opens in the explorer, an image starts the explorer from its encoding
(on the Explore tab), a folder becomes the training data (on the Train tab). The tabs handle drops on themselves;
the window gets the drops they ignore (Qt passes an ignored drag on to the parent widget).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSize
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

from trainer.data.images import IMAGE_EXTENSIONS
from trainer.resources import default_checkpoint

from .explorer.panel import CHECKPOINT_SUFFIXES, ExplorerPanel
from .help import GuideDialog, about_text
from .training.panel import TrainingPanel


class MainWindow(QMainWindow):
    def __init__(self, checkpoint: Path | None = None, start_on_training: bool = False):
        super().__init__()
        self.setWindowTitle("VAE Face Explorer")
        self.setMinimumSize(900, 600)
        self.resize(initial_size(self.screen().availableGeometry().size() if self.screen() else None))
        self.explorer_panel = ExplorerPanel(self)
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
        initial = checkpoint or default_checkpoint()
        if initial is not None:
            self.explorer_panel.load_checkpoint(str(initial))
        if start_on_training or initial is None:
            self.tabs.setCurrentWidget(self.training_panel)

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
        QMessageBox.about(self, "About VAE Face Explorer", about_text())

    # ------------------------------------------------------------ drops anywhere on the window

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        dropped = dropped_path(event.mimeData())
        if dropped is not None and self._can_take(*dropped):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        dropped = dropped_path(event.mimeData())
        if dropped is None or not self._can_take(*dropped):
            event.ignore()
            return
        kind, path = dropped
        event.acceptProposedAction()
        if kind == "checkpoint":
            self.open_in_explorer(str(path))
        elif kind == "image":
            self.explorer_panel.start_from_file(str(path))
        else:
            self.tabs.setCurrentWidget(self.training_panel)
            self.training_panel.dropEvent(event)        # its own folder drop: sets the data folder

    def _can_take(self, kind: str, path: Path) -> bool:
        if kind == "checkpoint":
            return True
        if kind == "image":          # a start face only makes sense where the face is shown
            return self.tabs.currentWidget() is self.explorer_panel and self.explorer_panel.state.has_checkpoint
        return not self.training_panel.is_training         # the data folder is fixed while a run trains

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
        super().closeEvent(event)


def initial_size(available: QSize | None, preferred: QSize = QSize(1400, 900)) -> QSize:
    """The first window size: 1400x900, or 95% of a smaller screen's free area (a 1366x768 laptop)."""
    if available is None or available.isEmpty():
        return preferred
    return QSize(min(preferred.width(), int(available.width() * 0.95)),
                 min(preferred.height(), int(available.height() * 0.95)))


def dropped_path(mime: QMimeData) -> tuple[str, Path] | None:
    """What a drag carries, judged by its first URL: ("checkpoint" | "image" | "folder", local path), or None."""
    urls = mime.urls() if mime.hasUrls() else []
    if not urls or not urls[0].isLocalFile():
        return None
    path = Path(urls[0].toLocalFile())
    suffix = path.suffix.lower()
    if path.is_dir():
        return "folder", path
    if suffix in CHECKPOINT_SUFFIXES:
        return "checkpoint", path
    if suffix in IMAGE_EXTENSIONS:
        return "image", path
    return None
