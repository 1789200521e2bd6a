"""Quality at a fixed CPU budget: our photo recipe vs the recipe documented before it vs PyTorch-VAE's VanillaVAE.

Each recipe trains on the same images for the same wall-clock budget, one after the other (never two at once), then
is scored the same way on the test split: PSNR and SSIM of reconstructions; with the `faces` extra, the face-
detection rate and the face-embedding Frechet distance of reconstructions and of default samples (ours: the sampler
the evaluation chose; VanillaVAE: its prior), and whether reconstructions keep the person (same_person_rate, rank1,
median_identity_distance; blurred_* the same for the test photos blurred, a baseline). Prints a table and one JSON
line.

    python tests/bench/bench_quality.py --data DIR --minutes 10 [--recipes photo documented vanilla] [--out DIR]

--out keeps each recipe's reconstruction and sample grids as PNGs (generated images only) to look at.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from trainer.training.checkpoint import load_checkpoint
from trainer.cli.commands import build_parser, config_from_args
from trainer.data.datasets import load_dataset
from trainer.config import DataConfig
from trainer.latent.codec import decode_latents, encode_images
from trainer.training.loop import train
from trainer.evaluation.metrics import psnr, ssim
from trainer.latent.grids import image_grid
from trainer.latent.samplers import SamplerChoice, make_sampler
from vanilla_vae import train_vanilla, vanilla_reconstruct, vanilla_samples

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "utkface64"
N_SAMPLES = 300
# The recipe resources/README.md documented for real faces before the photo recipe.
DOCUMENTED = ["--preset", "default", "--latent-dim", "16", "--beta", "0.1", "--batch-size", "128",
              "--kl-warmup", "500", "--epochs", "100000"]


def ours(data: Path, minutes: float, extra: list[str], runs_dir: str, name: str, threads: int) -> dict:
    """Train through the CLI's own settings path with --time-budget; returns the images and run facts."""
    args = build_parser().parse_args(["train", "--data", str(data), "--time-budget", str(minutes), "--name", name,
                                      "--runs-dir", runs_dir, "--threads", str(threads), *extra])
    config = config_from_args(args)
    started = time.monotonic()
    result = train(config)
    wall = time.monotonic() - started
    checkpoint = load_checkpoint(result.best_checkpoint)
    model = checkpoint.model
    dataset = load_dataset(config.data)
    means, _ = encode_images(model, dataset.test)
    recon = torch.from_numpy(decode_latents(model, means, batch_size=256, exact=True)).permute(0, 3, 1, 2)
    choice = SamplerChoice.from_dict((result.final_eval or {}).get("sampler"))
    kind = choice.default if choice is not None else "prior"
    fit = encode_images(model, dataset.train[:5000])[0] if kind != "prior" else None
    latents = make_sampler(kind, model.latent_dim, latents=fit).sample(N_SAMPLES, seed=0)
    samples = torch.from_numpy(decode_latents(model, latents)).permute(0, 3, 1, 2)
    batch = config.train.batch_size
    return {"recon": recon, "samples": samples, "wall_s": wall, "images": result.step * batch,
            "sampler": kind, "steps": result.step, "budget_s": minutes * 60,
            "run_dir": str(Path(result.best_checkpoint).parents[1])}


def vanilla(dataset, minutes: float) -> dict:
    started = time.monotonic()
    model, counts = train_vanilla(dataset.train, seconds=minutes * 60)
    wall = time.monotonic() - started
    return {"recon": vanilla_reconstruct(model, dataset.test), "samples": vanilla_samples(model, N_SAMPLES),
            "wall_s": wall, "images": counts["images"], "sampler": "prior", "steps": counts["steps"],
            "budget_s": minutes * 60}


def face_scores(recon: torch.Tensor, samples: torch.Tensor, dataset) -> dict:
    try:
        from trainer.evaluation.face_metrics import face_metrics_available, face_report, INSTALL_HINT
    except ImportError:
        return {}
    if not face_metrics_available():
        print(INSTALL_HINT, file=sys.stderr)
        return {}
    return face_report(recon, samples, dataset.test, dataset.train)


def score(name: str, run: dict, dataset, out: Path | None) -> dict:
    test = dataset.test.float() / 255.0
    recon = run["recon"].float() / 255.0
    faces = face_scores(run["recon"], run["samples"], dataset)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        pairs = torch.cat([dataset.test[:16], run["recon"][:16]]).permute(0, 2, 3, 1).numpy()
        Image.fromarray(image_grid(pairs, nrow=16)).save(out / f"{name}_recon.png")
        Image.fromarray(image_grid(run["samples"][:64].permute(0, 2, 3, 1).numpy(), nrow=8)).save(
            out / f"{name}_samples.png")
    return {"recipe": name, "psnr": round(float(psnr(recon, test).mean()), 2),
            "ssim": round(float(ssim(recon, test).mean()), 4),
            "sample_face_detect": _round(faces.get("sample_face_detect")),
            "sample_face_fd": _round(faces.get("sample_face_fd_detected")),
            "sample_face_fd_all": _round(faces.get("sample_face_fd")),
            "recon_face_detect": _round(faces.get("recon_face_detect")),
            "recon_face_fd": _round(faces.get("recon_face_fd")),
            "floor_face_fd": _round(faces.get("floor_face_fd")),
            "blurred_face_fd": _round(faces.get("blurred_face_fd")),
            # whether reconstructions keep the person (trainer/evaluation/identity.py), blurred test photos beside
            **{f"{prefix}{key}": _round(faces.get(f"{source}_{key}"))
               for prefix, source in (("", "recon"), ("blurred_", "blurred"))
               for key in ("same_person_rate", "rank1", "median_identity_distance")},
            "identity_photos_no_face": faces.get("identity_photos_no_face"),
            "sampler": run["sampler"], "steps": run["steps"],
            "images_per_s": round(run["images"] / run["wall_s"], 1), "wall_s": round(run["wall_s"], 1),
            "budget_overrun": round(run["wall_s"] / run["budget_s"] - 1.0, 4)}


def _round(value, digits: int = 4):
    return None if value is None else round(float(value), digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--recipes", nargs="+", default=["photo", "documented", "vanilla"],
                        choices=("photo", "documented", "vanilla"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="folder for reconstruction and sample grids")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = load_dataset(DataConfig(source=str(args.data)))
    rows = []
    with tempfile.TemporaryDirectory() as runs_dir:
        for recipe in args.recipes:
            print(f"training {recipe} for {args.minutes:g} min...", file=sys.stderr)
            if recipe == "vanilla":
                run = vanilla(dataset, args.minutes)
            else:
                extra = DOCUMENTED if recipe == "documented" else []
                run = ours(args.data, args.minutes, extra, runs_dir, recipe, args.threads)
            rows.append(score(recipe, run, dataset, args.out))
    columns = ["recipe", "psnr", "ssim", "recon_face_detect", "recon_face_fd", "same_person_rate", "rank1",
               "sample_face_detect", "sample_face_fd", "sampler", "images_per_s", "wall_s"]
    print("".join(f"{c:>19}" for c in columns))
    for row in rows:
        print("".join(f"{'-' if row[c] is None else row[c]!s:>19}" for c in columns))
    print(json.dumps({"bench": "quality", "minutes": args.minutes, "data": str(args.data),
                      "threads": args.threads, "n_test": len(dataset.test), "rows": rows}))


if __name__ == "__main__":
    main()
