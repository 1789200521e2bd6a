"""Following a training run in the explorer: each new best or last checkpoint replaces the model, live.

A QTimer polls the run every second; the poll only stats two files (trainer/training/follow.py). A changed file
is read off the GUI thread (vae_gui/tasks.py). A partial file (an rsync in progress) is skipped quietly and
tried again once it changes. On success the model is swapped and the face kept:
- same architecture and data (the usual case, a run saving its next checkpoint): the weights are replaced in the
  model (ExplorerModel.replace_model), z stays, nothing heavy happens on the GUI thread; latent statistics stay
  until the background encoding (CheckpointLoader.start_encoding) brings the new ones;
- anything else (the first checkpoint of a session, another model): the checkpoint is opened as usual, with the
  same z when the latent size is unchanged, else the code of the same image under the new model.

The controller writes only to the model (its `follow` part says which run is followed and the status line, which
FollowStatus shows); a Stop on the model's part (FollowStatus's button, the menu) ends the polling.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from trainer.data.images import square_resize
from trainer.latent.codec import encode_images, hwc_to_nchw
from trainer.training.follow import CheckpointVersion, FollowedCheckpoint, RunFollower, read_version, stat_version
from trainer.training.rundir import RunDirError

from .. import theme
from ..model import ExplorerModel, Follow
from ..model.session import STATS_NOTE
from ..tasks import BackgroundTasks
from .checkpoint_loader import CheckpointLoader, stored_stats
from .messages import Messages

POLL_MS = 1000
CHANNEL = "follow"


def read_for_explorer(task, version: CheckpointVersion, image: np.ndarray | None,
                      latent_dim: int) -> tuple[FollowedCheckpoint | None, np.ndarray | None]:
    """(the checkpoint read completely or None, the image's code under it when its latent size differs)."""
    followed = read_version(version)
    if followed is None or image is None or followed.checkpoint.model.latent_dim == latent_dim:
        return followed, None
    task.check()
    model = followed.checkpoint.model
    size = model.config.image_size
    if image.shape[:2] != (size, size):
        image = np.asarray(square_resize(Image.fromarray(image), size))
    means, _ = encode_images(model, hwc_to_nchw(image[None]))
    return followed, means[0]


class FollowStatus(QWidget):
    """Mirrors the model's Follow part: 'Following RUN (step N, updated HH:MM:SS)' and a Stop button; hidden while
    not following."""

    def __init__(self, follow: Follow, parent: QWidget | None = None):
        super().__init__(parent)
        self.follow = follow
        self.label = QLabel("", self)
        theme.set_tone(self.label, theme.Tone.ACCENT)
        self.label.setWordWrap(True)
        self.stop_button = QPushButton("Stop following", self)
        self.stop_button.setToolTip("Keep the model shown now and stop reloading the run's checkpoints")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.stop_button)
        self.stop_button.clicked.connect(follow.stop)
        follow.changed.connect(self._show)
        self.hide()

    def _show(self) -> None:
        self.label.setText(self.follow.status)
        self.label.setToolTip(self.follow.detail)
        self.setVisible(self.follow.following)


