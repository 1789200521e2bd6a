"""Configuration dataclasses. Every checkpoint stores their dicts, so a model can be rebuilt from the file alone."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, TypeVar

from trainer.errors import UserError


class ConfigError(UserError, ValueError):
    """A configuration value is missing, unknown or out of range."""


FAMILIES = ("ae", "vae")
NORMS = ("group", "batch", "none")
ACTIVATIONS = ("silu", "relu", "leaky_relu", "gelu")
REPARAMS = ("normal", "uniform01", "uniform_pm1", "exp_logvar")
DOWNSAMPLES = ("stride", "maxpool")
UPSAMPLES = ("nearest", "transpose")
OUTPUTS = ("conv", "shuffle")
IMAGE_SIZES = (32, 64, 128)
EPOCH_LIMIT = 100_000           # the most epochs a run may ask for (a time-budgeted run's default limit)
MAX_CHANNELS = 1024                # conv channels per layer
MAX_PARAMETERS = 200_000_000       # far above any face model here; refuses configs that would exhaust memory
MAX_FEATURE_ELEMENTS = 4 * 2**20   # the largest feature map of one image (16 MB in fp32; a batch holds many)
MAX_SYNTHETIC_COUNT = 1_000_000
MAX_SYNTHETIC_BYTES = 8 * 2**30    # the uint8 images of a synthetic data set held in memory
MAX_SEED = 2**32 - 1               # seeds are mixed into 64-bit generator seeds; larger ones would overflow them
MAX_WEIGHT = 1e6                   # any loss weight (beta, tc_weight, ...) above this only makes the loss overflow


@dataclass
class ModelConfig:
    """What network to build. Presets in `trainer.models.presets` fill these in."""

    family: str = "vae"
    preset: str = "default"
    latent_dim: int = 16
    base_channels: int = 32
    max_channels: int = 256
    depth: int = 4                  # number of 2x down-samplings in the encoder (and up-samplings in the decoder)
    norm: str = "group"
    activation: str = "silu"
    image_size: int = 64
    channels: int = 3
    downsample: str = "stride"      # "stride": strided convolutions; "maxpool": conv + max-pool (original study)
    upsample: str = "nearest"       # "nearest": resize + conv (no checkerboard); "transpose": transposed convolutions
    output: str = "conv"            # "conv": a conv at full size; "shuffle": the last up-sampling by pixel shuffle
    reparam: str = "normal"         # the correct one; the others reproduce the original study's variants
    skip_connections: bool = False  # encoder -> decoder skips (study-ae-02)
    latent_fc: bool = False         # an extra fully connected layer after the latent (study-vae-04)
    res_blocks: int = 0             # residual blocks after each encoder and decoder stage (the photo preset's)

    def validate(self) -> None:
        check_finite_numbers(self)
        _check_choice("family", self.family, FAMILIES)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("reparam", self.reparam, REPARAMS)
        _check_choice("downsample", self.downsample, DOWNSAMPLES)
        _check_choice("upsample", self.upsample, UPSAMPLES)
        _check_choice("output", self.output, OUTPUTS)
        if self.output == "shuffle" and self.skip_connections:
            raise ConfigError("output 'shuffle' drops the decoder's last stage, which the skip connections need; "
                              "use output 'conv' with skip_connections")
        _check_choice("image_size", self.image_size, IMAGE_SIZES)
        _check_range("latent_dim", self.latent_dim, 1, 4096)
        _check_range("base_channels", self.base_channels, 1, MAX_CHANNELS)
        _check_range("max_channels", self.max_channels, 1, MAX_CHANNELS)
        _check_range("channels", self.channels, 1, 4)
        _check_range("depth", self.depth, -10**9, 10**9)       # a whole number; its range depends on image_size
        _check_range("res_blocks", self.res_blocks, 0, 4)
        if not 1 <= self.depth or self.image_size >> self.depth < 1:
            raise ConfigError(f"depth {self.depth} does not fit image size {self.image_size}")
        # Checked before any tensor exists: a crafted config must not make us allocate tens of gigabytes.
        params = estimate_parameters(self)
        if params > MAX_PARAMETERS:
            raise ConfigError(f"the model would have {params / 1e6:,.0f} M parameters (base_channels "
                              f"{self.base_channels}, max_channels {self.max_channels}, depth {self.depth}, "
                              f"latent_dim {self.latent_dim}); at most {MAX_PARAMETERS / 1e6:,.0f} M are allowed")
        features = estimate_feature_elements(self)
        if features > MAX_FEATURE_ELEMENTS:
            raise ConfigError(f"the model's largest feature map would hold {features:,} values per image "
                              f"(base_channels {self.base_channels} at {self.image_size} px); at most "
                              f"{MAX_FEATURE_ELEMENTS:,} are allowed, or a batch would not fit in memory")


def estimate_parameters(config: ModelConfig) -> int:
    """The parameter count of the network `trainer.models.networks.build_model(config)` builds, from the config alone.

    Pure arithmetic, so a size can be refused before anything is allocated; tests compare it with a real model.
    """
    stages = [min(config.base_channels * 2 ** i, config.max_channels) for i in range(config.depth)]
    norm = 2 if config.norm in ("group", "batch") else 0       # weight and bias per channel
    total, in_ch = 0, config.channels
    kernel = 16 if config.downsample == "stride" else 9
    for out_ch in stages:                                      # encoder
        total += in_ch * out_ch * kernel + out_ch + norm * out_ch
        in_ch = out_ch
    flat = stages[-1] * (config.image_size >> config.depth) ** 2
    heads = 2 if config.family == "vae" else 1
    latent = config.latent_dim
    total += flat * heads * latent + heads * latent            # to_latent
    if config.latent_fc:
        total += latent * latent + latent
    total += latent * flat + flat                              # from_latent
    channels = stages[::-1]
    outs = channels[1:] + [channels[-1]]
    if config.output == "shuffle":                             # no last stage; to_image makes 4x the channels
        channels, outs = channels[:-1], outs[:-1]
    kernel = 16 if config.upsample == "transpose" else 9
    for in_ch, out_ch in zip(channels, outs):                  # decoder
        total += in_ch * out_ch * kernel + out_ch + norm * out_ch
    image_channels = config.channels * (4 if config.output == "shuffle" else 1)
    total += (outs[-1] if outs else stages[-1]) * image_channels * 9 + image_channels    # to_image
    return total


def estimate_feature_elements(config: ModelConfig) -> int:
    """The largest activation of one image in the network (values), from the config alone: it sets the memory a
    batch needs in training, evaluation and the explorer."""
    largest, size = 0, config.image_size
    for i, channels in enumerate(min(config.base_channels * 2 ** i, config.max_channels) for i in range(config.depth)):
        full = size >> i                          # a max-pool stage convolves at full size before pooling
        conv_size = full if config.downsample == "maxpool" else full // 2
        largest = max(largest, channels * conv_size ** 2)
        # the decoder's mirror stage up-samples to the same size (then convolves)
        largest = max(largest, channels * full ** 2 if i else channels * size ** 2)
    return largest


@dataclass
class DataConfig:
    """Where the images come from and how they are prepared."""

    source: str = "synthetic"       # "synthetic" or a folder path
    image_size: int = 64
    test_fraction: float = 0.1      # for flat folders and synthetic data
    synthetic_count: int = 20000    # total synthetic faces (train + test)
    synthetic_seed: int = 0
    hflip: bool = False             # random horizontal flips during training
    cache_dir: str | None = None    # default: the user's cache folder

    def validate(self) -> None:
        check_finite_numbers(self)
        _check_choice("image_size", self.image_size, IMAGE_SIZES)
        _check_range("synthetic_seed", self.synthetic_seed, 0, MAX_SEED)
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction must be between 0 and 1, got {self.test_fraction}")
        _check_range("synthetic_count", self.synthetic_count, 2, MAX_SYNTHETIC_COUNT)
        # The faces are held in memory as uint8 (count x 3 x size x size), plus float rendering buffers.
        size_bytes = self.synthetic_count * 3 * self.image_size ** 2
        if size_bytes > MAX_SYNTHETIC_BYTES:
            raise ConfigError(f"synthetic_count {self.synthetic_count} at {self.image_size} px needs "
                              f"{size_bytes / 2**30:.1f} GiB of memory; at most {MAX_SYNTHETIC_BYTES / 2**30:.0f} GiB "
                              f"are allowed (use fewer faces or a smaller image size)")

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"


@dataclass
class TrainConfig:
    """How to train."""

    epochs: int = 20
    max_steps: int = 0              # stop after this many steps (0: run all epochs)
    time_budget_minutes: float = 0.0  # plan the step count so the whole run ends within this wall time (0: off)
    batch_size: int = 64            # the global batch, also under torchrun
    lr: float = 2e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    schedule: str = "cosine"        # "cosine" decays to 5% of lr over the run; "constant"
    beta: float = 1.0               # weight of the KL term (the original study's "sigma")
    kl_warmup_steps: int = 0        # beta ramps linearly from 0 over this many steps
    tc_weight: float = 0.0          # extra weight on the total-correlation part of the KL (beta-TCVAE; 0: off)
    factor_supervision: float = 0.0  # weight pulling latent dim k onto true factor k (synthetic data; 0: off)
    label_fraction: float = 1.0     # share of training faces whose factor labels that supervision may use
    recon_loss: str = "mse"
    grad_clip: float = 5.0          # max gradient norm (0: off)
    seed: int = 0
    device: str = "auto"            # "auto", "cpu", "cuda", "cuda:1", "mps"
    threads: int = 0                # torch CPU threads (0: torch's default)
    precision: str = "auto"         # "auto" (bf16 where the hardware has it), "bf16", "fp32"
    channels_last: str = "auto"     # "auto", "on", "off"
    compile: bool = False           # torch.compile the model (helps on GPU)
    eval_every_steps: int = 0       # extra validation every N steps (0: once per epoch)
    preview_every_s: float = 0.0    # live preview images every N seconds (the GUI sets this; 0: off)
    log_every_steps: int = 10
    n_preview: int = 8              # validation images in the reconstruction grid
    n_samples: int = 64             # random samples in the sample grid
    final_eval: bool = True         # run the full metrics at the end
    run_name: str = ""
    runs_dir: str = "runs"

    def validate(self) -> None:
        check_finite_numbers(self)
        _check_range("epochs", self.epochs, 1, EPOCH_LIMIT)
        _check_range("seed", self.seed, 0, MAX_SEED)
        _check_range("batch_size", self.batch_size, 1, 65536)
        _check_range("max_steps", self.max_steps, 0, 10**9)
        _check_range("kl_warmup", self.kl_warmup_steps, 0, 10**9)
        _check_range("eval_every", self.eval_every_steps, 0, 10**9)
        _check_range("log_every_steps", self.log_every_steps, 1, 10**9)
        _check_range("threads", self.threads, 0, 1024)
        _check_range("n_preview", self.n_preview, 1, 256)
        _check_range("n_samples", self.n_samples, 1, 1024)
        if not 0.0 <= self.time_budget_minutes <= 100_000:
            raise ConfigError(f"time_budget must be between 0 and 100000 minutes, got {self.time_budget_minutes}")
        if not 0.0 < self.lr < 1.0:
            raise ConfigError(f"lr must be between 0 and 1, got {self.lr}")
        for name in ("beta", "tc_weight", "factor_supervision"):
            if not 0.0 <= getattr(self, name) <= MAX_WEIGHT:
                raise ConfigError(f"{name} must be between 0 and {MAX_WEIGHT:g}, got {getattr(self, name)}")
        if not 0.0 <= self.weight_decay <= 10.0:
            raise ConfigError(f"weight_decay must be between 0 and 10, got {self.weight_decay}")
        for name in ("grad_clip", "preview_every_s"):
            if not 0.0 <= getattr(self, name) <= 1e9:
                raise ConfigError(f"{name} must be between 0 and 1e9, got {getattr(self, name)}")
        if not 0.0 <= self.label_fraction <= 1.0:
            raise ConfigError(f"label_fraction must be between 0 and 1, got {self.label_fraction}")
        _check_choice("optimizer", self.optimizer, ("adam", "adamw"))
        _check_choice("schedule", self.schedule, ("cosine", "constant"))
        _check_choice("recon_loss", self.recon_loss, ("mse", "bce", "gaussian"))
        _check_choice("precision", self.precision, ("auto", "bf16", "fp32"))
        _check_choice("channels_last", self.channels_last, ("auto", "on", "off"))
        if "/" in self.run_name or "\\" in self.run_name or "\0" in self.run_name or self.run_name.startswith("."):
            raise ConfigError(f"name {self.run_name!r}: the run name must be a plain folder name")
        if len(os.fsencode(self.run_name)) > 200:
            raise ConfigError(f"name {short_repr(self.run_name)}: the run name is {len(os.fsencode(self.run_name))} "
                              f"bytes long; at most 200 are allowed")


@dataclass
class RunConfig:
    """Everything one training run needs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        self.model.validate()
        self.data.validate()
        self.train.validate()
        if self.model.image_size != self.data.image_size:
            raise ConfigError(
                f"model image size {self.model.image_size} differs from data image size {self.data.image_size}")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {"model": dataclasses.asdict(self.model), "data": dataclasses.asdict(self.data),
                "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        unknown = sorted(set(d) - {"model", "data", "train"})
        if unknown:
            raise ConfigError(f"unknown config section(s): {', '.join(map(str, unknown))}")
        for section in ("model", "data", "train"):
            if not isinstance(d.get(section, {}), dict):
                raise ConfigError(f"config section {section!r} must be a mapping, got {d[section]!r}")
        return cls(model=config_from_dict(ModelConfig, d.get("model", {})),
                   data=config_from_dict(DataConfig, d.get("data", {})),
                   train=config_from_dict(TrainConfig, d.get("train", {})))


T = TypeVar("T")


def config_from_dict(cls: type[T], values: dict[str, Any], context: str = "") -> T:
    """Build a config dataclass, refusing unknown keys and values of the wrong type."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    where = f" in {context}" if context else ""
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} key(s){where}: {', '.join(unknown)}")
    defaults = cls()
    clean = {}
    for name, value in values.items():
        clean[name] = _coerce(name, value, getattr(defaults, name), where)
    return cls(**clean)


def replace_config(config: T, **changes: Any) -> T:
    """dataclasses.replace with the same checks as config_from_dict."""
    merged = {**dataclasses.asdict(config), **changes}
    return config_from_dict(type(config), merged)


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:           # a 400-digit whole number
                raise ConfigError(f"{name}{where} is too large: {short_repr(value)}") from None
            if not math.isfinite(number):
                raise ConfigError(f"{name}{where} must be a finite number, got {value!r}")
            return number
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    raise ConfigError(f"{name}{where} must be a {type(default).__name__}, got {short_repr(value)}")


def check_finite_numbers(section: Any) -> None:
    """Refuse nan and infinity in any number of a config section: no range check can catch nan (every comparison
    with it is false), and one would otherwise surface only at the first training step."""
    for item in dataclasses.fields(section):
        value = getattr(section, item.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{item.name} must be a finite number, got {value}")


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number, got {short_repr(value)}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {short_repr(value)}")


def short_repr(value: Any, limit: int = 40) -> str:
    """repr() of a value for a one-line message: a 400-digit number or a long text is cut with '...'."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
