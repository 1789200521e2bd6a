"""GUI responsiveness and throughput benchmarks, run offscreen. Each measurement is one function; --only picks.

gui_training group:
  idle_lateness   lateness of a 5 ms QTimer in the idle main window (the baseline)
  cli_training    train() called directly, no Qt: steady-state images/s (torch's default threads, and the GUI's)
  thread_lateness the same timer while train() runs on a plain thread with no GUI updates (the floor)
  gui_training    the main window with a run in progress: 5 ms QTimer lateness (max, p99) and images/s

Targets (2-core machine): lateness max < 50 ms, p99 < 20 ms; GUI images/s >= 80% of the CLI's at its default
threads (`vs_cli`; the GUI uses vae_gui.training.worker.ThreadPolicy).

explorer group (the main window on the Explore tab, the bundled checkpoint, else an untrained default-preset one):
  slider_idle     slider value change -> new face painted: p50, p95 (wall ms) and the GUI thread's CPU ms
  slider_training the same while a run started from the Train tab (the bench config) trains in the same app
  grid_draw       "Resample" -> a fresh 8x8 prior sample grid painted

Targets (2-core machine): slider p95 < 8 ms idle and < 16 ms while training; 8x8 grid < 100 ms.

    python tests/bench/bench_gui.py                                   # default preset, 64 px
    python tests/bench/bench_gui.py --image-size 32 --base-channels 16 --steps 40   # a short run
    python tests/bench/bench_gui.py --only idle_lateness,gui_training
    python tests/bench/bench_gui.py --only slider_idle,slider_training,grid_draw --explorer-threads 2

To add a measurement (e.g. the explorer's slider latency): write `def measure_x(ctx: BenchContext) -> dict`,
register it in MEASUREMENTS with its bench group; main prints its rows and one JSON line per group.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))       # bench_explorer, when imported from elsewhere

import torch  # noqa: E402

from trainer.config import DataConfig, RunConfig, TrainConfig  # noqa: E402
from trainer.training.events import StepMetrics  # noqa: E402
from trainer.training.loop import train  # noqa: E402
from trainer.models.presets import preset_config  # noqa: E402

TIMER_INTERVAL_MS = 5
TORCH_DEFAULT_THREADS = torch.get_num_threads()     # before anything changes it (set_num_threads is global)


@dataclass
class BenchContext:
    args: argparse.Namespace
    work_dir: Path
    results: dict[str, dict] = field(default_factory=dict)     # measurement name -> its numbers
    _app: object = None
    _checkpoint: tuple[Path, str] | None = None                  # the explorer's: path, kind

    @property
    def checkpoint(self) -> tuple[Path, str]:
        """The checkpoint the explorer measurements open, and which kind it is (made on first use)."""
        if self._checkpoint is None:
            from bench_explorer import choose_checkpoint
            self._checkpoint = choose_checkpoint(self.args.checkpoint, self.work_dir)
        return self._checkpoint

    @property
    def app(self):
        """The QApplication, created on first use (the CLI measurement needs none)."""
        if self._app is None:
            from vae_gui.app import create_application, start_preloading
            self._app = create_application(["bench_gui"])
            start_preloading().join()          # as the app does at start-up
        return self._app


# ---------------------------------------------------------------- helpers

def bench_config(ctx: BenchContext, run_name: str, threads: int) -> RunConfig:
    """The benchmark's run config, as the GUI trains it (live previews included), for both paths."""
    from vae_gui.training.panel import gui_run_config

    a = ctx.args
    model = preset_config(a.preset, image_size=a.image_size, base_channels=a.base_channels,
                          latent_dim=a.latent_dim)
    data = DataConfig(source="synthetic", image_size=a.image_size, synthetic_count=a.synthetic_count,
                      cache_dir=str(ctx.work_dir / "cache"))
    # max_steps well inside the first epoch: no validation pass lands inside the timed window.
    tc = TrainConfig(epochs=1, max_steps=a.warmup + a.steps, batch_size=a.batch, threads=threads,
                     final_eval=False, runs_dir=str(ctx.work_dir / "runs"), run_name=run_name)
    return gui_run_config(RunConfig(model=model, data=data, train=tc))


def steady_images_per_s(samples: list[tuple[float, int]], warmup: int, batch: int) -> float:
    """Images/s between the first sample at or after step `warmup` and the last sample."""
    timed = [(t, s) for t, s in samples if s >= warmup]
    if len(timed) < 2 or timed[-1][0] <= timed[0][0]:
        return float("nan")
    return (timed[-1][1] - timed[0][1]) * batch / (timed[-1][0] - timed[0][0])