class RunFollowController(QObject):
    """Polls the followed run and swaps the model; `current_face` gives the face shown now (the live decoder's), the
    image kept when the latent size changes."""

    status_changed = Signal(str)
    reloaded = Signal(int)               # the step of the checkpoint now shown

    def __init__(self, model: ExplorerModel, loader: CheckpointLoader, messages: Messages,
                 current_face: Callable[[], np.ndarray | None], parent: QObject | None = None):
        super().__init__(parent)
        self.state = model
        self.loader = loader
        self.messages = messages
        self.current_face = current_face
        self.follower: RunFollower | None = None
        model.follow.changed.connect(self._on_follow_changed)
        self.tasks = BackgroundTasks(self)
        self.tasks.finished.connect(self._on_read)
        self.tasks.failed.connect(self._on_read_failed)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.reload_count = 0
        self._reading: CheckpointVersion | None = None
        self._applying = False
        loader.opened.connect(self._on_checkpoint_opened)

    @property
    def following(self) -> bool:
        return self.follower is not None

    def follow(self, run_dir: str | Path) -> bool:
        """Start following `run_dir` (a run folder or its checkpoints/ folder). False, with a message, if it is not
        one. A run without a checkpoint yet is fine: the first one is shown when it is written."""
        try:
            follower = RunFollower(run_dir)
        except RunDirError as error:
            self.messages.error("Cannot follow the run", str(error))
            return False
        self.stop()
        self.follower = follower
        shown = stat_version(self.state.checkpoint.path) if self._shows_run_checkpoint(follower) else None
        if shown is not None:              # already showing this run's newest checkpoint: no reload for it
            follower.accepted(shown)
        self.timer.start()
        self._show_status()
        self.poll()
        return True

    def stop(self) -> None:
        self.state.follow.stop()

    def _on_follow_changed(self) -> None:
        """Following ended on the model (a Stop button, the menu, another checkpoint opened): stop polling."""
        if self.state.follow.following or self.follower is None:
            return
        self.timer.stop()
        self.tasks.cancel(CHANNEL)
        self._reading = None
        self.status_changed.emit(f"Stopped following {self.follower.name}")
        self.follower = None

    def shutdown(self) -> None:
        self.stop()
        self.tasks.shutdown()

    # ------------------------------------------------------------ polling (GUI thread: stats only)

    @Slot()
    def poll(self) -> None:
        if self.follower is None or self._reading is not None:
            return
        version = self.follower.poll()
        if version is None:
            return
        self._reading = version
        state = self.state
        image = self._current_image() if state.has_checkpoint else None
        self.tasks.start(CHANNEL, read_for_explorer, version, image, state.latent_dim)

    def _current_image(self) -> np.ndarray | None:
        """What "the same face" is when the latent size changes: the encoded image, else the face shown now."""
        source = self.state.face.encoded
        return source.image if source is not None else self.current_face()

    @Slot(str, object)
    def _on_read(self, channel: str, result) -> None:
        version, self._reading = self._reading, None
        if self.follower is None or version is None:
            return
        followed, z = result
        if followed is None:                  # partial or changed while read: tried again once it changes
            self.follower.rejected(version)
            return
        self.follower.accepted(version)
        if not self._adds_anything(followed):
            return
        self._apply(followed, z)

    @Slot(str, str)
    def _on_read_failed(self, channel: str, message: str) -> None:
        version, self._reading = self._reading, None
        if self.follower is not None and version is not None:
            self.follower.rejected(version)
            self.status_changed.emit(f"Could not read {version.path.name} of {self.follower.name}: {message}")

    # ------------------------------------------------------------ swapping the model (GUI thread)

    def _apply(self, followed: FollowedCheckpoint, new_z: np.ndarray | None) -> None:
        state, checkpoint = self.state, followed.checkpoint
        self._applying = True
        try:
            if self._same_shape(checkpoint):
                state.replace_model(checkpoint, followed.weights_hash)
                stats, note = stored_stats(checkpoint)
                if stats is not None:
                    state.set_stats(stats, note)
                else:
                    state.session.set_note(STATS_NOTE, "Latent statistics of the previous checkpoint until this "
                                                       "one's are computed...")
                # New codes for the gallery, samplers and statistics, off the GUI thread; the old ones stay until
                # then. Nothing is written beside a run's passing checkpoints.
                self.loader.start_encoding(checkpoint, compute_stats=stats is None, store=False)
            else:
                z = state.z.copy() if state.has_checkpoint else None
                if not self.loader.load(str(followed.version.path)):
                    return
                keep = new_z if new_z is not None else z
                if keep is not None and keep.shape == (state.latent_dim,):
                    state.set_z(keep, undoable=False)
        finally:
            self._applying = False
        self.reload_count += 1
        self._show_status(checkpoint.step)
        self.reloaded.emit(checkpoint.step)

    def _adds_anything(self, followed: FollowedCheckpoint) -> bool:
        """False for the same weights again with nothing new (a run writes last.pt, then best.pt as a copy)."""
        current = self.state.checkpoint
        if current is None or followed.weights_hash != self.state.weights_hash:
            return True
        new = followed.checkpoint.payload
        # Statistics the explorer already has (computed since, kept beside the checkpoint) are nothing new.
        return bool((new.get("latent_stats") and self.state.stats is None)
                    or (new.get("eval") and not current.payload.get("eval")))

    def _same_shape(self, checkpoint) -> bool:
        current = self.state.checkpoint
        return (current is not None and current.config.model == checkpoint.config.model
                and current.config.data == checkpoint.config.data)

    def _shows_run_checkpoint(self, follower: RunFollower) -> bool:
        current = self.state.checkpoint
        return current is not None and Path(current.path).resolve().parent == follower.run.checkpoints.resolve()

    def _on_checkpoint_opened(self, path: str) -> None:
        """The user opened another checkpoint: following would replace it, so following ends."""
        if self.follower is not None and not self._applying:
            if Path(path).resolve().parent != self.follower.run.checkpoints.resolve():
                self.stop()

    def _show_status(self, step: int | None = None) -> None:
        name = self.follower.name
        if step is None and self.follower.loaded is None:
            text = f"Following {name} (waiting for its first checkpoint)"
        elif step is None:
            text = f"Following {name} (step {self.state.checkpoint.step:,})"
        else:
            text = f"Following {name} (step {step:,}, updated {time.strftime('%H:%M:%S')})"
        self.state.follow.start(self.follower.run_dir, text,
                                f"Reloads {self.follower.run.best_checkpoint} or {self.follower.run.last_checkpoint.name}, "
                                "whichever is newer, each time one is written")
        self.status_changed.emit(text)
