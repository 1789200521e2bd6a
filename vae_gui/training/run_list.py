"""The runs shown in the loss plot: a checkbox per run to show or hide it, and 'Load runs…' to add runs from disk."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from trainer.errors import UserError
from trainer.training.run_files import RunFiles
from trainer.training.rundir import read_metrics

from .run_state import RunCurves, RunState


class RunLoadError(UserError):
    """A folder holds no run with recorded metrics."""


def find_run_dirs(folder: Path | str) -> list[Path]:
    """The folder itself when it is a run (has metrics.jsonl), else its sub-folders that are runs."""
    folder = Path(folder)
    if RunFiles(folder).metrics_file.is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and RunFiles(p).metrics_file.is_file())


def load_run_curves(folder: Path | str) -> list[RunCurves]:
    """Curves of the run(s) in `folder`. Raises RunLoadError naming the folder when there is none."""
    runs = []
    for run_dir in find_run_dirs(folder):
        curves = RunCurves.from_metrics(read_metrics(RunFiles(run_dir).metrics_file), run_dir.name, str(run_dir))
        if len(curves.steps) or len(curves.evals):
            runs.append(curves)
    if not runs:
        raise RunLoadError(f"{folder} holds no training run with recorded metrics "
                           f"(pick a run folder containing metrics.jsonl, or a folder of runs)")
    return runs


class RunList(QWidget):
    load_requested = Signal()          # the panel opens the folder dialog

    def __init__(self, state: RunState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.list = QListWidget()
        self.list.setToolTip("Tick runs to overlay their loss curves")
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)     # a long name keeps its start and its date
        self.setMinimumWidth(200)
        self.load_button = QPushButton("Load runs…")
        self.load_button.setToolTip("Overlay the curves of runs saved on disk (a run folder or a folder of runs)")
        self.load_button.clicked.connect(self.load_requested)
        self.list.itemChanged.connect(self._item_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Runs</b> (tick to compare)"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.load_button)
        state.runs_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for curves in self.state.runs:
            label = curves.name + ("  (current)" if curves is self.state.current else "")
            item = QListWidgetItem(label)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if curves.visible else Qt.CheckState.Unchecked)
            item.setToolTip(f"{curves.name}\n{curves.run_dir}" if curves.run_dir else curves.name)
            self.list.addItem(item)
        self.list.blockSignals(False)

    def _item_changed(self, item: QListWidgetItem) -> None:
        self.state.set_visible(self.list.row(item), item.checkState() == Qt.CheckState.Checked)
