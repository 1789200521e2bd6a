"""Benchmark: a big image folder from nothing to the first training step, cached, and after one-file edits.

Run:  python tests/bench/bench_data.py --images 100000
Builds (once, then reused) a folder of `--images` PNG files under /tmp: `--distinct` different 64x64 synthetic
faces repeated under that many names, in nested folders. Then, each in a fresh process (as a user starts `vae-train
train` or the app), it measures the time from the start of the data load to the first training step (and, apart,
the imports before it) with an empty cache, with the cache built, and after each of five edits (a file added,
deleted, touched, renamed, rewritten); the training process's memory up to its first step and after it touched
every training image once, as an epoch does; and the cache's size on disk after the five edits. Prints a table and
one JSON line (first_step_s, cached_first_step_s, peak_rss_gb, edit_one_file_s: the slowest of added / deleted /
touched / renamed, cache_gb_after_5_edits). Targets live in the issue tracker (issue 22), not in assertions. Take
the figures on an idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = ".bench-folder.json"


def face_png_bytes(count: int, start: int = 0) -> list[bytes]:
    """PNG files of `count` distinct synthetic faces (64 px)."""
    import io

    from PIL import Image

    from trainer.data.synthetic import make_synthetic_faces
    images, _ = make_synthetic_faces(count, seed=0, image_size=64, start=start)
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image.transpose(1, 2, 0)).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    return encoded


def file_name(i: int) -> str:
    return f"d{i // 1000:03d}/e{i // 100 % 10}/face_{i:06d}.png"


def build_folder(folder: Path, images: int, distinct: int) -> float:
    """Write the folder unless a complete one of the same shape is there; returns the seconds spent."""
    wanted = {"images": images, "distinct": distinct, "version": 1}
    marker = folder / MARKER
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return 0.0
    start = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    faces = face_png_bytes(distinct)
    for i in range(images):
        path = folder / file_name(i)
        if i % 100 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(faces[i % distinct])
    marker.write_text(json.dumps(wanted))
    return time.perf_counter() - start


def cache_bytes(cache: Path) -> int:
    """Bytes the cache folder takes on disk (allocated blocks where the OS reports them)."""
    total = 0
    for root, _, files in os.walk(cache):
        for name in files:
            info = os.lstat(os.path.join(root, name))
            total += getattr(info, "st_blocks", 0) * 512 or info.st_size
    return total


def run_child(folder: Path, cache: Path, runs: Path) -> dict:
    """One fresh process: load the folder, train until the first step; its figures."""
    launched = time.time()
    done = subprocess.run([sys.executable, __file__, "--child", str(folder), str(cache), str(runs)],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"the measured process failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["from_start_s"] = result.pop("first_step_wall") - launched
    result["first_step_s"] = result["load_s"] + result["setup_s"]
    return result


RSS_UNIT = 1 if sys.platform == "darwin" else 1024          # ru_maxrss: bytes on macOS, KiB elsewhere


def memory_status() -> dict[str, int]:
    """VmHWM (peak resident), RssAnon (private memory) and RssFile (mapped files, shared and reclaimable) in bytes;
    empty where /proc is missing."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    fields = (line.split() for line in lines)
    return {f[0].rstrip(":"): int(f[1]) * 1024 for f in fields if len(f) == 3 and f[2] == "kB"}


def child(folder: str, cache: str, runs: str) -> None:
    """The measured process: as `vae-train train --data FOLDER` does, up to its first training step."""
    import resource

    import torch

    from trainer.config import DataConfig, RunConfig, TrainConfig
    from trainer.data.datasets import load_dataset
    from trainer.training.control import TrainingControl
    from trainer.training.device import TrainImages
    from trainer.training.events import StepMetrics
    from trainer.training.loop import train

    imported = time.time()
    config = RunConfig(data=DataConfig(source=folder, cache_dir=cache),
                       train=TrainConfig(runs_dir=runs, run_name="bench", final_eval=False))
    data = load_dataset(config.data)
    loaded = time.time()
    control = TrainingControl()

    def on_event(event) -> None:
        if not isinstance(event, StepMetrics):
            return
        first_step = time.time()
        peak_to_step = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT
        images = TrainImages(data.train, torch.device("cpu"))      # an epoch touches every training image once
        order = torch.randperm(len(data.train))
        for start in range(0, len(order), 256):
            images.batch(order[start:start + 256])
        epoch = memory_status()
        print(json.dumps({"first_step_wall": first_step, "import_s": imported - started, "load_s": loaded - imported,
                          "n_train": len(data.train), "n_test": len(data.test), "peak_rss_gb": peak_to_step / 2**30,
                          "epoch_rss_gb": epoch.get("VmHWM", 0) / 2**30,
                          "epoch_private_gb": epoch.get("RssAnon", 0) / 2**30, "setup_s": first_step - loaded}),
              flush=True)
        os._exit(0)              # the figures are taken; the checkpoint a stop would save is not measured

    train(config, events=on_event, control=control, dataset=data)
    raise SystemExit("training ended before its first step")


