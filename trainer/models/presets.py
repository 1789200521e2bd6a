"""Named model presets: our recommended default, and the six structures of the original study.

The study presets exist so its experiments can be rerun and compared; they are historical, not recommended.
"""
from __future__ import annotations

from dataclasses import fields, replace

from trainer.config import ConfigError, ModelConfig

# Conv + max-pool encoder, transposed-conv decoder, ReLU, no normalization: the original study's backbone.
_STUDY_BACKBONE = ModelConfig(base_channels=32, max_channels=256, depth=4, norm="none", activation="relu",
                              downsample="maxpool", upsample="transpose")

PRESETS: dict[str, ModelConfig] = {
    # Default: strided convolutions, GroupNorm (batch-size independent, same in train and eval), SiLU,
    # nearest-neighbour up-sampling + conv (no checkerboard artefacts), sigmoid output for [0, 1] pixels,
    # and a small latent so every dimension gets a slider. Trains well on 64x64 faces on a CPU.
    "default": ModelConfig(family="vae", preset="default", latent_dim=16, base_channels=32, max_channels=256,
                           depth=4, norm="group", activation="silu"),
    # The same network as a plain autoencoder: sample it through a sampler fitted to its codes.
    "default-ae": ModelConfig(family="ae", preset="default-ae", latent_dim=16, base_channels=32, max_channels=256,
                              depth=4, norm="group", activation="silu"),
    # Photo: the recipe for folders of real face photos, chosen by measurement at a fixed CPU budget (see
    # resources/README.md): a 256-d latent, trained with a calibrated decoder (PRESET_TRAIN_SETTINGS) so beta 1 is
    # a true ELBO; samples come from a density fitted to the encoded training faces. No normalization: on a CPU
    # GroupNorm took over a third of the step, and without it the same minutes train 1.65x more steps (better, too).
    "photo": ModelConfig(family="vae", preset="photo", latent_dim=256, base_channels=32, max_channels=256,
                         depth=4, norm="none", activation="silu", output="shuffle"),
    # study-ae-01: conv + max-pool encoder, transposed-conv decoder, 1024-d bottleneck.
    "study-ae-01": replace(_STUDY_BACKBONE, family="ae", preset="study-ae-01", latent_dim=1024),
    # study-ae-02: as ae-01 plus encoder->decoder skips; reconstructions bypass the bottleneck, so they look
    # good while decoding a code alone (sampling) does not.
    "study-ae-02": replace(_STUDY_BACKBONE, family="ae", preset="study-ae-02", latent_dim=1024,
                           skip_connections=True),
    # study-vae-01: 512-d VAE whose reparameterization adds uniform noise in [0, 1): biased, non-Gaussian.
    "study-vae-01": replace(_STUDY_BACKBONE, family="vae", preset="study-vae-01", latent_dim=512,
                            reparam="uniform01"),
    # study-vae-02: uniform noise in [-1, 1): zero-mean but not the Gaussian the KL term assumes.
    "study-vae-02": replace(_STUDY_BACKBONE, family="vae", preset="study-vae-02", latent_dim=512,
                            reparam="uniform_pm1"),
    # study-vae-03: Gaussian noise but std = exp(logvar) instead of exp(logvar / 2).
    "study-vae-03": replace(_STUDY_BACKBONE, family="vae", preset="study-vae-03", latent_dim=512,
                            reparam="exp_logvar"),
    # study-vae-04: as 03 plus a fully connected layer after the latent.
    "study-vae-04": replace(_STUDY_BACKBONE, family="vae", preset="study-vae-04", latent_dim=512,
                            reparam="exp_logvar", latent_fc=True),
}


# Training settings a preset recommends; the CLI and the Train tab apply them where the user set nothing else.
PRESET_TRAIN_SETTINGS: dict[str, dict] = {
    "photo": {"recon_loss": "gaussian", "beta": 1.0, "kl_warmup_steps": 0, "batch_size": 128, "lr": 2e-3},
}
PRESET_DATA_SETTINGS: dict[str, dict] = {
    "photo": {"hflip": True},      # faces are nearly symmetric: flips double a small photo folder
}


def default_preset_for(data_source: str) -> str:
    """The preset used when none is named: `photo` for image folders, `default` for the synthetic faces."""
    return "default" if data_source == "synthetic" else "photo"


def preset_config(name: str, **overrides) -> ModelConfig:
    """The named preset with any fields overridden (e.g. latent_dim=32)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - {f.name for f in fields(ModelConfig)})
    if unknown:
        raise ConfigError(f"unknown model setting(s) for preset {name!r}: {', '.join(unknown)}")
    config = replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
    config.validate()
    return config
