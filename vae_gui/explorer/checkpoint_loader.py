"""Opening a checkpoint in the explorer: read it, show it, and encode its data in the background.

The loader reads the file (a bad one gets an error naming it; the open checkpoint stays), hands the model to the
explorer state, and starts the background encoding of the checkpoint's data; when that ends it fills the latent
statistics and the gallery of test images.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trainer.latent.codec import prepare_for_inference
from trainer.latent.prepared import PreparedLatents, prepare_latents
from trainer.latent.stats import LatentStats, LatentStatsError
from trainer.training.checkpoint import CheckpointError, LoadedCheckpoint
from trainer.training.checkpoint import load_checkpoint as read_checkpoint_file

from ..tasks import BackgroundTasks, TaskContext
from .dialogs import CHECKPOINT_FILTER

if TYPE_CHECKING:
    from .panel import ExplorerPanel


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


class CheckpointLoader:
    """Loads checkpoints into the panel's state and fills the info panel and gallery once the data is encoded."""

    def __init__(self, panel: ExplorerPanel):
        self.panel = panel
        self.tasks = BackgroundTasks(panel)
        self.tasks.progress.connect(self._on_progress)
        self.tasks.finished.connect(self._on_prepared)
        self.tasks.failed.connect(self._on_failed)

    @property
    def encoding(self) -> bool:
        return self.tasks.is_busy(ENCODE_CHANNEL)

    def load(self, path: str) -> bool:
        """Open a checkpoint. On a bad file: an error naming it and why; the current checkpoint stays."""
        panel = self.panel
        try:
            checkpoint = read_checkpoint_file(path)
        except CheckpointError as error:
            panel.show_error("Cannot open checkpoint", f"{error.path}\n\n{error.reason}")
            return False
        prepare_for_inference(checkpoint.model)
        stats, note = stored_stats(checkpoint)
        self.tasks.cancel(ENCODE_CHANNEL)         # an earlier checkpoint's encoding is of no use now
        panel.face_panel.hide_encoded()
        panel.gallery.set_images(None)
        self.show_gallery(False)                  # until the test images are encoded
        panel.info.show_checkpoint(checkpoint)
        panel.info.show_stats_note(note)
        panel.state.set_checkpoint(checkpoint, stats, note)
        panel.recent.add(str(checkpoint.path))
        panel.set_loaded(True)
        self.tasks.start(ENCODE_CHANNEL, encode_checkpoint_data, checkpoint, stats is None)
        panel.status_message.emit(f"Opened {checkpoint.path}")
        panel.checkpoint_loaded.emit(str(checkpoint.path))
        return True

    def ask_open(self) -> None:
        recent = self.panel.recent.paths()
        folder = str(Path(recent[0]).parent) if recent else ""
        path = self.panel.dialogs.open_path("Open checkpoint", CHECKPOINT_FILTER, folder)
        if path:
            self.load(path)

    def show_gallery(self, visible: bool) -> None:
        self.panel.gallery_label.setVisible(visible)
        self.panel.gallery.setVisible(visible)

    def shutdown(self) -> None:
        """Cancel the encoding and wait: it stops at its next check (between batches; a data load at once)."""
        self.tasks.shutdown()

    def _on_progress(self, _channel: str, done: int, total: int, what: str) -> None:
        self.panel.info.show_progress(done, total, what)

    def _on_prepared(self, _channel: str, result: PreparedLatents) -> None:
        panel, state = self.panel, self.panel.state
        panel.info.hide_progress()
        data = result.data
        if result.stats is not None:
            note = result.stats_note[0].upper() + result.stats_note[1:] + "."
            if result.stored:
                note += " Kept for this checkpoint (the file is unchanged), so the next load is instant."
            panel.info.show_stats_note(note)
            untouched = np.array_equal(state.z, state.mean_latent())
            state.set_stats(result.stats, note)
            if untouched:           # the user has not moved yet: start at the data mean, as with stored stats
                state.reset_to_mean(undoable=False)
        elif data.data_error:
            panel.info.show_stats_note(f"{state.stats_note} The training data is not available "
                                       f"({data.data_error}); fitted samplers use decoded prior samples.")
        state.set_data(data)
        panel.gallery.set_images(data.test_images)
        self.show_gallery(data.has_images)
        panel.latents_ready.emit()

    def _on_failed(self, _channel: str, message: str) -> None:
        self.panel.info.hide_progress()
        self.panel.info.show_stats_note(f"Could not encode the data set: {message}")
        self.panel.status_message.emit(f"Could not encode the data set: {message}")