def edit(folder: Path, kind: str, images: int, distinct: int) -> None:
    """One edit of one file, as a user makes it."""
    if kind == "added":
        (folder / "d000" / "e0" / "added.png").write_bytes(face_png_bytes(1, start=distinct)[0])
    elif kind == "deleted":
        (folder / file_name(images // 2)).unlink()
    elif kind == "touched":
        os.utime(folder / file_name(images // 3))
    elif kind == "renamed":
        (folder / file_name(images // 4)).rename(folder / "d000" / "e1" / "renamed.png")
    elif kind == "rewritten":
        (folder / file_name(images // 5)).write_bytes(face_png_bytes(1, start=distinct + 1)[0])


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000, help="file names in the folder")
    parser.add_argument("--distinct", type=int, default=2000, help="distinct faces among them")
    parser.add_argument("--folder", type=Path, default=None, help="where to build it (default: /tmp/vae-bench-data-N)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(ROOT))
    folder = args.folder or Path(tempfile.gettempdir()) / f"vae-bench-data-{args.images}"
    work = Path(tempfile.mkdtemp(prefix="vae-bench-cache-"))
    cache, runs = work / "cache", work / "runs"
    try:
        print(f"load average before: {load_average()}", file=sys.stderr)
        built = build_folder(folder, args.images, args.distinct)
        print(f"folder {folder}: {args.images:,} files ({'built in %.0f s' % built if built else 'reused'})",
              file=sys.stderr)
        rows = {"first run (no cache)": run_child(folder, cache, runs)}
        rows["cached"] = run_child(folder, cache, runs)
        for kind in ("added", "deleted", "touched", "renamed", "rewritten"):
            edit(folder, kind, args.images, args.distinct)
            rows[f"one file {kind}"] = run_child(folder, cache, runs)
        cache_gb = cache_bytes(cache) / 2**30
    finally:
        shutil.rmtree(work, ignore_errors=True)
        (folder / MARKER).unlink(missing_ok=True)            # edited: rebuilt next time
    print(f"{'':24} {'first step s':>12} {'load s':>7} {'setup+step s':>12} {'import s':>9} {'from start s':>12} "
          f"{'peak GB':>8} {'epoch GB':>9} {'private GB':>10}")
    for name, r in rows.items():
        print(f"{name:24} {r['first_step_s']:12.2f} {r['load_s']:7.2f} {r['setup_s']:12.2f} {r['import_s']:9.2f} "
              f"{r['from_start_s']:12.2f} {r['peak_rss_gb']:8.2f} {r['epoch_rss_gb']:9.2f} "
              f"{r['epoch_private_gb']:10.2f}")
    print("first step s (the JSON figures): from the start of the data load to the first training step, i.e. load s "
          "(load_dataset) + setup+step s (train() up to its first step: model, run folder, one forward and backward "
          "pass), as after pressing Start in the app; import s: Python, torch and the trainer, which a fresh process "
          "adds, included in from start s.\npeak GB: the training process's peak resident memory up to "
          "its first step; epoch GB: after it touched every training image once (memory-mapped pages count, although "
          "they are shared and reclaimable); private GB: its private memory then")
    print(f"cache on disk after 5 edits: {cache_gb:.2f} GB; load average after: {load_average()}")
    edits = [rows[f"one file {kind}"]["first_step_s"] for kind in ("added", "deleted", "touched", "renamed")]
    print(json.dumps({"bench": "data", "images": args.images, "distinct": args.distinct,
                      "first_step_s": round(rows["first run (no cache)"]["first_step_s"], 2),
                      "cached_first_step_s": round(rows["cached"]["first_step_s"], 2),
                      "peak_rss_gb": round(max(rows["first run (no cache)"]["peak_rss_gb"],
                                               rows["cached"]["peak_rss_gb"]), 2),
                      "edit_one_file_s": round(max(edits), 2),
                      "cache_gb_after_5_edits": round(cache_gb, 2),
                      "peak_rss_epoch_gb": round(rows["cached"]["epoch_rss_gb"], 2),
                      "private_rss_epoch_gb": round(rows["cached"]["epoch_private_gb"], 2),
                      "load_average": load_average()}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    started = time.time()
    main()
