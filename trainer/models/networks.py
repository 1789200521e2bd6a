"""AE and VAE networks built from a ModelConfig.

One convolutional encoder/decoder pair covers both our default preset and the six structures of the original
study; the options that differ (down/up-sampling, normalization, skips, reparameterization) are config fields.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainer.config import ModelConfig


_UNIFORM_REPARAMS = ("uniform01", "uniform_pm1")     # reparameterizations that take uniform noise


def images_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] from the decoder's logits (ModelOutput.logits): the one output nonlinearity, which
    FaceModel.decode applies; code that also needs the logits (a loss) calls this instead of decoding twice."""
    return torch.sigmoid(logits)


@dataclass
class ModelOutput:
    logits: torch.Tensor            # decoder output before the sigmoid, (N, C, H, W)
    mean: torch.Tensor              # posterior mean (VAE) or code (AE), (N, D)
    logvar: torch.Tensor | None     # posterior log-variance, None for an AE
    z: torch.Tensor                 # the latent actually decoded


def _activation(name: str) -> nn.Module:
    return {"silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU,
            "leaky_relu": lambda: nn.LeakyReLU(0.2)}[name]()


def _norm(name: str, channels: int) -> nn.Module:
    if name == "group":
        # up to 8 groups; the count must divide the channels (12 channels -> 6 groups)
        groups = next(g for g in range(min(8, channels), 0, -1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if name == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def _stage_channels(config: ModelConfig) -> list[int]:
    """Channels after each encoder stage, doubling from base_channels up to max_channels."""
    return [min(config.base_channels * 2 ** i, config.max_channels) for i in range(config.depth)]


class ResidualBlock(nn.Module):
    """Pre-activation residual block: norm, activation, 3x3 conv, twice, added to the input."""

    def __init__(self, channels: int, config: ModelConfig):
        super().__init__()
        self.body = nn.Sequential(
            _norm(config.norm, channels), _activation(config.activation), nn.Conv2d(channels, channels, 3, padding=1),
            _norm(config.norm, channels), _activation(config.activation), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _residual_blocks(channels: int, config: ModelConfig) -> list[nn.Module]:
    return [ResidualBlock(channels, config) for _ in range(config.res_blocks)]


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        stages, in_ch = [], config.channels
        for out_ch in _stage_channels(config):
            if config.downsample == "stride":
                layers = [nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1)]
            else:
                layers = [nn.Conv2d(in_ch, out_ch, 3, padding=1)]
            layers += [_norm(config.norm, out_ch), _activation(config.activation)]
            if config.downsample == "maxpool":
                layers.append(nn.MaxPool2d(2))
            layers += _residual_blocks(out_ch, config)
            stages.append(nn.Sequential(*layers))
            in_ch = out_ch
        self.stages = nn.ModuleList(stages)
        self.out_channels = in_ch
        self.out_size = config.image_size >> config.depth

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return x, features


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        channels = _stage_channels(config)[::-1]            # e.g. 256, 128, 64, 32
        outs = channels[1:] + [channels[-1]]
        if config.output == "shuffle":
            # Sub-pixel convolution (Shi et al. 2016): the last 2x up-sampling is a conv at half size making 4x the
            # image channels, rearranged into the full image. The full-size convs it replaces, with few channels,
            # ran at a quarter of the CPU's matrix-multiply rate and took 60% of the photo step's conv time.
            channels, outs = channels[:-1], outs[:-1]
        stages = []
        for in_ch, out_ch in zip(channels, outs):
            if config.upsample == "transpose":
                up = [nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1)]
            else:
                up = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_ch, out_ch, 3, padding=1)]
            stages.append(nn.Sequential(*up, _norm(config.norm, out_ch), _activation(config.activation),
                                        *_residual_blocks(out_ch, config)))
        self.stages = nn.ModuleList(stages)
        last = outs[-1] if outs else _stage_channels(config)[-1]
        if config.output == "shuffle":
            self.to_image = nn.Sequential(nn.Conv2d(last, config.channels * 4, 3, padding=1), nn.PixelShuffle(2))
        else:
            self.to_image = nn.Conv2d(last, config.channels, 3, padding=1)

    @property
    def channels_last(self) -> bool:
        """Whether the model was converted to channels-last (as training on a CPU does)."""
        weight = next(p for p in self.parameters() if p.dim() == 4)
        return weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        for i, stage in enumerate(self.stages):
            if skips is not None:
                x = x + skips[-1 - i]
            x = stage(x)
        return self.to_image(x)


