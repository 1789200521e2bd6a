"""`vae-train predict`: reconstructions and random samples as individual PNG files, like the original's prediction/."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from typing import Callable

from trainer.training.checkpoint import LoadedCheckpoint, load_checkpoint
from trainer.data.datasets import FaceDataset, load_dataset
from trainer.evaluation.evaluate import STATS_MAX_IMAGES, sampler_choice_for
from trainer.latent.samplers import SamplerChoice
from trainer.training.device import resolve_device
from trainer.latent.grids import image_grid


def _default_sampler(checkpoint: LoadedCheckpoint, dataset: FaceDataset, device: torch.device,
                     say: Callable[[str], None]) -> str:
    choice = SamplerChoice.from_dict((checkpoint.eval_metrics or {}).get("sampler"))
    if choice is None:
        choice = sampler_choice_for(checkpoint, dataset, device)
    if choice is None:
        say("samples from the prior (too few images to fit a density)")
        return "prior"
    say(f"samples from {choice.describe()}" + ("" if choice.default == "prior" else "; --sampler prior for the prior"))
    return choice.default


def write_predictions(checkpoint_path: Path | str, out: Path | str, data: str | None = None, n_recon: int = 64,
                      n_samples: int = 64, sampler: str = "default", temperature: float = 1.0, seed: int = 0,
                      device: str = "auto", say: Callable[[str], None] = print) -> int:
    """Write recon/NNNN_original.png + NNNN_recon.png, samples/NNNN.png and two overview grids. Returns the count.

    `sampler` "default" uses the one the checkpoint's evaluation chose (trainer.latent.samplers.choose_sampler), or
    chooses it now from the data; `say` receives one line naming the sampler used.
    """
    from trainer.config import ConfigError
    from trainer.latent.codec import decode_latents, encode_images
    from trainer.latent.flow import stored_flow
    from trainer.latent.samplers import make_sampler

    if n_recon < 0 or n_samples < 0:
        raise ConfigError(f"the number of reconstructions and samples must be 0 or more, got {n_recon} and "
                          f"{n_samples}")
    if not temperature > 0:
        raise ConfigError(f"the sampling temperature must be positive, got {temperature}")
    checkpoint = load_checkpoint(checkpoint_path)
    data_config = checkpoint.config.data
    if data is not None:
        data_config = type(data_config)(**{**data_config.__dict__, "source": data})
    dataset = load_dataset(data_config)
    torch_device = resolve_device(device)
    model = checkpoint.model.to(torch_device)
    out = Path(out)
    (out / "recon").mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(parents=True, exist_ok=True)

    originals = dataset.test[:n_recon]
    means, _ = encode_images(model, originals, device=torch_device)
    recons = decode_latents(model, means, batch_size=256, exact=True)
    originals_hwc = originals.permute(0, 2, 3, 1).numpy()
    for i, (original, recon) in enumerate(zip(originals_hwc, recons)):
        Image.fromarray(original).save(out / "recon" / f"{i:04d}_original.png")
        Image.fromarray(recon).save(out / "recon" / f"{i:04d}_recon.png")

    if sampler == "default":
        sampler = _default_sampler(checkpoint, dataset, torch_device, say)
    else:
        say(f"samples from the {sampler}" + (" fitted to the encoded training images" if sampler != "prior" else ""))
    latent_sampler = stored_flow(checkpoint.latent_stats, temperature) if sampler == "flow" else None
    if latent_sampler is None:
        fitted = None
        if sampler != "prior":
            fitted, _ = encode_images(model, dataset.train[:STATS_MAX_IMAGES], device=torch_device)
        latent_sampler = make_sampler(sampler, model.latent_dim, latents=fitted, temperature=temperature, seed=seed)
    samples = decode_latents(model, latent_sampler.sample(n_samples, seed=seed), batch_size=256, exact=True)
    for i, sample in enumerate(samples):
        Image.fromarray(sample).save(out / "samples" / f"{i:04d}.png")

    rows = min(8, len(originals_hwc))
    if rows:
        pairs = [np.concatenate([originals_hwc[i:i + rows], recons[i:i + rows]]) for i in range(0, len(recons), rows)
                 if len(recons[i:i + rows]) == rows]
        if pairs:
            Image.fromarray(image_grid(np.concatenate(pairs), nrow=rows)).save(out / "recon_grid.png")
    if len(samples):
        Image.fromarray(image_grid(samples, nrow=int(np.ceil(np.sqrt(len(samples)))))).save(out / "samples_grid.png")
    return 2 * len(recons) + len(samples)