class LatenessProbe:
    """A 5 ms precise QTimer; lateness = interval between ticks minus 5 ms."""

    def __init__(self, interval_ms: int = TIMER_INTERVAL_MS):
        from PySide6.QtCore import Qt, QTimer
        self.interval_ms = interval_ms
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.ticks.clear()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def stats(self, start: float = -np.inf, end: float = np.inf) -> dict:
        ticks = np.array([t for t in self.ticks if start <= t <= end])
        if len(ticks) < 3:
            return {"lateness_max_ms": float("nan"), "lateness_p99_ms": float("nan"), "ticks": len(ticks)}
        late = np.maximum(np.diff(ticks) * 1000 - self.interval_ms, 0)
        return {"lateness_max_ms": float(late.max()), "lateness_p99_ms": float(np.percentile(late, 99)),
                "lateness_mean_ms": float(late.mean()), "ticks": len(ticks)}


def run_event_loop(app, seconds: float, until: Callable[[], bool] = lambda: False) -> None:
    """Run the real Qt event loop (as app.exec() would) for `seconds`, or until `until()` turns true."""
    from PySide6.QtCore import QEventLoop, QTimer
    loop = QEventLoop()
    check = QTimer()
    check.timeout.connect(lambda: loop.quit() if until() else None)
    check.start(50)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    check.stop()


def open_main_window(ctx: BenchContext, checkpoint: Path | None = None):
    """The main window, painted, with the explorer's background encoding of its checkpoint (the bundled one by
    default) finished: that encoding must not overlap a measurement, nor be cut short when the window closes."""
    from bench_explorer import wait_for_latents

    from vae_gui.main_window import MainWindow
    ctx.app
    window = MainWindow(checkpoint=checkpoint, start_on_training=checkpoint is None)
    window.resize(1400, 900)
    window.show()
    run_event_loop(ctx.app, 1.0)          # first paint, explorer start-up
    if window.explorer_panel.state.has_checkpoint:
        wait_for_latents(ctx.app, window.explorer_panel)
    return window


# ---------------------------------------------------------------- measurements

def measure_idle_lateness(ctx: BenchContext) -> dict:
    window = open_main_window(ctx)
    probe = LatenessProbe()
    probe.start()
    run_event_loop(ctx.app, ctx.args.idle_seconds)
    probe.stop()
    window.close()
    return probe.stats()


def measure_cli_training(ctx: BenchContext) -> dict:
    """train() in this thread, no Qt: with torch's default thread count and with the GUI's."""
    from vae_gui.training.worker import gui_torch_threads

    result = {}
    for label, threads in (("default_threads", TORCH_DEFAULT_THREADS), ("gui_threads", gui_torch_threads())):
        samples: list[tuple[float, int]] = []

        def record(event) -> None:
            if isinstance(event, StepMetrics):
                samples.append((time.perf_counter(), event.step))

        torch.set_num_threads(threads)
        outcome = train(bench_config(ctx, f"cli-{label}", threads), events=record)
        assert outcome.status == "completed", outcome.message
        result[f"images_per_s_{label}"] = steady_images_per_s(samples, ctx.args.warmup, ctx.args.batch)
        result[f"threads_{label}"] = threads
    result["images_per_s"] = max(result["images_per_s_default_threads"], result["images_per_s_gui_threads"])
    return result


def measure_thread_lateness(ctx: BenchContext) -> dict:
    """The floor: the idle main window while train() runs on a plain thread whose events go nowhere. What the GUI
    adds on top of this is the cost of showing the run; this part is the CPU and GIL share training takes."""
    import threading

    from vae_gui.training.worker import gui_torch_threads

    window = open_main_window(ctx)
    threads = ctx.args.gui_threads or gui_torch_threads()
    config = bench_config(ctx, "thread", threads)
    outcome: list = []
    samples: list[tuple[float, int]] = []

    def record(event) -> None:
        if isinstance(event, StepMetrics):
            samples.append((time.perf_counter(), event.step))

    worker = threading.Thread(target=lambda: outcome.append(train(config, events=record)), daemon=True)
    probe = LatenessProbe()
    probe.start()
    worker.start()
    run_event_loop(ctx.app, ctx.args.timeout, until=lambda: bool(outcome))
    probe.stop()
    worker.join()
    window.close()
    result = probe.stats(start=samples[0][0], end=samples[-1][0])
    result["images_per_s"] = steady_images_per_s(samples, ctx.args.warmup, ctx.args.batch)
    return result


