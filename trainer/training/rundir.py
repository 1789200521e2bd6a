"""A run directory: creating, locking and writing it (its layout, the files' names: trainer.training.run_files), and
the checks that a place can be written before a run starts."""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from trainer.data.images import save_png

from trainer.errors import UserError
from trainer.files import TEXT, append_text, name_length, read_text, write_text_atomic
from trainer.training.metrics_csv import MetricsCsv
from trainer.training.run_files import RunFiles


class RunDirError(UserError):
    """A run directory is missing or unusable."""


class OutputPathError(UserError):
    """A place the user asked us to write to cannot be written (checked before the work starts)."""


MAX_NAME_LENGTH = 200          # file systems allow 255 bytes; leave room for "-2" and suffixes


class RunDirectory(RunFiles):
    """A run folder (its layout: RunFiles) that this process creates or opens, locks and writes."""

    def __init__(self, path: Path | str):
        super().__init__(path)
        self._lock = None
        self._metrics_table = MetricsCsv(self.metrics_csv, lambda: read_metrics(self.metrics_file))
        self._metrics_checked = False          # a torn last line (a crash mid-write) is ended before appending

    @classmethod
    def create(cls, runs_dir: Path | str, name: str) -> "RunDirectory":
        """A new folder runs_dir/name, with -2, -3... appended when the name is taken, locked by this process.

        The name is claimed by mkdir itself (it fails when the folder exists), so processes creating runs at the
        same moment each get their own folder; it is locked before anything is put in it, so no other process
        (a second experiments runner) ever sees it unlocked and takes it for a dead run, however young.
        """
        runs_dir = Path(runs_dir)
        check_runs_dir(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputPathError(f"cannot create the runs folder {runs_dir}: {error.strerror}") from None
        for n in range(1, 10_000):
            candidate = runs_dir / (name if n == 1 else f"{name}-{n}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            except OSError as error:
                raise RunDirError(f"cannot create the run folder {candidate}: {error.strerror}") from None
            run = cls(candidate)
            run.lock()
            run.checkpoints.mkdir()
            run.predictions.mkdir()
            return run
        raise RunDirError(f"cannot create a run folder named {name} in {runs_dir}: 10000 names are taken")

    @classmethod
    def open(cls, path: Path | str) -> "RunDirectory":
        run = cls(Path(path))
        if run.path.exists() and not run.path.is_dir():
            raise RunDirError(f"{path} is a file, not a run directory")
        if not (run.last_checkpoint.exists() or run.best_checkpoint.exists()):
            raise RunDirError(f"{path} is not a run directory with a checkpoint (checkpoints/last.pt is missing)")
        run.predictions.mkdir(exist_ok=True)
        return run

    def lock(self) -> None:
        """Claim the run for this process until `unlock()` (or the process ends: the OS drops the lock).

        Raises RunDirError naming the holder when another process writes the run. Temporary files left by a
        writer that was killed are removed once the lock is held: no one else can be writing them.
        """
        from filelock import FileLock, Timeout

        if self._lock is not None:           # already ours (create() locks)
            return
        lock = FileLock(str(self.lock_file))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise RunDirError(f"run {self.path} is in use by another process (pid {self._owner()}); wait for it "
                              f"to finish or stop it first") from None
        except OSError as error:
            raise RunDirError(f"cannot lock the run {self.path}: {error.strerror}") from None
        self._lock = lock
        try:
            self.owner_file.write_text(f"{os.getpid()}\n", **TEXT)
        except OSError:
            pass
        self.remove_stale_temporary_files()

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def in_use_by_another(self) -> str | None:
        """The pid (as text) of another live process holding the run's lock, or None when it is free. Only a free
        run may be deleted or rewritten."""
        try:
            self.lock()
        except RunDirError:
            return self._owner()
        self.unlock()
        return None

    def _owner(self) -> str:
        try:
            return self.owner_file.read_text(**TEXT).strip() or "?"
        except OSError:
            return "?"

    def remove_stale_temporary_files(self) -> list[Path]:
        """Delete checkpoints/*.tmp and metrics.csv.tmp (a write interrupted by kill -9 or a crash). Call with the
        lock."""
        removed = []
        for tmp in [*self.checkpoints.glob("*.tmp"), *self.path.glob(self.metrics_csv.name + ".tmp")]:
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
        return removed

    def write_config(self, config: dict) -> None:
        write_text_atomic(self.config_file, json.dumps(config, indent=2) + "\n")

    def write_eval(self, report: dict) -> Path:
        """eval.json: the final evaluation's report."""
        return write_text_atomic(self.eval_file, json.dumps(report, indent=2, default=_json_default) + "\n")

    def log_metrics(self, record: dict) -> None:
        """Append the record to metrics.jsonl, then metrics.csv (each opened and closed, so flushed, per record)."""
        record = _finite(record)
        if not self._metrics_checked:
            _end_torn_line(self.metrics_file)
            self._metrics_checked = True
        append_text(self.metrics_file, json.dumps(record, default=_json_default) + "\n")
        self._metrics_table.append(record)

    def log_line(self, text: str) -> None:
        append_text(self.log_file, f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")

    def save_prediction(self, name: str, grid_hwc: np.ndarray) -> Path:
        return save_png(grid_hwc, self.predictions / name)


def check_runs_dir(runs_dir: Path | str) -> None:
    """Make sure run folders can be created in runs_dir, before any data is loaded (nothing is created)."""
    check_output_folder(runs_dir, "the runs folder")


def check_output_file(path: Path | str, what: str = "output file") -> None:
    """Make sure a file can be written at path: not a folder, and its folder exists or can be made, writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a folder; give a file name (e.g. {path / 'out'})")
    if name_length(path.name) > 255:
        raise OutputPathError(f"{what} name {path.name[:40]}... is too long (at most 255 bytes)")
    check_output_folder(path.parent, what=f"the folder of the {what}")


def check_output_folder(folder: Path | str, what: str = "output folder") -> None:
    """Make sure files can be written into folder, or that it can be created; creates nothing."""
    folder = Path(folder)
    for part in folder.parts:
        if name_length(part) > 255:
            raise OutputPathError(f"cannot create {what} {folder}: the name {part[:40]}... is too long")
    existing = folder
    while not existing.exists():
        if existing.is_symlink():            # a dangling link: mkdir would fail on it
            raise OutputPathError(f"cannot create {what} {folder}: {existing} is a broken link")
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"{what} {folder} cannot be created: {existing} is a file, not a folder")
    problem = _write_problem(existing)
    if problem and existing == folder:
        raise OutputPathError(f"cannot write to {what} {folder}: {problem}")
    if problem:
        raise OutputPathError(f"cannot create {what} {folder}: {existing} does not allow it ({problem})")


def _write_problem(folder: Path) -> str:
    """Why files cannot be created in folder ("" when they can). A probe file is created and deleted: permission
    bits alone miss read-only mounts, /proc and what root may do."""
    import tempfile
    try:
        fd, name = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as error:
        return error.strerror or str(error)
    return ""


def read_metrics(path: Path | str) -> list[dict]:
    """Records of a metrics.jsonl; a torn last line (a crash mid-write) is ignored."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in read_text(path).splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _end_torn_line(path: Path) -> None:
    """A crash mid-write leaves a last line without its newline: end it, so the next record starts a line of its own
    (read_metrics skips the torn one) instead of being glued to it and lost."""
    try:
        with open(path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            torn = handle.read(1) != b"\n"
    except OSError:          # missing or empty
        return
    if torn:
        append_text(path, "\n")


def _finite(record: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)
