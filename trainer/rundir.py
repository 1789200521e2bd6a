"""A run directory: config.json, metrics.jsonl, train.log, checkpoints/ and predictions/."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


class RunDirError(Exception):
    """A run directory is missing or unusable."""


class RunDirectory:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.predictions = self.path / "predictions"

    @classmethod
    def create(cls, runs_dir: Path | str, name: str) -> "RunDirectory":
        """A new folder runs_dir/name, with -2, -3... appended when the name is taken."""
        runs_dir = Path(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        candidate, n = runs_dir / name, 2
        while candidate.exists():
            candidate, n = runs_dir / f"{name}-{n}", n + 1
        run = cls(candidate)
        run.checkpoints.mkdir(parents=True)
        run.predictions.mkdir()
        return run

    @classmethod
    def open(cls, path: Path | str) -> "RunDirectory":
        run = cls(Path(path))
        if not (run.last_checkpoint.exists() or run.best_checkpoint.exists()):
            raise RunDirError(f"{path} is not a run directory with a checkpoint (checkpoints/last.pt is missing)")
        run.predictions.mkdir(exist_ok=True)
        return run

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    def write_config(self, config: dict) -> None:
        (self.path / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    def write_json(self, name: str, data: Any) -> Path:
        path = self.path / name
        path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
        return path

    def log_metrics(self, record: dict) -> None:
        with open(self.metrics_file, "a") as handle:
            handle.write(json.dumps(_finite(record), default=_json_default) + "\n")

    def log_line(self, text: str) -> None:
        with open(self.path / "train.log", "a") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")

    def save_prediction(self, name: str, grid_hwc: np.ndarray) -> Path:
        path = self.predictions / name
        Image.fromarray(grid_hwc).save(path)
        return path


def read_metrics(path: Path | str) -> list[dict]:
    """Records of a metrics.jsonl; a torn last line (a crash mid-write) is ignored."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _finite(record: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)
