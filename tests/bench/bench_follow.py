"""Benchmark: following a run. A checkpoint is rewritten in a run folder the explorer follows; how long until the new
model is shown, and how late the GUI event loop runs meanwhile.

Run:  python tests/bench/bench_follow.py [--checkpoint PATH] [--reloads 5]
Without --checkpoint it uses the bundled checkpoint (the default preset), else an untrained default-preset model.
Each reload: the checkpoint is saved again atomically with slightly changed weights and no latent statistics (as
training does until its final evaluation), then the follower's poll runs at once (in the app it runs every second, so add up to 1 s of waiting to what a user sees).

  follow_reload_ms       poll -> the new model shown (read off the GUI thread + the swap on it), median
  follow_max_stall_ms    the largest lateness of a 5 ms QTimer from the poll until 200 ms after the swap
  follow_after_stall_ms  the same while the new model's codes and statistics are computed in the background, until
                         they arrive and are shown (the sliders get the new ranges, the gallery the new codes)

Targets (issue 13): reload < 300 ms with no stall over 50 ms. Prints a table and one JSON line.
tests/bench/bench_atlas.py imports measure_follow_reload(bench) (or measure_follow) for its own JSON line.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from trainer.training.checkpoint import read_checkpoint, save_checkpoint  # noqa: E402

SETTLE_S = 0.2                # after the swap: the face decode and repaints it causes count as the reload's


def make_run(folder: Path, checkpoint: Path) -> Path:
    """A run folder holding `checkpoint` as its last.pt (the follower needs nothing else)."""
    run = folder / "followed-run"
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    payload = read_checkpoint(checkpoint)
    # As a run writes them mid-training: no latent statistics or evaluation yet (the final evaluation adds them).
    payload.pop("latent_stats", None)
    payload.pop("eval", None)
    (run / "config.json").write_text(json.dumps(payload["config"]) + "\n")
    save_checkpoint(run / "checkpoints" / "last.pt", payload)
    return run


def write_next_checkpoint(run: Path, payload: dict, step: int) -> None:
    """What a training run does: new weights (here: a tiny change), a later step, an atomic write."""
    state = payload["model_state"]
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name] = state[name] * 1.001
    payload["step"] = step
    save_checkpoint(run / "checkpoints" / "last.pt", payload)


def measure_follow(app=None, checkpoint: Path | None = None, reloads: int = 5, panel=None,
                   work_dir: Path | None = None) -> dict:
    """Follow a run folder with `checkpoint` rewritten `reloads` times; returns the numbers above.

    `panel`: an ExplorerPanel to use (e.g. the main window's, with the atlas shown); by default a bare one."""
    from bench_explorer import choose_checkpoint, wait_for
    from bench_gui import LatenessProbe
    from PySide6.QtWidgets import QApplication

    app = app or QApplication.instance() or QApplication([])
    scratch = Path(work_dir or tempfile.mkdtemp(prefix="bench_follow_"))
    checkpoint, kind = choose_checkpoint(checkpoint, scratch)
    run = make_run(scratch, checkpoint)
    own_panel = panel is None
    if own_panel:
        from vae_gui.explorer.panel import ExplorerPanel
        panel = ExplorerPanel()
        panel.resize(1400, 900)
        panel.show()
    follow = panel.follow
    shown: list[float] = []
    follow.reloaded.connect(lambda _step: shown.append(time.perf_counter()))
    follow.timer.setInterval(3_600_000)                  # the benchmark polls itself, right after each write
    assert follow.follow(run), "the run folder could not be followed"
    # The first read (not timed): shown, or skipped when the panel already shows the same weights.
    wait_for(app, lambda: follow.follower.loaded is not None and follow._reading is None, 120,
             "the first checkpoint to be read")
    wait_for(app, lambda: not panel.checkpoints.encoding, 300, "the first encoding")

    payload = read_checkpoint(run / "checkpoints" / "last.pt")
    probe = LatenessProbe()
    reload_ms, stall_ms, after_ms = [], [], []
    for index in range(reloads):
        write_next_checkpoint(run, payload, step=int(payload.get("step", 0)) + 100)
        shown.clear()
        probe.start()
        started = time.perf_counter()
        follow.poll()
        wait_for(app, lambda: shown, 60, "the new checkpoint to be shown")
        swapped = shown[0]
        settle_end = time.perf_counter() + SETTLE_S
        wait_for(app, lambda: time.perf_counter() >= settle_end, 10, "the reload to settle")
        settled = time.perf_counter()
        wait_for(app, lambda: not panel.checkpoints.encoding, 300, "the background encoding")
        probe.stop()
        reload_ms.append((swapped - started) * 1000)
        stall_ms.append(probe.stats(started, settled)["lateness_max_ms"])
        after_ms.append(probe.stats(settled, time.perf_counter())["lateness_max_ms"])
    model = panel.state.model.config
    result = {"checkpoint": kind, "model": f"{model.preset} {model.image_size}px {model.latent_dim}-d",
              "reloads": reloads, "follow_reload_ms": round(float(np.median(reload_ms)), 1),
              "follow_reload_max_ms": round(float(np.max(reload_ms)), 1),
              "follow_max_stall_ms": round(float(np.nanmax(stall_ms)), 1),
              "follow_after_stall_ms": round(float(np.nanmax(after_ms)), 1), "torch_threads": torch.get_num_threads()}
    follow.stop()
    if own_panel:
        panel.shutdown()
        panel.close()
    return result


def measure_follow_reload(bench) -> dict:
    """tests/bench/bench_atlas.py's entry point: `bench` has .app, .panel (with the atlas shown) and .args."""
    args = bench.args
    return measure_follow(bench.app, getattr(args, "checkpoint", None), getattr(args, "reloads", 3), bench.panel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--reloads", type=int, default=5)
    args = parser.parse_args()
    from vae_gui.app import configure_torch_threads, create_application, start_preloading
    app = create_application(["bench_follow"])
    configure_torch_threads()
    start_preloading().join()          # as the app does at start-up
    result = measure_follow(app, args.checkpoint, args.reloads)
    for key, value in result.items():
        print(f"{key:24s} {value:.1f}" if isinstance(value, float) else f"{key:24s} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
