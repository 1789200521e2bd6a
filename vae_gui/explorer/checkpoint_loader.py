"""Opening a checkpoint in the explorer: read it, show it, and encode its data in the background.

The loader reads the file (a bad one gets an error naming it; the open checkpoint stays), hands it to the explorer
model, and starts the background encoding of the checkpoint's data; when that ends it sets the model's latent
statistics, notes and data (the info panel and the gallery of test images observe them).
"""
from __future__ import annotations

from pathlib import Path
import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.latent.codec import prepare_for_inference
from trainer.latent.prepared import PreparedLatents, prepare_latents
from trainer.latent.stats import LatentStats, LatentStatsError
from trainer.training.checkpoint import CheckpointError, LoadedCheckpoint
from trainer.training.checkpoint import load_checkpoint as read_checkpoint_file

from ..model import ExplorerModel
from ..model.session import DATA_NOTE, Progress
from ..tasks import BackgroundTasks, TaskContext
from .dialogs import CHECKPOINT_FILTER
from .messages import Messages
from .recent import RecentFiles


def stored_stats(checkpoint: LoadedCheckpoint) -> tuple[LatentStats | None, str]:
    """The latent statistics stored with the checkpoint when usable, and a note saying where they come from."""
    stored = checkpoint.payload.get("latent_stats")
    if not stored:
        return None, "Computing latent statistics from the test images..."
    try:
        stats = LatentStats.from_dict(stored)
    except (LatentStatsError, TypeError, ValueError, KeyError):
        return None, "The stored latent statistics are unreadable; computing them again..."
    if stats.latent_dim != checkpoint.model.latent_dim:
        return None, "The stored latent statistics do not fit this model; computing them again..."
    return stats, f"Latent statistics of {stats.n_samples} encoded test images (stored with the checkpoint)."


ENCODE_CHANNEL = "encode data"


def encode_checkpoint_data(task: TaskContext, checkpoint: LoadedCheckpoint, compute_stats: bool,
                           store: bool = True) -> PreparedLatents:
    """The background task: encode the checkpoint's data set (and its statistics); stops when cancelled."""
    return prepare_latents(checkpoint, compute_stats, store=store, progress=task.report,
                           should_stop=lambda: task.cancelled)


class CheckpointLoader(QObject):
    """Opens checkpoints into the explorer model and encodes their data in the background; writes only to the model
    (the info panel and the gallery observe it)."""

    opened = Signal(str)            # the checkpoint's path, after a successful load
    latents_ready = Signal()        # the background encoding finished (or fell back)

    def __init__(self, model: ExplorerModel, messages: Messages, recent: RecentFiles, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self.messages = messages
        self.recent = recent
        self.tasks = BackgroundTasks(self)
        self.tasks.progress.connect(self._on_progress)
        self.tasks.finished.connect(self._on_prepared)
        self.tasks.failed.connect(self._on_failed)

    @property
    def encoding(self) -> bool:
        return self.tasks.is_busy(ENCODE_CHANNEL)

    def load(self, path: str) -> bool:
        """Open a checkpoint. On a bad file: an error naming it and why; the current checkpoint stays."""
        try:
            checkpoint = read_checkpoint_file(path)
        except CheckpointError as error:
            self.messages.error("Cannot open checkpoint", f"{error.path}\n\n{error.reason}")
            return False
        prepare_for_inference(checkpoint.model)
        stats, note = stored_stats(checkpoint)
        self.model.set_checkpoint(checkpoint, stats, note)
        self.recent.add(str(checkpoint.path))
        self.start_encoding(checkpoint, compute_stats=stats is None)
        self.messages.say(f"Opened {checkpoint.path}")
        self.opened.emit(str(checkpoint.path))
        return True

    def start_encoding(self, checkpoint: LoadedCheckpoint, compute_stats: bool, store: bool = True) -> None:
        """Encode the checkpoint's data set (and its statistics when asked) off the GUI thread; an earlier encoding is
        cancelled. `store=False` writes nothing beside the checkpoint (a followed run's passing checkpoints)."""
        self.tasks.cancel(ENCODE_CHANNEL)
        self.tasks.start(ENCODE_CHANNEL, encode_checkpoint_data, checkpoint, compute_stats, store)

    def ask_open(self) -> None:
        recent = self.recent.paths()
        folder = str(Path(recent[0]).parent) if recent else ""
        path = self.messages.dialogs.open_path("Open checkpoint", CHECKPOINT_FILTER, folder)
        if path:
            self.load(path)

    def shutdown(self) -> None:
        """Cancel the encoding and wait: it stops at its next check (between batches; a data load at once)."""
        self.tasks.shutdown()

    def _on_progress(self, _channel: str, done: int, total: int, what: str) -> None:
        self.model.session.set_progress(Progress(done, total, what))

    def _on_prepared(self, _channel: str, result: PreparedLatents) -> None:
        model, session = self.model, self.model.session
        session.set_progress(None)
        data = result.data
        if result.stats is not None:
            note = result.stats_note[0].upper() + result.stats_note[1:] + "."
            if result.stored:
                note += " Kept for this checkpoint (the file is unchanged), so the next load is instant."
            untouched = np.array_equal(model.z, session.mean_latent())
            session.set_stats(result.stats, note)
            if untouched:           # the user has not moved yet: start at the data mean, as with stored stats
                model.reset_to_mean(undoable=False)
        session.set_note(DATA_NOTE, f"The training data is not available ({data.data_error}); fitted samplers use "
                                    "decoded prior samples." if data.data_error else "")
        session.set_data(data)
        self.latents_ready.emit()

    def _on_failed(self, _channel: str, message: str) -> None:
        self.model.session.set_progress(None)
        self.model.session.set_note(DATA_NOTE, f"Could not encode the data set: {message}")
        self.messages.say(f"Could not encode the data set: {message}")
