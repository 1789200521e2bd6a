"""Benchmark: nearest-training-faces queries (trainer.latent.neighbours) on a large training set.

Run:  python tests/bench/bench_nearest.py [--points 50000] [--queries 200] [--latent-dim 16] [--threads 2]
The training set is built from the synthetic renderer: a few thousand faces, each also shifted, flipped and
brightened, up to --points 64 px images (the index search does not care where the faces came from, only how they are
spread). Queries are held-out faces rendered with another seed. One query is what the explorer's strip runs per z
change, the decode aside: the k=8 nearest in latent space, then the k=8 nearest in pixel space (exact, see
trainer/latent/neighbours.py). Prints a table and one JSON line; the target (< 30 ms p95 for 50,000 images on a 2-core
CPU) lives in issue 13, not in an assertion. tests/bench/bench_atlas.py imports measure_nearest_queries().
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from trainer.data.synthetic import make_synthetic_faces  # noqa: E402
from trainer.latent.neighbours import MAX_RERANK, NearestFaces  # noqa: E402

BASE_FACES = 2500          # rendered faces; the rest of the set are variations of them
K = 8


def training_faces(points: int, image_size: int = 64, seed: int = 0) -> torch.Tensor:
    """uint8 (points, 3, S, S): rendered faces, then shifted / flipped / brightened copies of them."""
    base = torch.from_numpy(make_synthetic_faces(min(points, BASE_FACES), seed=seed, image_size=image_size)[0])
    parts, rng, total = [base], np.random.default_rng(seed), len(base)
    while total < points:
        batch = base[: min(len(base), points - total)].clone()
        shift = tuple(int(v) for v in rng.integers(-3, 4, size=2))
        batch = torch.roll(batch, shifts=shift, dims=(2, 3))
        if rng.random() < 0.5:
            batch = batch.flip(3)
        batch = (batch.float() * float(rng.uniform(0.85, 1.15))).clamp_(0, 255).to(torch.uint8)
        parts.append(batch)
        total += len(batch)
    return torch.cat(parts)[:points]


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else float("nan")


def measure_nearest_queries(points: int = 50_000, queries: int = 200, latent_dim: int = 16,
                            image_size: int = 64, max_rerank: int = MAX_RERANK) -> dict:
    """Build the index over `points` faces and time `queries` strip queries; times in ms (build in s).
    `max_rerank` caps the exact distances per query (the strip's default; fewer is faster, maybe inexact)."""
    images = training_faces(points, image_size)
    latents = np.random.default_rng(1).standard_normal((points, latent_dim)).astype(np.float32)
    start = time.perf_counter()
    index = NearestFaces.build(images, latents)
    build_s = time.perf_counter() - start
    probes = make_synthetic_faces(queries, seed=12345, image_size=image_size)[0].transpose(0, 2, 3, 1)
    codes = np.random.default_rng(2).standard_normal((queries, latent_dim)).astype(np.float32)
    index.query_pixels(probes[0], K, max_rerank)                      # warm-up: first-call allocations
    pixel_ms, latent_ms, total_ms, exact = [], [], [], 0
    for probe, code in zip(probes, codes):
        t0 = time.perf_counter()
        index.query_latent(code, K)
        t1 = time.perf_counter()
        found = index.query_pixels(probe, K, max_rerank)
        t2 = time.perf_counter()
        latent_ms.append((t1 - t0) * 1000)
        pixel_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
        exact += found.exact
    return {"points": points, "queries": queries, "latent_dim": latent_dim, "image_size": image_size,
            "nearest_build_s": round(build_s, 3), "nearest_query_p95_ms": round(_p95(total_ms), 2),
            "nearest_pixel_p95_ms": round(_p95(pixel_ms), 2), "nearest_latent_p95_ms": round(_p95(latent_ms), 2),
            "nearest_query_median_ms": round(float(np.median(total_ms)), 2),
            "nearest_exact_fraction": round(exact / max(1, queries), 3),
            "max_rerank": max_rerank, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-rerank", type=int, default=MAX_RERANK,
                        help="cap on exact full-size distances per query (fewer: faster, maybe not exact)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = measure_nearest_queries(args.points, args.queries, args.latent_dim, args.image_size, args.max_rerank)
    rows = [("training images", f"{result['points']:,}"), ("index build", f"{result['nearest_build_s']:.2f} s"),
            ("query p95 (latent + pixels)", f"{result['nearest_query_p95_ms']:.1f} ms"),
            ("  pixel part p95", f"{result['nearest_pixel_p95_ms']:.1f} ms"),
            ("  latent part p95", f"{result['nearest_latent_p95_ms']:.2f} ms"),
            ("query median", f"{result['nearest_query_median_ms']:.1f} ms"),
            ("pixel answers proven exact", f"{result['nearest_exact_fraction']:.0%}")]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
