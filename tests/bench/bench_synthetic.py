"""Benchmark: render synthetic faces on one core and report faces per second.

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python tests/bench/bench_synthetic.py [--n 20000] [--size 64]
Prints a small table and one final JSON line. The target (20,000 faces at 64 px under 20 s) lives in the issue
tracker, not in an assertion.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")     # one core: must be set before numpy loads

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from trainer.data.synthetic import make_synthetic_faces  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="number of faces to render")
    parser.add_argument("--size", type=int, default=64, help="image size in pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    make_synthetic_faces(8, seed=args.seed, image_size=args.size)      # warm-up: imports, first allocations
    start = time.perf_counter()
    images, factors = make_synthetic_faces(args.n, seed=args.seed, image_size=args.size)
    seconds = time.perf_counter() - start
    faces_per_s = args.n / seconds if seconds > 0 else float("inf")

    print(f"{'n':>8} {'size':>5} {'seconds':>9} {'faces/s':>10}")
    print(f"{args.n:>8} {args.size:>5} {seconds:>9.2f} {faces_per_s:>10.0f}")
    print(json.dumps({"bench": "synthetic", "n": args.n, "image_size": args.size,
                      "seconds": round(seconds, 3), "faces_per_s": round(faces_per_s, 1)}))


if __name__ == "__main__":
    main()
