"""The training run being followed (its checkpoints reload as they are written) and the line saying so."""
from __future__ import annotations

from pathlib import Path

from psygnal import Signal


class Follow:
    changed = Signal()              # started, stopped, or the status line changed

    def __init__(self) -> None:
        self.run_dir: Path | None = None
        self.status = ""            # "Following RUN (step N, updated HH:MM:SS)"
        self.detail = ""            # a longer explanation (a tooltip)

    @property
    def following(self) -> bool:
        return self.run_dir is not None

    def start(self, run_dir: Path, status: str, detail: str = "") -> None:
        self.run_dir, self.status, self.detail = Path(run_dir), status, detail
        self.changed.emit()

    def set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.changed.emit()

    def stop(self) -> None:
        if self.run_dir is not None:
            self.run_dir, self.status, self.detail = None, "", ""
            self.changed.emit()
