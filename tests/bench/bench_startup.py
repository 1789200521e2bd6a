"""Benchmark: start-up. How long `vae-train --help` takes, and how long the app takes to show its splash screen and
a usable main window (window shown, bundled model open, the event loop turning).

Run:  python tests/bench/bench_startup.py [--repo PATH] [--runs 3]
`--repo` times another checkout (e.g. a `git worktree` of an older commit) with this interpreter, for a before /
after comparison on one machine in one run. Each measurement is a fresh process (the OS file cache warm after the
first run), offscreen; the figure is the median. Prints a table and one JSON line (`help_s`, `splash_s`,
`first_window_s`, `first_window_cpu_s`). Wall times taken while other processes load the machine are indicative
only; the CPU time of the app's process varies much less with the load.

The app is started through a small driver that wraps QSplashScreen.show and QApplication.exec: the splash time is
when the splash was shown, the window time when the first event-loop turn after `exec()` runs (the window was shown
and painted just before). Both work with any version of vae_gui.app.main that shows a splash and calls exec().
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120

DRIVER = r"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSplashScreen

def mark(name):
    print(f"@{name} {time.time():.6f}", flush=True)

show_splash = QSplashScreen.show
def splash_shown(self):
    show_splash(self)
    mark("splash")
QSplashScreen.show = splash_shown

def exec_then_quit(self):
    QTimer.singleShot(0, lambda: (mark("window"), QApplication.quit()))
    return QApplication.exec_original()
QApplication.exec_original = QApplication.exec
QApplication.exec = exec_then_quit

from vae_gui.app import main
main([])
"""


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_help(repo: Path) -> float:
    start = time.time()
    subprocess.run([sys.executable, "-m", "trainer", "--help"], cwd=repo, check=True, capture_output=True,
                   timeout=TIMEOUT_S)
    return time.time() - start


def time_window(repo: Path) -> tuple[float, float, float]:
    """(splash_s, first_window_s, cpu_s) after the process was started. cpu_s, the CPU time of the whole process
    (it quits once the window is up), depends far less on what else the machine runs than the wall times do."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cpu_before = children_cpu_s()
    start = time.time()
    done = subprocess.run([sys.executable, "-c", DRIVER], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    cpu_s = children_cpu_s() - cpu_before
    marks = {}
    for line in done.stdout.splitlines():
        if line.startswith("@"):
            name, stamp = line[1:].split()
            marks[name] = float(stamp) - start
    if "window" not in marks:
        raise SystemExit(f"the app did not show its window (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return marks.get("splash", float("nan")), marks["window"], cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to time (default: this one)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement (median)")
    args = parser.parse_args()
    repo = args.repo.resolve()

    time_help(repo)                  # warm the OS file cache: every figure below is a warm start
    helps = [time_help(repo) for _ in range(args.runs)]
    windows = [time_window(repo) for _ in range(args.runs)]
    result = {"help_s": round(statistics.median(helps), 3),
              "splash_s": round(statistics.median(w[0] for w in windows), 3),
              "first_window_s": round(statistics.median(w[1] for w in windows), 3),
              "first_window_cpu_s": round(statistics.median(w[2] for w in windows), 3),
              "runs": args.runs, "repo": str(repo), "cores": os.cpu_count()}
    print(f"{'measure':<34}{'median s':>10}   all runs")
    print(f"{'vae-train --help':<34}{result['help_s']:>10.2f}   {', '.join(f'{t:.2f}' for t in helps)}")
    print(f"{'splash shown':<34}{result['splash_s']:>10.2f}   {', '.join(f'{w[0]:.2f}' for w in windows)}")
    print(f"{'main window usable':<34}{result['first_window_s']:>10.2f}   {', '.join(f'{w[1]:.2f}' for w in windows)}")
    print(f"{'  CPU time of that process':<34}{result['first_window_cpu_s']:>10.2f}   "
          f"{', '.join(f'{w[2]:.2f}' for w in windows)}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
