"""The main window: an Explore tab (latent explorer) and a Train tab (watch-training window)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

from trainer.resources import default_checkpoint

from .explorer.panel import ExplorerPanel
from .training.panel import TrainingPanel


class MainWindow(QMainWindow):
    def __init__(self, checkpoint: Path | None = None, start_on_training: bool = False):
        super().__init__()
        self.setWindowTitle("VAE Face Explorer")
        self.resize(1400, 900)
        self.explorer_panel = ExplorerPanel(self)
        self.training_panel = TrainingPanel(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.explorer_panel, "Explore")
        self.tabs.addTab(self.training_panel, "Train")
        self.setCentralWidget(self.tabs)
        self.training_panel.open_in_explorer.connect(self.open_in_explorer)
        self.explorer_panel.status_message.connect(self.statusBar().showMessage)
        self.training_panel.status_message.connect(self.statusBar().showMessage)
        self._build_menus()
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
        self.training_panel.build_run_menu(self.menuBar().addMenu("&Run"))
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self._show_about)
        help_menu.addAction(about)

    def open_in_explorer(self, checkpoint_path: str) -> None:
        if self.explorer_panel.load_checkpoint(checkpoint_path):
            self.tabs.setCurrentWidget(self.explorer_panel)

    def _show_about(self) -> None:
        QMessageBox.about(self, "About VAE Face Explorer",
                          "Train autoencoders and variational autoencoders on 64x64 faces, watch them learn, "
                          "and explore what they learned.")

    def closeEvent(self, event: QCloseEvent) -> None:
        # Stop a running training at its next step and write its checkpoint before the window goes.
        self.training_panel.shutdown(timeout_s=3.0)
        self.explorer_panel.shutdown()
        super().closeEvent(event)
