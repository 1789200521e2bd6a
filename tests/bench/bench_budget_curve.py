"""What a time budget buys: the photo recipe (the app's default for an image folder) trained on DIR with
--time-budget M for each budget, one run after another (never two at once), each scored the same way on the test
split as bench_quality.py scores it (PSNR, SSIM; with the `faces` extra the same-person rate of reconstructions,
sample face detection and sample face FD). Records the steps done, the training rate (images/s, the median of the
run's step records: the rate the app's progress bar shows) and the machine. Prints a table and one JSON line.

    python tests/bench/bench_budget_curve.py --data DIR --minutes 1 3 10 30 60 [--out FILE] [--threads 2]

--out writes the curve (trainer.evaluation.budget_curve.BudgetCurve) as JSON: copied to
trainer/resources/budget_curve.json, the Train tab states what a budget buys from it, and
`python tests/bench/bench_budget_curve.py --table FILE` prints its README table. --train-args adds CLI training
flags to every run (the smoke test uses it to shrink the network; a shipped curve is measured without it).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

import torch

from bench_quality import DEFAULT_DATA, ours, score
from trainer.atomic import write_atomically
from trainer.cli.commands import build_parser, config_from_args
from trainer.config import DataConfig
from trainer.data.datasets import load_dataset
from trainer.evaluation.budget_curve import BudgetCurve, BudgetPoint, read_budget_curve
from trainer.training.measured_speed import training_rate
from trainer.training.run_files import RunFiles

COLUMNS = ("minutes", "steps", "images_per_s", "psnr", "ssim", "same_person_rate", "sample_face_detect",
           "sample_face_fd")
HEADINGS = ("budget (min)", "steps", "images/s", "PSNR (dB)", "SSIM", "same person", "samples detected",
            "sample face FD")


def machine(threads: int) -> dict:
    return {"cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(), "device": "cpu"}


def recipe_settings(data: Path, train_args: list[str]) -> dict:
    """The preset, image size and batch size the runs train with (the CLI's own resolution of the flags)."""
    args = build_parser().parse_args(["train", "--data", str(data), *train_args])
    config = config_from_args(args)
    return {"preset": config.model.preset, "image_size": config.model.image_size,
            "batch_size": config.train.batch_size}


def measure(data: Path, minutes: float, train_args: list[str], runs_dir: str, threads: int, dataset) -> BudgetPoint:
    run = ours(data, minutes, train_args, runs_dir, f"budget-{minutes:g}", threads)
    row = score(f"{minutes:g} min", run, dataset, None)
    rate = training_rate(RunFiles(run["run_dir"])) or run["images"] / run["wall_s"]
    return BudgetPoint(minutes=minutes, steps=run["steps"], images_per_s=round(rate, 1), psnr=row["psnr"],
                       ssim=row["ssim"], same_person_rate=row["same_person_rate"],
                       sample_face_detect=row["sample_face_detect"], sample_face_fd=row["sample_face_fd"])


def markdown_table(curve: BudgetCurve) -> str:
    """The README's table of a curve."""
    lines = ["| " + " | ".join(HEADINGS) + " |", "|" + "---|" * len(HEADINGS)]
    for point in curve.points:
        cells = [getattr(point, column) for column in COLUMNS]
        lines.append("| " + " | ".join("–" if c is None else f"{c:,}" if isinstance(c, int) else f"{c:g}"
                                       for c in cells) + " |")
    m = curve.machine
    lines.append(f"\nMeasured {curve.date} on {curve.data} ({curve.preset} preset, {curve.image_size} px, batch "
                 f"{curve.batch_size}), {m.get('threads')} threads on {m.get('cores')} cores ({m.get('processor')}), "
                 f"torch {m.get('torch')}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 3, 10])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-args", default="", help="extra `vae-train train` flags for every run (quoted)")
    parser.add_argument("--out", type=Path, default=None, help="write the curve as JSON to this file")
    parser.add_argument("--table", type=Path, default=None, help="print the README table of this curve file, only")
    parser.add_argument("--keep-runs", type=Path, default=None,
                        help="train into this runs folder and keep the runs (default: a temporary folder)")
    args = parser.parse_args()
    if args.table is not None:
        print(markdown_table(read_budget_curve(args.table)))
        return
    torch.set_num_threads(args.threads)
    train_args = shlex.split(args.train_args)
    settings = recipe_settings(args.data, train_args)
    dataset = load_dataset(DataConfig(source=str(args.data), image_size=settings["image_size"]))
    points = []
    with tempfile.TemporaryDirectory() as temporary:
        runs_dir = str(args.keep_runs or temporary)
        for minutes in sorted(args.minutes):
            print(f"training {settings['preset']} for {minutes:g} min...", file=sys.stderr)
            points.append(measure(args.data, minutes, train_args, runs_dir, args.threads, dataset))
    curve = BudgetCurve(**settings, data=args.data.resolve().name, date=datetime.date.today().isoformat(),
                        machine=machine(args.threads), points=tuple(points))
    print(markdown_table(curve))
    if args.out is not None:
        text = json.dumps(curve.to_dict(), indent=1) + "\n"
        write_atomically(args.out, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    print(json.dumps({"bench": "budget_curve", **curve.to_dict()}))


if __name__ == "__main__":
    main()