def measure_gui_training(ctx: BenchContext) -> dict:
    """The main window offscreen, a run started from the Train tab, a 5 ms timer measuring event-loop lateness."""
    window = open_main_window(ctx)
    panel = window.training_panel
    samples: list[tuple[float, int]] = []
    finished: list = []
    panel.state.progress_changed.connect(      # a start clears the progress first: no step yet
        lambda: panel.state.latest is not None and samples.append((time.perf_counter(), panel.state.latest.step)))
    panel.run_finished.connect(finished.append)
    panel.error_shown.connect(lambda message: print("error:", message, file=sys.stderr))
    panel.setup_form.set_config(bench_config(ctx, "gui", threads=ctx.args.gui_threads))
    probe = LatenessProbe()
    probe.start()
    started = panel.start_training()
    assert started, panel.error_banner.message
    run_event_loop(ctx.app, ctx.args.timeout, until=lambda: bool(finished))
    probe.stop()
    assert finished and finished[0].status == "completed", finished[0].message if finished else "timed out"
    first_step = next((t for t, s in samples if s >= 1), samples[0][0])
    result = probe.stats(start=first_step, end=samples[-1][0])
    result["images_per_s"] = steady_images_per_s(samples, ctx.args.warmup, ctx.args.batch)
    result["threads"] = panel.state.started.config["train"]["threads"]      # the worker thread's, at the start
    result["snapshots"] = len(panel.state.snapshots)
    result["snapshot_kb"] = panel.state.snapshots.stored_bytes() / max(1, len(panel.state.snapshots)) / 1024
    start_close = time.perf_counter()
    window.close()
    result["close_s"] = time.perf_counter() - start_close
    policy = panel.runner.policy
    result["thread_policy"] = (f"{policy.full} idle / {policy.busy} busy, {policy.switches} switches"
                               if policy is not None else "fixed")
    cli = ctx.results.get("cli_training")
    if cli:         # against the CLI at torch's default threads: what `vae-train train` does
        result["vs_cli"] = result["images_per_s"] / cli["images_per_s_default_threads"]
    return result


def set_explorer_threads(ctx: BenchContext) -> int:
    """Torch threads of the GUI thread, where the explorer decodes: --explorer-threads, else the app's policy.
    Set again before each explorer measurement: cli_training changes this thread's count."""
    from vae_gui.app import configure_torch_threads

    if ctx.args.explorer_threads:
        torch.set_num_threads(ctx.args.explorer_threads)
        return ctx.args.explorer_threads
    return configure_torch_threads()


def open_explorer_window(ctx: BenchContext):
    """The main window on the Explore tab with the bench checkpoint encoded, after a few warm-up moves."""
    from bench_explorer import slider_latencies

    window = open_main_window(ctx, checkpoint=ctx.checkpoint[0])
    panel = window.explorer_panel
    assert panel.state.has_checkpoint, f"cannot open {ctx.checkpoint[0]}"
    window.tabs.setCurrentWidget(panel)
    slider_latencies(ctx.app, panel, 10, seed=1)          # the first decodes build kernels and caches
    return window


def explorer_context(ctx: BenchContext, panel, threads: int) -> dict:
    from bench_explorer import load_average, model_description
    return {"checkpoint": ctx.checkpoint[1], "model": model_description(panel), "torch_threads": threads,
            "load_average": load_average()}


def measure_slider_idle(ctx: BenchContext) -> dict:
    from bench_explorer import latency_summary, slider_latencies

    threads = set_explorer_threads(ctx)
    window = open_explorer_window(ctx)
    panel = window.explorer_panel
    result = latency_summary(*slider_latencies(ctx.app, panel, ctx.args.moves))
    result.update(explorer_context(ctx, panel, threads))
    window.close()
    return result


def measure_slider_training(ctx: BenchContext) -> dict:
    """Slider latency while a run started from the Train tab trains in the same app: the user switched to
    Explore after starting it. The run is long enough to outlast the moves, then stopped."""
    from bench_explorer import latency_summary, slider_latencies, wait_for

    threads = set_explorer_threads(ctx)
    window = open_explorer_window(ctx)
    training, explorer = window.training_panel, window.explorer_panel
    config = bench_config(ctx, "explorer-training", threads=ctx.args.gui_threads)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=1000, max_steps=0))
    finished: list = []
    training.run_finished.connect(finished.append)
    training.error_shown.connect(lambda message: print("error:", message, file=sys.stderr))
    assert training.start_training(config), training.error_banner.message

    def trained_steps() -> int:
        return training.state.latest.step if training.state.latest is not None else 0

    wait_for(ctx.app, lambda: trained_steps() >= ctx.args.warmup or bool(finished), ctx.args.timeout,
             "the training run's first steps")
    window.tabs.setCurrentWidget(explorer)
    first_step, start = trained_steps(), time.perf_counter()
    times, cpu = slider_latencies(ctx.app, explorer, ctx.args.moves)
    steps, seconds = trained_steps() - first_step, time.perf_counter() - start
    assert training.is_training, "the run ended before the slider moves did: the numbers are not under load"
    result = latency_summary(times, cpu)
    result.update(explorer_context(ctx, explorer, threads))
    result["training_threads"] = training.state.started.config["train"]["threads"]
    result["training_images_per_s"] = steps * ctx.args.batch / seconds
    training.stop_training()
    # the runner's thread ends just after run_finished; closing before that would ask "stop the run?"
    wait_for(ctx.app, lambda: bool(finished) and not training.runner.is_running, ctx.args.timeout, "the run to stop")
    window.close()
    return result


