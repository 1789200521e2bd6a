"""Training throughput: our loop vs a loop in the original study's style, same images and model, one run.

The baseline decodes every image file on every epoch through a DataLoader, feeds float32 0-255 tensors in contiguous
NCHW at default (fp32) settings. Ours trains from the cached uint8 tensor with channels-last and bf16 autocast where the
CPU supports it. Prints a table and one JSON line. Target: ours >= 1.5x the baseline's images/s.

    python tests/bench/bench_train.py [--data DIR] [--steps 30] [--presets default study-vae-04]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from trainer.config import DataConfig, RunConfig, TrainConfig
from trainer.data import folder_splits, load_dataset
from trainer.events import StepMetrics
from trainer.loop import train
from trainer.losses import kl_divergence, reconstruction_loss
from trainer.models import build_model
from trainer.presets import preset_config

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


def ours_images_per_s(preset: str, dataset, steps: int, batch: int, runs_dir: str) -> float:
    times: dict[int, float] = {}

    def on_event(event):
        if isinstance(event, StepMetrics):
            times[event.step] = time.perf_counter()

    config = RunConfig(model=preset_config(preset), data=DataConfig(source=dataset.source),
                       train=TrainConfig(max_steps=steps + WARMUP, batch_size=batch, runs_dir=runs_dir,
                                         final_eval=False, log_every_steps=1000))
    train(config, events=on_event, dataset=dataset)
    return steps * batch / (times[steps + WARMUP] - times[WARMUP])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--presets", nargs="+", default=["default", "study-vae-04"])
    args = parser.parse_args()

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
        for preset in args.presets:
            base = baseline_images_per_s(preset, paths, args.steps, args.batch_size)
            ours = ours_images_per_s(preset, dataset, args.steps, args.batch_size, tmp)
            rows.append({"preset": preset, "baseline_img_s": round(base, 1), "ours_img_s": round(ours, 1),
                         "speedup": round(ours / base, 2)})
    print(f"{'preset':<14}{'baseline img/s':>16}{'ours img/s':>12}{'speedup':>9}")
    for row in rows:
        print(f"{row['preset']:<14}{row['baseline_img_s']:>16.1f}{row['ours_img_s']:>12.1f}{row['speedup']:>8.2f}x")
    print(json.dumps({"bench": "train", "data": str(args.data), "steps": args.steps,
                      "batch_size": args.batch_size, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
