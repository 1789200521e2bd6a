"""A reference re-implementation of PyTorch-VAE's VanillaVAE recipe, written from its description, for comparisons.

The recipe: a 5-layer convolutional encoder (32, 64, 128, 256, 512 channels; 3x3 stride-2 convs, batch norm, leaky
ReLU), a 128-d latent, a mirrored transposed-conv decoder ending in tanh, the loss mean-squared error per pixel on
[0, 1] images + 0.00025 x the KL (summed over latent dims, averaged over the batch), Adam at 5e-3, the learning rate
decayed by 0.95 per epoch, batches of 64. Trained on the same uint8 image tensor as ours, for a wall-clock budget.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

HIDDEN = (32, 64, 128, 256, 512)
LATENT = 128
KL_WEIGHT = 0.00025
LR = 5e-3
LR_DECAY = 0.95
BATCH = 64


def _down(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU())


def _up(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
                         nn.BatchNorm2d(cout), nn.LeakyReLU())


class VanillaVAE(nn.Module):
    def __init__(self, image_size: int = 64, latent: int = LATENT):
        super().__init__()
        self.latent_dim = latent
        self.side = image_size >> len(HIDDEN)
        flat = HIDDEN[-1] * self.side * self.side
        chans = (3, *HIDDEN)
        self.encoder = nn.Sequential(*[_down(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.to_mu, self.to_logvar = nn.Linear(flat, latent), nn.Linear(flat, latent)
        self.from_latent = nn.Linear(latent, flat)
        rev = HIDDEN[::-1]
        self.decoder = nn.Sequential(*[_up(a, b) for a, b in zip(rev[:-1], rev[1:])])
        self.final = nn.Sequential(_up(HIDDEN[0], HIDDEN[0]), nn.Conv2d(HIDDEN[0], 3, 3, padding=1), nn.Tanh())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x).flatten(1)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(z).view(-1, HIDDEN[-1], self.side, self.side)
        return self.final(self.decoder(h))

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


def vanilla_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    mse = nn.functional.mse_loss(recon, x)
    kl = torch.mean(-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1))
    return mse + KL_WEIGHT * kl


def train_vanilla(train_images: torch.Tensor, seconds: float, seed: int = 0) -> tuple[VanillaVAE, dict]:
    """Train for `seconds` of wall time on uint8 (N, 3, H, W) images; returns the model (eval mode) and counts."""
    torch.manual_seed(seed)
    model = VanillaVAE(train_images.shape[-1])
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=LR_DECAY)
    generator = torch.Generator().manual_seed(seed)
    started, steps, epochs = time.monotonic(), 0, 0
    while time.monotonic() - started < seconds:
        order = torch.randperm(len(train_images), generator=generator)
        for start in range(0, len(order) - BATCH + 1, BATCH):
            x = train_images[order[start:start + BATCH]].float() / 255.0
            flip = torch.rand(len(x), generator=generator) < 0.5            # its CelebA transform flips
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            recon, mu, logvar = model(x)
            loss = vanilla_loss(recon, x, mu, logvar)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if time.monotonic() - started >= seconds:
                break
        decay.step()
        epochs += 1
    model.eval()
    return model, {"steps": steps, "epochs": epochs, "images": steps * BATCH}


@torch.no_grad()
def vanilla_reconstruct(model: VanillaVAE, images: torch.Tensor) -> torch.Tensor:
    """uint8 in, uint8 out (the posterior mean decoded, clamped to [0, 1])."""
    out = []
    for start in range(0, len(images), 256):
        mu, _ = model.encode(images[start:start + 256].float() / 255.0)
        out.append(model.decode(mu))
    return _to_uint8(torch.cat(out))


@torch.no_grad()
def vanilla_samples(model: VanillaVAE, n: int, seed: int = 0) -> torch.Tensor:
    """Prior samples, as the recipe draws them; uint8."""
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype(np.float32))
    return _to_uint8(model.decode(z))


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    return (images.clamp(0, 1) * 255.0).round().to(torch.uint8)
