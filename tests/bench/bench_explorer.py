"""Benchmark: explorer responsiveness. Slider latency (value change -> new face painted) and 8x8 sample-grid draw time.

Run:  python tests/bench/bench_explorer.py [--checkpoint PATH] [--moves 200] [--grids 20] [--threads N]
Without --checkpoint it uses the bundled checkpoint, or else an untrained default-preset (64 px) model, which
decodes exactly as fast as a trained one. Prints a table and one JSON line. Targets (p95 < 8 ms idle, grid < 100 ms)
live in the issue tracker, not in an assertion.

This is the bare ExplorerPanel, no training. tests/bench/bench_gui.py measures the same in the main window, idle and
while a run trains (`--only slider_idle,slider_training,grid_draw`), with the helpers below.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from trainer.training.checkpoint import make_payload, save_checkpoint  # noqa: E402
from trainer.config import DataConfig, RunConfig  # noqa: E402
from trainer.models.networks import build_model  # noqa: E402
from trainer.models.presets import preset_config  # noqa: E402
from trainer.resources import default_checkpoint  # noqa: E402

IDLE_GAP_S = 0.03          # pause between slider moves: "idle" latency, not a drag burst
WAKE_MS = 20               # wait_for wakes at least this often to check its deadline


# ---------------------------------------------------------------- the checkpoint

def untrained_checkpoint(folder: Path) -> Path:
    """A default-preset 64 px VAE with random weights, on a small synthetic data set (quick to encode)."""
    config = RunConfig(model=preset_config("default"),
                       data=DataConfig(synthetic_count=600, cache_dir=str(folder / "cache")))
    path = folder / "bench.pt"
    save_checkpoint(path, make_payload(config, build_model(config.model), step=0))
    return path


def choose_checkpoint(given: Path | None, scratch: Path) -> tuple[Path, str]:
    """The checkpoint to explore and which kind it is: "given", "bundled" or "untrained-default"."""
    if given is not None:
        return given, "given"
    bundled = default_checkpoint()
    if bundled is not None:
        return bundled, "bundled"
    return untrained_checkpoint(scratch), "untrained-default"


def model_description(panel) -> str:
    model = panel.state.model.config
    return f"{model.preset} {model.image_size}px {model.latent_dim}-d"


# ---------------------------------------------------------------- waiting without spinning

def wait_for(app: QApplication, done, timeout_s: float = 10.0, what: str = "the explorer to repaint") -> None:
    """Run the event loop until done() is true. It sleeps between events, as app.exec() does: a busy
    processEvents() loop would take a core from a training thread and inflate the GUI thread's CPU time."""
    deadline = time.perf_counter() + timeout_s
    wake = QTimer()
    wake.start(WAKE_MS)
    try:
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        wake.stop()


def wait_for_latents(app: QApplication, panel, timeout_s: float = 300.0) -> None:
    """Wait until the panel's background work after opening a checkpoint has finished: the encoding of the data set
    and the nearest-faces index of the training images. Idle latency is measured with nothing else running."""
    wait_for(app, lambda: panel.state.data is not None, timeout_s, "the test images to be encoded")
    from vae_gui.explorer.neighbours_strip import INDEX_CHANNEL

    strip = panel.neighbours_strip
    wait_for(app, lambda: strip.ready or not strip.tasks.is_busy(INDEX_CHANNEL), timeout_s,
             "the training faces to be indexed")


# ---------------------------------------------------------------- measurements

