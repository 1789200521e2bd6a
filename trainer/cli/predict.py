"""`vae-train predict`: reconstructions and random samples as individual PNG files, like the original's prediction/."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from typing import Callable

from trainer.training.checkpoint import LoadedCheckpoint, load_checkpoint
from trainer.data.datasets import FaceDataset, load_dataset
from trainer.data.images import save_png
from trainer.evaluation.evaluate import sampler_choice_for
from trainer.latent.stats import STATS_MAX_IMAGES
from trainer.latent.samplers import SamplerChoice
from trainer.training.device import resolve_device
from trainer.latent.grids import image_grid
from trainer.config import short_repr

MAX_PREDICTIONS = 100_000       # PNG files of one kind; more is a typo, and would fill the disk for minutes
MAX_TEMPERATURE = 100.0         # beyond this the samples are noise (and large ones overflow the decoder)


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
    from trainer.config import MAX_SEED, ConfigError
    from trainer.latent.codec import decode_latents, encode_images
    from trainer.latent.flow import stored_flow
    from trainer.latent.samplers import make_sampler

    for name, count in (("--n-recon", n_recon), ("--n-samples", n_samples)):
        if not 0 <= count <= MAX_PREDICTIONS:
            raise ConfigError(f"{name} must be between 0 and {MAX_PREDICTIONS}, got {short_repr(count)}")
    if not 0 < temperature <= MAX_TEMPERATURE:
        raise ConfigError(f"--temperature must be above 0 and at most {MAX_TEMPERATURE:g}, got {temperature}")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must be between 0 and {MAX_SEED}, got {short_repr(seed)}")
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
        save_png(original, out / "recon" / f"{i:04d}_original.png")
        save_png(recon, out / "recon" / f"{i:04d}_recon.png")

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
        save_png(sample, out / "samples" / f"{i:04d}.png")

    rows = min(8, len(originals_hwc))
    if rows:
        pairs = [np.concatenate([originals_hwc[i:i + rows], recons[i:i + rows]]) for i in range(0, len(recons), rows)
                 if len(recons[i:i + rows]) == rows]
        if pairs:
            save_png(image_grid(np.concatenate(pairs), nrow=rows), out / "recon_grid.png")
    if len(samples):
        save_png(image_grid(samples, nrow=int(np.ceil(np.sqrt(len(samples))))), out / "samples_grid.png")
    return 2 * len(recons) + len(samples)
