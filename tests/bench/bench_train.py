"""Training throughput: our loop vs a loop in the original study's style, same images and model, one run.

The baseline decodes every image file on every epoch through a DataLoader, feeds float32 0-255 tensors in contiguous
NCHW at default (fp32) settings. Ours trains from the cached uint8 tensor with channels-last and bf16 autocast where the
CPU supports it. Prints a table and one JSON line. Target: ours >= 1.5x the baseline's images/s.

    python tests/bench/bench_train.py [--data DIR] [--steps 30] [--presets default study-vae-04]

With --distributed, instead: our loop's images/s with 1 and 2 CPU processes under torchrun (gloo, DDP) at the same
global batch, each process with half the cores; and, when a GPU is present, 1 GPU with and without --compile.

    python tests/bench/bench_train.py --distributed [--data DIR] [--steps 30] [--presets default]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from trainer.config import DataConfig, RunConfig, TrainConfig
from trainer.data.datasets import load_dataset
from trainer.data.listing import folder_splits
from trainer.training.distributed import SINGLE_PROCESS, DistContext, distributed_session
from trainer.training.events import StepMetrics
from trainer.training.loop import train
from trainer.models.losses import kl_divergence, reconstruction_loss
from trainer.models.networks import build_model
from trainer.models.presets import preset_config

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "utkface64"
WARMUP = 5


class PerItemFiles(Dataset):
    """The original style: open and decode a PNG for every item, every epoch."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = Image.open(self.paths[index]).convert("RGB").resize((64, 64))
        return torch.tensor(np.array(image), dtype=torch.float32).permute(2, 0, 1)   # 0-255 floats


def baseline_images_per_s(preset: str, paths: list[Path], steps: int, batch: int) -> float:
    torch.manual_seed(0)
    model = build_model(preset_config(preset))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loader = DataLoader(PerItemFiles(paths), batch_size=batch, shuffle=True, drop_last=True)
    done, start = 0, None
    while done < steps + WARMUP:
        for images in loader:
            if done == WARMUP:
                start = time.perf_counter()
            x = images / 255.0
            out = model(x)
            loss = reconstruction_loss(out.logits, x).mean()
            if out.logvar is not None:
                loss = loss + kl_divergence(out.mean, out.logvar).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps + WARMUP:
                break
    return steps * batch / (time.perf_counter() - start)


def ours_images_per_s(preset: str, dataset, steps: int, batch: int, runs_dir: str,
                      dist: DistContext = SINGLE_PROCESS, **train_settings) -> float:
    """Images/s of train() (on rank 0 under torchrun; other ranks return 0). `train_settings`: TrainConfig fields."""
    times: dict[int, float] = {}

    def on_event(event):
        if isinstance(event, StepMetrics):
            times[event.step] = time.perf_counter()

    config = RunConfig(model=preset_config(preset), data=DataConfig(source=dataset.source),
                       train=TrainConfig(max_steps=steps + WARMUP, batch_size=batch, runs_dir=runs_dir,
                                         final_eval=False, log_every_steps=1000, **train_settings))
    train(config, events=on_event, dataset=dataset, dist=dist)
    if not dist.is_main:
        return 0.0
    return steps * batch / (times[steps + WARMUP] - times[WARMUP])


def training_step_flops(preset: str, batch: int) -> float:
    """Model FLOPs of one training step (forward and backward) at this batch, counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(preset_config(preset))
    x = torch.rand(batch, 3, 64, 64)
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        loss = reconstruction_loss(out.logits, x).mean()
        if out.logvar is not None:
            loss = loss + kl_divergence(out.mean, out.logvar).mean()
        loss.backward()
    return float(counter.get_total_flops())


def bf16_matmul_flops_per_s(size: int = 2048, repeats: int = 20) -> float:
    """The machine's bf16 matrix-multiply rate on the current threads: the reference a training step is held to."""
    a = torch.randn(size, size, dtype=torch.bfloat16)
    b = torch.randn(size, size, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2.0 * size ** 3 * repeats / (time.perf_counter() - start)


def distributed_data_config(data: Path) -> DataConfig:
    return DataConfig(source=str(data)) if data.is_dir() else DataConfig(source="synthetic", synthetic_count=2000)


def torchrun_images_per_s(processes: int, threads: int, args: argparse.Namespace, runs_dir: str) -> float:
    """Launch this script under torchrun on the CPU; rank 0 writes its images/s to a file."""
    out = Path(runs_dir) / f"rate_{processes}x{threads}.json"
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               str(Path(__file__).resolve()), "--worker-out", str(out), "--data", str(args.data),
               "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--presets", args.presets[0],
               "--threads", str(threads)]
    subprocess.run(command, env=env, check=True)
    return json.loads(out.read_text())


def distributed_worker(args: argparse.Namespace) -> None:
    """One torchrun process of torchrun_images_per_s."""
    dataset = load_dataset(distributed_data_config(args.data))
    runs_dir = str(Path(args.worker_out).parent)
    with distributed_session("cpu") as (dist, _):
        rate = ours_images_per_s(args.presets[0], dataset, args.steps, args.batch_size, runs_dir, dist=dist,
                                 device="cpu", threads=args.threads)
    if dist.is_main:
        Path(args.worker_out).write_text(json.dumps(rate))


