"""Benchmark: explorer responsiveness. Slider latency (value change -> new face painted) and 8x8 sample-grid draw time.

Run:  python tests/bench/bench_explorer.py [--checkpoint PATH] [--moves 200] [--grids 20] [--threads N]
Without --checkpoint it uses the bundled checkpoint, or else an untrained default-preset (64 px) model, which
decodes exactly as fast as a trained one. Prints a table and one JSON line. Targets (p95 < 8 ms idle, grid < 100 ms)
live in the issue tracker, not in an assertion.
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

from trainer.checkpoint import make_payload, save_checkpoint  # noqa: E402
from trainer.config import DataConfig, RunConfig  # noqa: E402
from trainer.models import build_model  # noqa: E402
from trainer.presets import preset_config  # noqa: E402
from trainer.resources import default_checkpoint  # noqa: E402

IDLE_GAP_S = 0.03          # pause between slider moves: "idle" latency, not a drag burst


def untrained_checkpoint(folder: Path) -> Path:
    """A default-preset 64 px VAE with random weights, on a small synthetic data set (quick to encode)."""
    config = RunConfig(model=preset_config("default"),
                       data=DataConfig(synthetic_count=600, cache_dir=str(folder / "cache")))
    path = folder / "bench.pt"
    save_checkpoint(path, make_payload(config, build_model(config.model), step=0))
    return path


def wait_for(app: QApplication, done, timeout_s: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        app.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError("the explorer did not repaint in time")


def slider_latencies(app: QApplication, panel, moves: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process-CPU milliseconds from a slider value change to the new face painted."""
    rng = np.random.default_rng(0)
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
        start, start_cpu = time.perf_counter(), time.process_time()
        row.slider.setValue(position)
        wait_for(app, lambda: panel.decoder.decode_count > decoded and view.paint_count > painted)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        time.sleep(IDLE_GAP_S)
        app.processEvents()
    return times, cpu


def grid_times(app: QApplication, panel, grids: int, size: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process-CPU milliseconds from "Resample" to the new grid painted."""
    samples = panel.samples_tab
    panel.tabs.setCurrentWidget(samples)
    samples.set_source("prior")
    samples.size.setValue(size)
    wait_for(app, lambda: len(samples.grid.images) == size * size)
    times, cpu = [], []
    for _ in range(grids):
        painted = samples.grid.paint_count
        start, start_cpu = time.perf_counter(), time.process_time()
        samples.resample()
        wait_for(app, lambda: samples.grid.paint_count > painted)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        app.processEvents()
    return times, cpu


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--grids", type=int, default=20)
    parser.add_argument("--grid-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    app = QApplication.instance() or QApplication([])
    from vae_gui.explorer.panel import ExplorerPanel

    with tempfile.TemporaryDirectory() as scratch:
        path = args.checkpoint or default_checkpoint() or untrained_checkpoint(Path(scratch))
        panel = ExplorerPanel()
        panel.resize(1400, 900)
        panel.show()
        loop = QEventLoop()
        panel.latents_ready.connect(loop.quit)
        QTimer.singleShot(300_000, loop.quit)
        if not panel.load_checkpoint(str(path)):
            raise SystemExit(f"cannot open {path}")
        loop.exec()
        slider_latencies(app, panel, 10)                   # warm-up: first calls build kernels and caches
        slider, slider_cpu = slider_latencies(app, panel, args.moves)
        grid, grid_cpu = grid_times(app, panel, args.grids, args.grid_size)
        model = panel.state.model.config
        panel.shutdown()

    grid_name = f"{args.grid_size}x{args.grid_size} grid drawn"
    rows = [("slider -> face painted (idle)", slider, slider_cpu), (grid_name, grid, grid_cpu)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model: {model.preset} {model.image_size}px, {model.latent_dim}-d latent; torch threads "
          f"{torch.get_num_threads()}; {os.cpu_count()} CPUs, load average {load:.1f}; checkpoint {path}")
    print(f"{'measure':<32} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8}")
    for name, values, cpu in rows:
        print(f"{name:<32} {len(values):>5} {percentile(values, 50):>8.2f} {percentile(values, 95):>8.2f} "
              f"{max(values):>8.2f} {percentile(cpu, 50):>8.2f}")
    print(json.dumps({"bench": "explorer", "image_size": model.image_size, "latent_dim": model.latent_dim,
                      "torch_threads": torch.get_num_threads(), "load_average": round(load, 2),
                      "slider_p50_ms": round(percentile(slider, 50), 2),
                      "slider_p95_ms": round(percentile(slider, 95), 2),
                      "slider_cpu_p50_ms": round(percentile(slider_cpu, 50), 2),
                      "grid_p50_ms": round(percentile(grid, 50), 2), "grid_p95_ms": round(percentile(grid, 95), 2),
                      "grid_cpu_p50_ms": round(percentile(grid_cpu, 50), 2),
                      "grid_size": args.grid_size, "moves": len(slider), "grids": len(grid)}))


if __name__ == "__main__":
    main()
