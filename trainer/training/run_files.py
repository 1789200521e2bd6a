"""The layout of a run folder: the one place that names its files. Reading a run needs only this; RunDirectory
(trainer.training.rundir) adds creating, locking and writing.

    RUN/config.json            the run's settings (RunConfig.to_dict())
    RUN/train.log              what the run did, a line each
    RUN/metrics.jsonl          a record per logged step, evaluation, final evaluation and end (the record of truth)
    RUN/metrics.csv            the same records as a table
    RUN/eval.json              the final evaluation's report
    RUN/experiment.json        an experiments file's run: its name, sampler and description
    RUN/checkpoints/last.pt    the latest state (resumable); best.pt: the lowest validation loss
    RUN/predictions/           the preview grids of each evaluation
    RUN/tensorboard/           TensorBoard logs (with --tensorboard)
    RUN/.lock, RUN/.lock.pid   held by the process writing the run, and its pid
"""
from __future__ import annotations

from pathlib import Path

CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


class RunFiles:
    """Where each file of the run folder `path` is (nothing is read or created)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    @classmethod
    def of_checkpoint(cls, checkpoint: Path | str) -> "RunFiles | None":
        """The run whose checkpoints/ folder holds `checkpoint`; None for a checkpoint kept anywhere else."""
        folder = Path(checkpoint).parent
        return cls(folder.parent) if folder.name == CHECKPOINTS else None

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST_CHECKPOINT

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / BEST_CHECKPOINT

    @property
    def predictions(self) -> Path:
        return self.path / "predictions"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def log_file(self) -> Path:
        return self.path / "train.log"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def eval_file(self) -> Path:
        return self.path / "eval.json"

    @property
    def experiment_file(self) -> Path:
        return self.path / "experiment.json"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    @property
    def owner_file(self) -> Path:
        return self.path / ".lock.pid"

    @property
    def model_checkpoint(self) -> Path:
        """The run's model to open or score: best.pt once a validation chose it, else last.pt."""
        return self.best_checkpoint if self.best_checkpoint.is_file() else self.last_checkpoint

    def is_own_checkpoint(self, path: Path | str) -> bool:
        """Whether `path` is this run's last.pt or best.pt (the files a resume and the explorer rely on)."""
        return Path(path) in (self.last_checkpoint, self.best_checkpoint)