class FaceModel(nn.Module):
    """Convolutional AE or VAE. Inputs are images in [0, 1]; `decode` returns images in [0, 1]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.is_variational = config.family == "vae"
        self.latent_dim = config.latent_dim
        self.encoder = Encoder(config)
        c, s = self.encoder.out_channels, self.encoder.out_size
        self._feature_shape = (c, s, s)
        flat = c * s * s
        heads = 2 if self.is_variational else 1
        self.to_latent = nn.Linear(flat, heads * config.latent_dim)
        after_latent: list[nn.Module] = []
        if config.latent_fc:
            after_latent = [nn.Linear(config.latent_dim, config.latent_dim), _activation(config.activation)]
        self.latent_fc = nn.Sequential(*after_latent)
        self.from_latent = nn.Linear(config.latent_dim, flat)
        self.decoder = Decoder(config)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _encode_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        h, features = self.encoder(x)
        params = self.to_latent(h.flatten(1))
        if self.is_variational:
            mean, logvar = params.chunk(2, dim=1)
            return mean, logvar.clamp(-30.0, 20.0), features
        return params, None, features

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Posterior mean and log-variance (VAE), or the code and None (AE)."""
        mean, logvar, _ = self._encode_features(x)
        return mean, logvar

    def decode_logits(self, z: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        h = self.from_latent(self.latent_fc(z)).view(-1, *self._feature_shape)
        if self.decoder.channels_last:
            # The first up-sampling would otherwise run in NCHW and its conv convert 4x the data to channels-last.
            h = h.contiguous(memory_format=torch.channels_last)
        return self.decoder(h, skips if self.config.skip_connections else None)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1]. Skip-connection models decode without their skips here, as any sampler must."""
        return images_from_logits(self.decode_logits(z))

    def draw_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Raw noise for n codes as `reparameterize` takes it: uniform in [0, 1) for the uniform variants, else
        standard normal. Float32 (n, latent_dim) on the generator's device (the CPU by default)."""
        shape = (n, self.latent_dim)
        if self.config.reparam in _UNIFORM_REPARAMS:
            return torch.rand(shape, generator=generator)
        return torch.randn(shape, generator=generator)

    def reparameterize(self, mean: torch.Tensor, logvar: torch.Tensor,
                       noise: torch.Tensor | None = None) -> torch.Tensor:
        """Draw z from q(z|x). Only "normal" is correct; the others reproduce the original study's variants.

        `noise` (as from `draw_noise`) makes the draw reproducible: the training loop passes noise from (seed, step)
        so that every torchrun rank and a resumed run use the same. None: drawn here from torch's global RNG.
        """
        kind = self.config.reparam
        if noise is None:
            noise = torch.rand_like(mean) if kind in _UNIFORM_REPARAMS else torch.randn_like(mean)
        else:
            noise = noise.to(device=mean.device, dtype=mean.dtype)
        if kind == "normal":
            return mean + torch.exp(0.5 * logvar) * noise
        if kind == "exp_logvar":                   # treats exp(logvar) as the std: the variance is squared
            return mean + torch.exp(logvar) * noise
        if kind == "uniform01":                    # non-zero-mean noise: shifts every code by +std/2
            return mean + torch.exp(0.5 * logvar) * noise
        return mean + torch.exp(0.5 * logvar) * (2.0 * noise - 1.0)   # uniform_pm1

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> ModelOutput:
        """`noise`: optional reparameterization noise (see `reparameterize`); used by a training-mode VAE only."""
        mean, logvar, features = self._encode_features(x)
        z = mean
        if self.is_variational and self.training:
            z = self.reparameterize(mean, logvar, noise)
        skips = features if self.config.skip_connections else None
        return ModelOutput(logits=self.decode_logits(z, skips), mean=mean, logvar=logvar, z=z)


def build_model(config: ModelConfig) -> FaceModel:
    return FaceModel(config)