def slider_latencies(app: QApplication, panel, moves: int, seed: int = 0) -> tuple[list[float], list[float]]:
    """Wall-clock and GUI-thread-CPU milliseconds from a slider value change to the new face painted."""
    rng = np.random.default_rng(seed)
    rows = panel.sliders_tab.column.rows
    view = panel.face_panel.view
    times, cpu = [], []
    for _ in range(moves):
        row = rows[int(rng.integers(len(rows)))]
        position = int(rng.integers(0, 1001))
        if position == row.slider.value():
            position = (position + 7) % 1001
        painted = view.paint_count
        decoded = panel.decoder.decode_count
        start, start_cpu = time.perf_counter(), time.thread_time()
        row.slider.setValue(position)
        wait_for(app, lambda: panel.decoder.decode_count > decoded and view.paint_count > painted)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        # Between moves the event loop runs, as in the app: work deferred until after the paint (the nearest
        # faces, the atlas marker) happens in the pause, not at the start of the next move.
        pause_end = time.perf_counter() + IDLE_GAP_S
        wait_for(app, lambda: time.perf_counter() >= pause_end, what="the pause between moves")
    return times, cpu


def grid_times(app: QApplication, panel, grids: int, size: int) -> tuple[list[float], list[float]]:
    """Wall-clock and GUI-thread-CPU milliseconds from "Resample" to the new grid painted."""
    samples = panel.samples_tab
    panel.tabs.setCurrentWidget(samples)
    samples.set_source("prior")
    samples.size.setValue(size)
    wait_for(app, lambda: len(samples.grid.images) == size * size)
    times, cpu = [], []
    for _ in range(grids):
        painted = samples.grid.paint_count
        start, start_cpu = time.perf_counter(), time.thread_time()
        samples.resample()
        wait_for(app, lambda: samples.grid.paint_count > painted)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        app.processEvents()
    return times, cpu


# ---------------------------------------------------------------- summaries

def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def latency_summary(times: list[float], cpu: list[float]) -> dict:
    """n, p50, p95, max (wall ms) and the median GUI-thread CPU ms."""
    return {"n": len(times), "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
            "max_ms": max(times), "gui_cpu_p50_ms": percentile(cpu, 50)}


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# ---------------------------------------------------------------- standalone run (bare panel)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--grids", type=int, default=20)
    parser.add_argument("--grid-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: the app's policy)")
    args = parser.parse_args()

    from vae_gui.app import create_application
    app = create_application(["bench_explorer"])
    from vae_gui.app import configure_torch_threads, start_preloading
    from vae_gui.explorer.panel import ExplorerPanel

    if args.threads:
        torch.set_num_threads(args.threads)
    else:
        configure_torch_threads()
    start_preloading().join()              # as the app does at start-up
    with tempfile.TemporaryDirectory() as scratch:
        path, kind = choose_checkpoint(args.checkpoint, Path(scratch))
        panel = ExplorerPanel()
        panel.resize(1400, 900)
        panel.show()
        if not panel.load_checkpoint(str(path)):
            raise SystemExit(f"cannot open {path}")
        wait_for_latents(app, panel)
        slider_latencies(app, panel, 10, seed=1)           # warm-up: first calls build kernels and caches
        slider, slider_cpu = slider_latencies(app, panel, args.moves)
        grid, grid_cpu = grid_times(app, panel, args.grids, args.grid_size)
        model = model_description(panel)
        panel.shutdown()

    rows = {"slider_idle": latency_summary(slider, slider_cpu), "grid_draw": latency_summary(grid, grid_cpu)}
    print(f"model: {model}; torch threads {torch.get_num_threads()}; {os.cpu_count()} CPUs, load average "
          f"{load_average():.1f}; checkpoint {kind}: {path}")
    print(f"{'measure':<14} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8}")
    for name, row in rows.items():
        print(f"{name:<14} {row['n']:>5} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} {row['max_ms']:>8.2f} "
              f"{row['gui_cpu_p50_ms']:>8.2f}")
    line = {"bench": "explorer", "model": model, "checkpoint": kind, "torch_threads": torch.get_num_threads(),
            "load_average": round(load_average(), 2), "grid_size": args.grid_size}
    for name, row in rows.items():
        line.update({f"{name}.{key}": round(value, 2) for key, value in row.items()})
    print(json.dumps(line))


if __name__ == "__main__":
    main()