def measure_grid_draw(ctx: BenchContext) -> dict:
    from bench_explorer import grid_times, latency_summary

    threads = set_explorer_threads(ctx)
    window = open_explorer_window(ctx)
    panel = window.explorer_panel
    result = latency_summary(*grid_times(ctx.app, panel, ctx.args.grids, ctx.args.grid_size))
    result.update(explorer_context(ctx, panel, threads))
    result["grid_size"] = ctx.args.grid_size
    window.close()
    return result


@dataclass(frozen=True)
class Measurement:
    name: str
    bench: str                      # the JSON line it reports in
    run: Callable[[BenchContext], dict]


MEASUREMENTS = [
    Measurement("idle_lateness", "gui_training", measure_idle_lateness),
    Measurement("cli_training", "gui_training", measure_cli_training),
    Measurement("thread_lateness", "gui_training", measure_thread_lateness),
    Measurement("gui_training", "gui_training", measure_gui_training),
    Measurement("slider_idle", "explorer", measure_slider_idle),
    Measurement("slider_training", "explorer", measure_slider_training),
    Measurement("grid_draw", "explorer", measure_grid_draw),
]


# ---------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated measurements: "
                        + ", ".join(m.name for m in MEASUREMENTS))
    parser.add_argument("--preset", default="default")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--base-channels", type=int, default=None, help="override the preset's (smaller: faster)")
    parser.add_argument("--latent-dim", type=int, default=None)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40, help="timed steps after the warm-up")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--synthetic-count", type=int, default=None,
                        help="synthetic faces (default: enough that the timed steps fit in one epoch)")
    parser.add_argument("--gui-threads", type=int, default=0, help="torch threads in the GUI (0: its choice)")
    parser.add_argument("--idle-seconds", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a GUI run may take")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="explorer checkpoint (default: the bundled one, else an untrained default-preset one)")
    parser.add_argument("--moves", type=int, default=200, help="timed slider moves per slider measurement")
    parser.add_argument("--grids", type=int, default=20, help="timed grid redraws")
    parser.add_argument("--grid-size", type=int, default=8)
    parser.add_argument("--explorer-threads", type=int, default=0,
                        help="torch threads in the GUI thread (0: the app's policy, vae_gui.app)")
    args = parser.parse_args(argv)
    if args.synthetic_count is None:
        args.synthetic_count = int((args.warmup + args.steps + 2) * args.batch / 0.9) + 10
    known = {m.name for m in MEASUREMENTS}
    args.selected = [name for name in args.only.split(",") if name] or [m.name for m in MEASUREMENTS]
    unknown = set(args.selected) - known
    if unknown:
        parser.error(f"unknown measurement(s) {', '.join(sorted(unknown))}; choose from {', '.join(sorted(known))}")
    return args


def print_table(results: dict[str, dict]) -> None:
    print(f"{'measurement':<16} {'metric':<32} {'value':>12}")
    for name, values in results.items():
        for metric, value in values.items():
            shown = f"{value:12.2f}" if isinstance(value, float) else f"{value!s:>12}"
            print(f"{name:<16} {metric:<32} {shown}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_gui_") as tmp:
        # Keep the user's settings and caches untouched.
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        os.environ["VAE_EXPLORER_CACHE"] = str(Path(tmp) / "cache")
        ctx = BenchContext(args=args, work_dir=Path(tmp))
        for measurement in MEASUREMENTS:
            if measurement.name in args.selected:
                print(f"running {measurement.name}…", file=sys.stderr, flush=True)
                ctx.results[measurement.name] = measurement.run(ctx)
        print_table(ctx.results)
        config = {"preset": args.preset, "image_size": args.image_size, "base_channels": args.base_channels,
                  "batch": args.batch, "steps": args.steps, "cpus": os.cpu_count()}
        for bench in dict.fromkeys(m.bench for m in MEASUREMENTS if m.name in args.selected):
            line = {"bench": bench, **config}
            for m in MEASUREMENTS:
                for metric, value in ctx.results.get(m.name, {}).items():
                    if m.bench == bench:
                        line[f"{m.name}.{metric}"] = value
            print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
