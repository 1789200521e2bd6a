"""Following a training run: notice when its newest checkpoint (best.pt or last.pt) changed, and read it safely.

The poll only stats files, so it is cheap enough for a GUI timer. The read is the heavy part (run it off the GUI
thread). Checkpoints are written atomically (temp file + rename), but a file synced from a GPU server by rsync may
be caught half-copied: a read that fails, or a file that changed while it was read, is not an error; the same
version is skipped and the next change is tried again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trainer.latent.codec import prepare_for_inference
from trainer.training.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint, weights_hash
from trainer.training.run_files import CHECKPOINTS, RunFiles
from trainer.training.rundir import RunDirectory, RunDirError


@dataclass(frozen=True)
class CheckpointVersion:
    """One state of a checkpoint file, told apart by modification time and size."""

    path: Path
    mtime_ns: int
    size: int


@dataclass
class FollowedCheckpoint:
    """A checkpoint read completely, with what the GUI needs ready (so nothing heavy is left for its thread)."""

    version: CheckpointVersion
    checkpoint: LoadedCheckpoint
    weights_hash: str

    @property
    def step(self) -> int:
        return self.checkpoint.step


def stat_version(path: Path) -> CheckpointVersion | None:
    """The file's current version, or None when it does not exist (yet) or is not a regular file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path) or info.st_size == 0:
        return None
    return CheckpointVersion(Path(path), info.st_mtime_ns, info.st_size)


def run_directory_of(path: Path | str) -> Path:
    """The run folder a user picked: the run itself, or its checkpoints/ folder. Raises RunDirError when it is
    neither (a run folder has config.json or checkpoints/; one just started may have no checkpoint yet)."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a folder" if path.exists() else f"{path} does not exist")
    if path.name == CHECKPOINTS and RunFiles(path.parent).config_file.exists():
        path = path.parent
    run = RunFiles(path)
    if not (run.checkpoints.is_dir() or run.config_file.is_file()):
        raise RunDirError(f"{path} is not a run folder (it has neither config.json nor a checkpoints/ folder)")
    return path


class RunFollower:
    """Which checkpoint of a run to read next. Call poll() often (stats only), read_version() off the GUI
    thread, then accepted() or rejected() with the version that was read."""

    def __init__(self, run_dir: Path | str):
        self.run_dir = run_directory_of(run_dir)
        self.run = RunDirectory(self.run_dir)
        self.loaded: CheckpointVersion | None = None      # the version shown now
        self._bad: set[CheckpointVersion] = set()          # versions whose read failed: skipped until they change

    @property
    def name(self) -> str:
        return self.run_dir.name

    def versions(self) -> list[CheckpointVersion]:
        """The run's checkpoints that exist, newest first (best.pt before last.pt when written together)."""
        found = [v for v in (stat_version(self.run.best_checkpoint), stat_version(self.run.last_checkpoint)) if v]
        return sorted(found, key=lambda v: v.mtime_ns, reverse=True)

    def poll(self) -> CheckpointVersion | None:
        """The version to read now, or None when nothing new is there. Newer than the one shown, not known bad."""
        for version in self.versions():
            if self.loaded is not None and version.mtime_ns <= self.loaded.mtime_ns:
                return None                  # this one and the older ones are not newer than what is shown
            if version not in self._bad:
                return version
        return None

    def accepted(self, version: CheckpointVersion) -> None:
        self.loaded = version
        self._bad = {v for v in self._bad if v.mtime_ns > version.mtime_ns}

    def rejected(self, version: CheckpointVersion) -> None:
        self._bad.add(version)


def read_version(version: CheckpointVersion) -> FollowedCheckpoint | None:
    """Read a checkpoint version completely; None when it is partial, damaged or changed while being read (an
    rsync in progress, a rename in between): the caller tries again when the file changes."""
    try:
        checkpoint = load_checkpoint(version.path)
    except CheckpointError:
        return None
    if stat_version(version.path) != version:       # replaced meanwhile: what was read may be either file
        return None
    prepare_for_inference(checkpoint.model)
    return FollowedCheckpoint(version, checkpoint, weights_hash(checkpoint.model.state_dict()))
