"""How fast this machine trains a model: the training rate of the latest run of the same preset and image size in
a runs folder, from the images/s its step records show (the progress bar's rate, trainer.training.throughput)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.training.run_files import RunFiles
from trainer.training.rundir import read_metrics


@dataclass(frozen=True)
class MeasuredSpeed:
    images_per_s: float
    run_name: str


def latest_speed(runs_dir: Path | str, preset: str, image_size: int) -> MeasuredSpeed | None:
    """The median training rate of the newest run in `runs_dir` of `preset` at `image_size` that recorded one;
    None when there is none (an unreadable run is passed over)."""
    for run in _runs_newest_first(Path(runs_dir)):
        model = _run_model(run)
        if model.get("preset") != preset or model.get("image_size") != image_size:
            continue
        rate = training_rate(run)
        if rate is not None:
            return MeasuredSpeed(images_per_s=rate, run_name=run.path.name)
    return None


def training_rate(run: RunFiles) -> float | None:
    """The median images/s of a run's step records; None when it recorded none."""
    rates = [r["images_per_s"] for r in read_metrics(run.metrics_file)
             if r.get("type") == "step" and isinstance(r.get("images_per_s"), (int, float)) and r["images_per_s"] > 0]
    return float(np.median(rates)) if rates else None


def _runs_newest_first(runs_dir: Path) -> list[RunFiles]:
    try:
        runs = [RunFiles(p) for p in runs_dir.iterdir() if p.is_dir()]
    except OSError:
        return []
    dated = []
    for run in runs:
        try:
            dated.append((run.metrics_file.stat().st_mtime, run))
        except OSError:
            continue
    return [run for _, run in sorted(dated, key=lambda pair: pair[0], reverse=True)]


def _run_model(run: RunFiles) -> dict:
    try:
        model = json.loads(run.config_file.read_text(encoding="utf-8")).get("model", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return model if isinstance(model, dict) else {}
