"""Fixed preview images for watching a run: the same validation faces and latent vectors at every snapshot."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainer.latent.codec import to_uint8_hwc
from trainer.latent.samplers import code_spread_latents
from trainer.models.inference import evaluating
from trainer.latent.grids import image_grid
from trainer.training.events import Preview
from trainer.models.networks import FaceModel
from trainer.training.rundir import RunDirectory

STATS_IMAGES = 256     # validation images encoded to place an AE's samples where its codes live


@dataclass
class PreviewSet:
    originals: torch.Tensor        # uint8 (n, 3, H, W), evenly spaced through the test set
    stats_images: torch.Tensor     # uint8, for an AE's code statistics
    noise: torch.Tensor            # (n_samples, D) fixed standard-normal vectors

    @classmethod
    def create(cls, test: torch.Tensor, latent_dim: int, n_preview: int, n_samples: int, seed: int) -> "PreviewSet":
        picks = np.linspace(0, len(test) - 1, num=min(n_preview, len(test))).round().astype(np.int64)
        stats = np.linspace(0, len(test) - 1, num=min(STATS_IMAGES, len(test))).round().astype(np.int64)
        generator = torch.Generator().manual_seed(seed + 7919)
        noise = torch.randn(n_samples, latent_dim, generator=generator)
        return cls(originals=test[picks].clone(), stats_images=test[stats].clone(), noise=noise)

    def render(self, model: FaceModel, step: int, device: torch.device) -> Preview:
        """Reconstructions (from posterior means) and decoded samples, as uint8 (N, H, W, 3) CPU arrays."""
        with evaluating(model):
            x = self.originals.to(device).float() / 255
            mean, _ = model.encode(x)
            recon = model.decode(mean)
            z = self.noise.to(device)
            if not model.is_variational:       # a plain AE has no prior: sample where its codes live
                codes = model.encode(self.stats_images.to(device).float() / 255)[0].float().cpu().numpy()
                z = torch.from_numpy(code_spread_latents(codes.mean(0), codes.std(0), self.noise.numpy())).to(device)
            samples = model.decode(z)
        return Preview(step=step, originals=to_uint8_hwc(x), reconstructions=to_uint8_hwc(recon), samples=to_uint8_hwc(samples))


def reconstruction_grid(preview: Preview) -> np.ndarray:
    """Originals in the top row, their reconstructions below, as in the original study's predictions."""
    n = len(preview.originals)
    return image_grid(np.concatenate([preview.originals, preview.reconstructions]), nrow=n)


def sample_grid(preview: Preview) -> np.ndarray:
    n = len(preview.samples)
    return image_grid(preview.samples, nrow=max(1, int(round(n ** 0.5))))


def save_prediction_grids(run_dir: RunDirectory, preview: Preview) -> None:
    run_dir.save_prediction(f"recon_step{preview.step:07d}.png", reconstruction_grid(preview))
    run_dir.save_prediction(f"samples_step{preview.step:07d}.png", sample_grid(preview))