def distributed_main(args: argparse.Namespace) -> None:
    preset = args.presets[0]
    load_dataset(distributed_data_config(args.data))        # build the data cache once, before the workers
    row: dict = {"preset": preset, "global_batch": args.batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        # processes x threads: one process with every core, one with half (the per-process share), two with half
        cores = os.cpu_count() or 1
        setups = [(1, cores), (1, max(1, cores // 2)), (2, max(1, cores // 2))]
        cpu = {f"{n}x{t}": torchrun_images_per_s(n, t, args, tmp) for n, t in setups}
        row["cpu_img_s"] = {key: round(rate, 1) for key, rate in cpu.items()}
        row["cpu_2_vs_1"] = round(cpu[f"2x{setups[2][1]}"] / cpu[f"1x{cores}"], 2)
        if torch.cuda.is_available():
            dataset = load_dataset(distributed_data_config(args.data))
            row["gpu"] = torch.cuda.get_device_name()
            row["gpu_img_s"] = round(ours_images_per_s(preset, dataset, args.steps, args.batch_size, tmp,
                                                       device="cuda"), 1)
            row["gpu_compiled_img_s"] = round(ours_images_per_s(preset, dataset, args.steps, args.batch_size, tmp,
                                                                device="cuda", compile=True), 1)
    print(f"{'setup':<34}{'img/s':>10}")
    for key, rate in row["cpu_img_s"].items():
        processes, threads = key.split("x")
        print(f"{f'CPU, {processes} process(es) x {threads} thread(s)':<34}{rate:>10.1f}")
    if "gpu" in row:
        print(f"{'1 GPU':<34}{row['gpu_img_s']:>10.1f}\n{'1 GPU, --compile':<34}{row['gpu_compiled_img_s']:>10.1f}")
    print(json.dumps({"bench": "train-distributed", "data": str(args.data), "steps": args.steps,
                      "cpu_count": os.cpu_count(), **row}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--presets", nargs="+", default=["default", "study-vae-04"])
    parser.add_argument("--distributed", action="store_true",
                        help="1 vs 2 CPU processes under torchrun (first preset only), and 1 GPU when present")
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)       # set for the torchrun processes
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads for both loops (0: torch's default); 1 is fairer on a busy machine")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)     # the baseline's count; ours gets the same through its config
    if args.worker_out:
        return distributed_worker(args)
    if args.distributed:
        return distributed_main(args)

    with tempfile.TemporaryDirectory() as tmp:
        if args.data.is_dir():
            dataset = load_dataset(DataConfig(source=str(args.data)))
            paths = folder_splits(args.data, 0.1)[0]
        else:   # no real faces here: write synthetic faces to a folder so both loops read the same files
            dataset = load_dataset(DataConfig(source="synthetic", synthetic_count=2000))
            folder = Path(tmp) / "faces"
            folder.mkdir()
            for i, image in enumerate(dataset.train.permute(0, 2, 3, 1).numpy()):
                Image.fromarray(image).save(folder / f"{i:05d}.png")
            paths = sorted(folder.glob("*.png"))
            dataset = load_dataset(DataConfig(source=str(folder), cache_dir=tmp))
        rows = []
        gemm = bf16_matmul_flops_per_s()
        for preset in args.presets:
            base = baseline_images_per_s(preset, paths, args.steps, args.batch_size)
            ours = ours_images_per_s(preset, dataset, args.steps, args.batch_size, tmp)
            flops_per_image = training_step_flops(preset, args.batch_size) / args.batch_size
            rows.append({"preset": preset, "baseline_img_s": round(base, 1), "ours_img_s": round(ours, 1),
                         "speedup": round(ours / base, 2), "gflop_per_image": round(flops_per_image / 1e9, 3),
                         "model_gflop_s": round(ours * flops_per_image / 1e9, 1),
                         "peak_share": round(ours * flops_per_image / gemm, 3)})
    print(f"bf16 matrix multiply on {torch.get_num_threads()} thread(s): {gemm / 1e9:.0f} GFLOP/s")
    print(f"{'preset':<14}{'baseline img/s':>16}{'ours img/s':>12}{'speedup':>9}{'GFLOP/img':>11}{'GFLOP/s':>9}"
          f"{'peak share':>12}")
    for row in rows:
        print(f"{row['preset']:<14}{row['baseline_img_s']:>16.1f}{row['ours_img_s']:>12.1f}{row['speedup']:>8.2f}x"
              f"{row['gflop_per_image']:>11.3f}{row['model_gflop_s']:>9.1f}{row['peak_share']:>11.0%}")
    print(json.dumps({"bench": "train", "data": str(args.data), "steps": args.steps,
                      "batch_size": args.batch_size, "threads": torch.get_num_threads(),
                      "bf16_matmul_gflop_s": round(gemm / 1e9, 1), "rows": rows}))


if __name__ == "__main__":
    main()
