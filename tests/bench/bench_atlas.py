"""Benchmark: the explorer's atlas (and the other issue-13 views) on a large image set, offscreen.

Each measurement is one function taking an AtlasBench and returning a dict; main() runs them in order, prints a
table and one JSON line with at least: points, atlas_build_s, pan_frame_p95_ms, hover_p95_ms, nearest_query_p95_ms,
follow_reload_ms, follow_max_stall_ms, slider_p95_ms_with_atlas.

  atlas_build    PCA map of the encoded points + colours + points drawn (after encoding; target < 2 s at 50k)
  pan_zoom       a sequence of setRange calls (pans and zooms), each followed by processEvents (which repaints the
                 plot): frame time p95 (target < 30 ms); also the thumbnail update (and repaint) once zoomed in
  hover          mouse over a point -> the side preview painted: p95 (target < 50 ms)
  slider         slider value change -> new face painted, with the Atlas tab visible and its marker following
                 (bench_explorer's method; target p95 < 8 ms idle)
  nearest        the nearest-faces query (trainer.latent.neighbours.NearestFaces over the training images)
  follow         follow-a-run reload and the GUI stall it causes (tests/bench/bench_follow.py)

The image set: --points faces from the synthetic renderer, encoded by the checkpoint (bundled, else an untrained
default-preset model). Encoding is not part of any timing (it runs in the background in the app).

    python tests/bench/bench_atlas.py --points 50000
    python tests/bench/bench_atlas.py --points 2000 --moves 30     # a quick check that it works
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench_explorer import choose_checkpoint, percentile, slider_latencies, wait_for, wait_for_latents  # noqa: E402
from trainer.data.datasets import FaceDataset  # noqa: E402
from trainer.data.synthetic import FACTOR_NAMES, make_synthetic_faces  # noqa: E402
from trainer.latent.atlas import build_atlas_map, pca_map  # noqa: E402
from trainer.latent.atlas_data import AtlasData, atlas_data_from_dataset  # noqa: E402

RENDER_CHUNK = 5000


@dataclass
class AtlasBench:
    args: argparse.Namespace
    app: QApplication
    panel: object                      # ExplorerPanel with the checkpoint open
    data: AtlasData
    notes: list[str] = field(default_factory=list)

    @property
    def atlas(self):
        return self.panel.atlas_tab


# ---------------------------------------------------------------- the image set

def synthetic_set(n: int, seed: int = 7) -> FaceDataset:
    """n synthetic 64 px faces (10% test), rendered in chunks."""
    parts = [make_synthetic_faces(min(RENDER_CHUNK, n - start), seed=seed, start=start)
             for start in range(0, n, RENDER_CHUNK)]
    images = np.concatenate([p[0] for p in parts])
    factors = np.concatenate([p[1] for p in parts])
    k = max(1, n // 10)
    return FaceDataset(train=torch.from_numpy(images[k:]), test=torch.from_numpy(images[:k]), source="synthetic",
                       train_factors=factors[k:], test_factors=factors[:k], factor_names=tuple(FACTOR_NAMES))


def open_panel(app: QApplication, checkpoint: Path, size: tuple[int, int] = (1400, 900)):
    from vae_gui.explorer.panel import ExplorerPanel

    panel = ExplorerPanel()
    panel.resize(*size)
    panel.show()
    if not panel.load_checkpoint(str(checkpoint)):
        raise SystemExit(f"cannot open {checkpoint}")
    wait_for_latents(app, panel)
    return panel


# ---------------------------------------------------------------- measurements

def measure_atlas_build(bench: AtlasBench) -> dict:
    """PCA map + colour levels + points drawn, from encoded latents (scikit-learn already imported: the app imports
    it in the background task that encodes)."""
    atlas = bench.atlas
    pca_map(bench.data.latents[:10])
    start = time.perf_counter()
    atlas_map = build_atlas_map(bench.data.latents, "pca")
    map_s = time.perf_counter() - start
    atlas.set_atlas(bench.data, atlas_map)
    bench.panel.tabs.setCurrentWidget(atlas)
    bench.app.processEvents()
    atlas.plot.viewport().repaint()
    total = time.perf_counter() - start
    return {"atlas_build_s": round(total, 3), "atlas_pca_s": round(map_s, 3)}


def measure_pan_zoom(bench: AtlasBench) -> dict:
    """Frame times of pans and zooms over the whole map, then the thumbnail update once zoomed in."""
    plot = bench.atlas.plot
    rng = np.random.default_rng(0)
    low, high = plot.coords.min(0), plot.coords.max(0)
    centre, span = (low + high) / 2, (high - low)
    times = []
    for i in range(bench.args.frames):
        zoom = 1.0 / (1.0 + 3.0 * (0.5 + 0.5 * np.sin(i / 10)))          # between the whole map and a quarter
        shift = (rng.random(2) - 0.5) * span * (1 - zoom)
        half = span * zoom / 2
        c = centre + shift
        start = time.perf_counter()
        plot.setRange(xRange=(float(c[0] - half[0]), float(c[0] + half[0])),
                      yRange=(float(c[1] - half[1]), float(c[1] + half[1])), padding=0)
        bench.app.processEvents()                   # the range change repaints the plot here
        times.append((time.perf_counter() - start) * 1000)
    thumbs = []
    for row in rng.choice(len(plot.coords), size=min(10, len(plot.coords)), replace=False):
        x, y = plot.coords[row]
        half = span / 60
        plot.setRange(xRange=(float(x - half[0]), float(x + half[0])),
                      yRange=(float(y - half[1]), float(y + half[1])), padding=0)
        start = time.perf_counter()
        plot.update_thumbnails()
        plot.viewport().repaint()
        thumbs.append((time.perf_counter() - start) * 1000)
    plot.show_all()
    bench.app.processEvents()
    return {"pan_frame_p95_ms": round(percentile(times, 95), 2), "pan_frame_p50_ms": round(percentile(times, 50), 2),
            "pan_frames": len(times), "thumbnail_update_p95_ms": round(percentile(thumbs, 95), 2),
            "thumbnails_last": plot.thumbnail_count}


def measure_hover(bench: AtlasBench) -> dict:
    """Mouse over a random point -> its image and name in the side preview, painted."""
    atlas = bench.atlas
    plot, preview = atlas.plot, atlas.preview
    rng = np.random.default_rng(1)
    plot.show_all()
    bench.app.processEvents()
    times = []
    for row in rng.choice(len(plot.coords), size=min(bench.args.hovers, len(plot.coords)), replace=False):
        x, y = plot.coords[row]
        scene = plot.plotItem.vb.mapViewToScene(QPointF(float(x), float(y)))
        painted = preview.paint_count
        start = time.perf_counter()
        plot._on_mouse_moved(scene)                 # what a mouse move over the plot calls
        preview.repaint()
        if preview.paint_count > painted:
            times.append((time.perf_counter() - start) * 1000)
        plot._on_mouse_moved(QPointF(-1e6, -1e6))   # leave, so the next point is a new hover
    return {"hover_p95_ms": round(percentile(times, 95), 2) if times else None, "hovers": len(times)}


def measure_slider(bench: AtlasBench) -> dict:
    """Slider latency with the Atlas tab on screen and its marker following z (the sliders are moved in code)."""
    bench.panel.tabs.setCurrentWidget(bench.atlas)
    wait_for(bench.app, lambda: bench.atlas.isVisible(), what="the atlas to show")
    slider_latencies(bench.app, bench.panel, 5, seed=1)                # warm-up
    times, _ = slider_latencies(bench.app, bench.panel, bench.args.moves)
    return {"slider_p95_ms_with_atlas": round(percentile(times, 95), 2),
            "slider_p50_ms_with_atlas": round(percentile(times, 50), 2)}


def measure_nearest(bench: AtlasBench) -> dict:
    """Nearest training faces for the current face: latent and pixel queries (k = 8, the strip's) against a
    trainer.latent.neighbours.NearestFaces index over the bench's training images."""
    from trainer.latent.neighbours import NearestFaces

    try:
        train = bench.data.split == 1
        rows = bench.data.rows[train]
        whole = bench.data.images[1]
        # every training image is on the map (max_points = --points): index the tensor itself, no 540 MB copy
        images = whole if np.array_equal(rows, np.arange(len(whole))) else whole[torch.from_numpy(rows)]
        index = NearestFaces.build(images, latents=bench.data.latents[train])
        rng = np.random.default_rng(2)
        latent_times, pixel_times = [], []
        for _ in range(bench.args.queries):
            z = bench.data.latents[int(rng.integers(len(bench.data)))]
            start = time.perf_counter()
            index.query_latent(z, k=8)
            latent_times.append((time.perf_counter() - start) * 1000)
            image = bench.data.image(int(rng.integers(len(bench.data))))
            start = time.perf_counter()
            index.query_pixels(image, k=8)
            pixel_times.append((time.perf_counter() - start) * 1000)
    except (AttributeError, TypeError) as error:          # its interface changed since this was written
        bench.notes.append(f"nearest_query_p95_ms: NearestFaces has another interface now ({error})")
        return {"nearest_query_p95_ms": None}
    return {"nearest_query_p95_ms": round(max(percentile(latent_times, 95), percentile(pixel_times, 95)), 2),
            "nearest_latent_p95_ms": round(percentile(latent_times, 95), 2),
            "nearest_pixel_p95_ms": round(percentile(pixel_times, 95), 2)}


def measure_follow(bench: AtlasBench) -> dict:
    """Follow-a-run reloads with the atlas shown (tests/bench/bench_follow.py)."""
    from bench_follow import measure_follow_reload         # returns follow_reload_ms, follow_max_stall_ms

    return measure_follow_reload(bench)


MEASUREMENTS: dict[str, Callable[[AtlasBench], dict]] = {
    "atlas_build": measure_atlas_build, "pan_zoom": measure_pan_zoom, "hover": measure_hover,
    "slider": measure_slider, "nearest": measure_nearest, "follow": measure_follow}


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000, help="images in the set (synthetic faces)")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=120, help="pan/zoom frames")
    parser.add_argument("--hovers", type=int, default=100)
    parser.add_argument("--moves", type=int, default=200, help="slider moves")
    parser.add_argument("--queries", type=int, default=100, help="nearest-face queries")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(MEASUREMENTS)}")
    args = parser.parse_args()
    chosen = [name for name in MEASUREMENTS if not args.only or name in args.only.split(",")]
    if "atlas_build" not in chosen:
        chosen.insert(0, "atlas_build")           # every other measurement needs the map on screen

    from vae_gui.app import create_application
    app = create_application(["bench_atlas"])
    from vae_gui.app import configure_torch_threads, start_preloading
    configure_torch_threads()
    start_preloading().join()          # as the app does at start-up
    with tempfile.TemporaryDirectory() as scratch:
        path, kind = choose_checkpoint(args.checkpoint, Path(scratch))
        panel = open_panel(app, path)
        start = time.perf_counter()
        dataset = synthetic_set(args.points)
        render_s = time.perf_counter() - start
        start = time.perf_counter()
        data = atlas_data_from_dataset(panel.state.model, dataset, max_points=args.points)
        encode_s = time.perf_counter() - start
        bench = AtlasBench(args, app, panel, data)
        results = {"points": len(data), "checkpoint": kind, "render_s": round(render_s, 1),
                   "encode_s": round(encode_s, 1), "torch_threads": torch.get_num_threads(),
                   "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}
        for name in chosen:
            results.update(MEASUREMENTS[name](bench))
        panel.shutdown()
    print(f"{len(data):,} points; checkpoint {kind}: {path}; rendered in {render_s:.1f} s, encoded in "
          f"{encode_s:.1f} s (not timed below)")
    print(f"{'measure':<28} {'value':>10}")
    for key, value in results.items():
        if key.endswith(("_ms", "_s", "_with_atlas")) and key not in ("render_s", "encode_s"):
            print(f"{key:<28} {'-' if value is None else value:>10}")
    for note in bench.notes:
        print(f"note: {note}")
    results["notes"] = bench.notes
    for key in ("nearest_query_p95_ms", "follow_reload_ms", "follow_max_stall_ms", "slider_p95_ms_with_atlas",
                "pan_frame_p95_ms", "hover_p95_ms"):
        results.setdefault(key, None)
    print(json.dumps({"bench": "atlas", **results}))


if __name__ == "__main__":
    main()
