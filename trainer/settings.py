"""A run's settings: one table of named settings, and the one function that turns them into a RunConfig.

The CLI flags (`--kl-warmup` is the setting `kl_warmup`), the Train tab's form, the experiments file, and the run
files of `vae-train train --config` / `--print-config` all use these names, these defaults and
`run_config_from_settings()`. A setting not given takes, in order: what the preset recommends
(`trainer.models.presets.PRESET_TRAIN_SETTINGS`), the base config's value (the form's), the config's default.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:      # Python 3.10
    import tomli as tomllib

from trainer.config import (ACTIVATIONS, DOWNSAMPLES, EPOCH_LIMIT, FAMILIES, IMAGE_SIZES, NORMS, REPARAMS,
                            OUTPUTS, UPSAMPLES, ConfigError, RunConfig, short_repr)
from trainer.names import printable
from trainer.models.presets import PRESET_DATA_SETTINGS, PRESET_TRAIN_SETTINGS, PRESETS, default_preset_for


@dataclass(frozen=True)
class Setting:
    """One named setting and the config field(s) it sets ("train.kl_warmup_steps")."""

    name: str
    targets: tuple[str, ...]
    kind: type                       # bool, int, float or str
    help: str
    choices: tuple = ()
    optional: bool = False           # may be left unset (None), e.g. cache_dir
    resumable: bool = False          # `train --resume` may change it (where and how long, not what is learned)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def section(self) -> str:
        return self.targets[0].split(".")[0]

    @property
    def field(self) -> str:
        return self.targets[0].split(".")[1]


def _s(name: str, target: str | tuple[str, ...], kind: type, help: str, **extra: Any) -> Setting:
    targets = (target,) if isinstance(target, str) else target
    return Setting(name, targets, kind, help, **extra)


_LOSSES = ("mse", "bce", "gaussian")
SETTINGS: tuple[Setting, ...] = (
    # ---- the model (default: the preset's)
    _s("preset", "model.preset", str, "model structure and the training settings it recommends (default: photo "
       "for an image folder, default for synthetic faces)", choices=tuple(PRESETS)),
    _s("family", "model.family", str, "ae: a plain autoencoder; vae: variational", choices=FAMILIES),
    _s("latent_dim", "model.latent_dim", int, "latent size"),
    _s("base_channels", "model.base_channels", int, "first conv layer's channels (doubling per stage)"),
    _s("max_channels", "model.max_channels", int, "the most channels of any conv layer"),
    _s("depth", "model.depth", int, "number of 2x down-samplings in the encoder (and up-samplings in the decoder)"),
    _s("norm", "model.norm", str, "normalization layers", choices=NORMS),
    _s("activation", "model.activation", str, "activation function", choices=ACTIVATIONS),
    _s("channels", "model.channels", int, "image channels (3: RGB)"),
    _s("downsample", "model.downsample", str, "stride: strided convolutions; maxpool: conv + max-pool",
       choices=DOWNSAMPLES),
    _s("upsample", "model.upsample", str, "nearest: resize + conv; transpose: transposed convolutions",
       choices=UPSAMPLES),
    _s("output", "model.output", str, "conv: the image from a conv at full size; shuffle: the last up-sampling by "
       "pixel shuffle (sub-pixel convolution; the photo preset's, 2x faster on a CPU)", choices=OUTPUTS),
    _s("reparam", "model.reparam", str, "reparameterization noise (normal is correct; the others reproduce the "
       "original study's variants)", choices=REPARAMS),
    _s("skip_connections", "model.skip_connections", bool, "encoder-to-decoder skips (study-ae-02)"),
    _s("latent_fc", "model.latent_fc", bool, "a fully connected layer after the latent (study-vae-04)"),
    _s("res_blocks", "model.res_blocks", int, "residual blocks after each encoder and decoder stage"),
    _s("image_size", ("model.image_size", "data.image_size"), int, "image size in pixels", choices=IMAGE_SIZES),
    # ---- the data
    _s("data", "data.source", str, "'synthetic' (built-in faces) or an image folder (DIR/train + DIR/test, or "
       "any folder of images, split by file path)"),
    _s("test_fraction", "data.test_fraction", float, "test share of a flat folder or of the synthetic faces"),
    _s("synthetic_count", "data.synthetic_count", int, "number of synthetic faces (train + test)"),
    _s("synthetic_seed", "data.synthetic_seed", int, "seed that draws the synthetic faces"),
    _s("hflip", "data.hflip", bool, "random horizontal flips"),
    _s("cache_dir", "data.cache_dir", str, "data cache folder (default: the user's cache folder)", optional=True),
    # ---- training
    _s("epochs", "train.epochs", int, "passes over the training set (an upper limit with a time budget)",
       resumable=True),
    _s("max_steps", "train.max_steps", int, "stop after this many steps (0: no limit)", resumable=True),
    _s("time_budget", "train.time_budget_minutes", float, "plan the run to end, final evaluation included, "
       "within this many minutes (0: off; epochs and max_steps stay upper limits)", resumable=True),
    _s("batch_size", "train.batch_size", int, "global batch size (split over torchrun's processes)",
       resumable=True),
    _s("lr", "train.lr", float, "learning rate", resumable=True),
    _s("weight_decay", "train.weight_decay", float, "the optimizer's weight decay"),
    _s("optimizer", "train.optimizer", str, "optimizer", choices=("adamw", "adam")),
    _s("schedule", "train.schedule", str, "learning-rate schedule (cosine decays to 5% of lr)",
       choices=("cosine", "constant")),
    _s("beta", "train.beta", float, "weight of the KL term (the original study's sigma is 0.189 beta at 64 px)",
       resumable=True),
    _s("kl_warmup", "train.kl_warmup_steps", int, "steps over which beta ramps up from 0", resumable=True),
    _s("tc_weight", "train.tc_weight", float, "extra weight on the KL's total-correlation part (beta-TCVAE), for "
       "more disentangled latents"),
    _s("factor_supervision", "train.factor_supervision", float, "weight tying latent dim k to true factor k "
       "(synthetic data only; 0: unsupervised)"),
    _s("label_fraction", "train.label_fraction", float, "share of training faces whose factor labels the "
       "supervision uses"),
    _s("recon_loss", "train.recon_loss", str, "reconstruction loss; gaussian: a calibrated decoder (sigma-VAE), "
       "with which beta 1 is a true ELBO", choices=_LOSSES),
    _s("grad_clip", "train.grad_clip", float, "largest gradient norm (0: no clipping)"),
    _s("seed", "train.seed", int, "random seed"),
    _s("device", "train.device", str, "auto, cpu, cuda, cuda:N or mps", resumable=True),
    _s("threads", "train.threads", int, "CPU threads for torch (0: torch's default)", resumable=True),
    _s("precision", "train.precision", str, "autocast precision (weights stay fp32)",
       choices=("auto", "bf16", "fp32"), resumable=True),
    _s("channels_last", "train.channels_last", str, "channels-last memory layout", choices=("auto", "on", "off"),
       resumable=True),
    _s("compile", "train.compile", bool, "torch.compile the model (helps on GPUs)", resumable=True),
    _s("eval_every", "train.eval_every_steps", int, "also validate every N steps (0: once per epoch)",
       resumable=True),
    _s("preview_every_s", "train.preview_every_s", float, "live preview images every N seconds (0: off)",
       resumable=True),
    _s("log_every_steps", "train.log_every_steps", int, "write step metrics every N steps", resumable=True),
    _s("n_preview", "train.n_preview", int, "validation images in the reconstruction grid"),
    _s("n_samples", "train.n_samples", int, "random samples in the sample grid"),
    _s("final_eval", "train.final_eval", bool, "full metrics at the end", resumable=True),
    _s("name", "train.run_name", str, "run directory name (default: preset and time)"),
    _s("runs_dir", "train.runs_dir", str, "where run directories are created"),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
BY_TARGET: dict[str, Setting] = {target: s for s in SETTINGS for target in s.targets}

# The settings a preset may recommend (PRESET_TRAIN_SETTINGS and PRESET_DATA_SETTINGS use field names).
_PRESET_TABLES = (("train", PRESET_TRAIN_SETTINGS), ("data", PRESET_DATA_SETTINGS))
RECOMMENDED = tuple(dict.fromkeys(BY_TARGET[f"{section}.{key}"].name for section, table in _PRESET_TABLES
                                  for recommended in table.values() for key in recommended))


class SettingsError(ConfigError):
    """A setting is unknown, of the wrong type or out of range; the message names it (and the file)."""


# ---------------------------------------------------------------- defaults

def default_value(name: str) -> Any:
    """A setting's value when nothing sets it: the config's default (a model setting: the default preset's)."""
    setting = BY_NAME[name]
    default = RunConfig(model=PRESETS["default"])
    return getattr(getattr(default, setting.section), setting.field)


def recommended_settings(preset: str) -> dict[str, Any]:
    """What `preset` recommends for every setting any preset recommends (the default where it says nothing)."""
    if preset not in PRESETS:
        raise SettingsError(f"setting 'preset': unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = {}
    for name in RECOMMENDED:
        setting = BY_NAME[name]
        table = PRESET_TRAIN_SETTINGS if setting.section == "train" else PRESET_DATA_SETTINGS
        chosen[name] = table.get(preset, {}).get(setting.field, default_value(name))
    return chosen


# ---------------------------------------------------------------- settings -> RunConfig

def run_config_from_settings(settings: Mapping[str, Any], base: RunConfig | None = None,
                             where: str = "") -> RunConfig:
    """The validated RunConfig for `settings` (setting name -> value); settings not given come from the preset's
    recommendations, then `base` (or the defaults). A preset other than base's replaces the base's model.

    Raises SettingsError naming the setting (and `where`, e.g. the file, when given).
    """
    prefix = f"{where}: " if where else ""
    try:
        values = check_settings(settings)
        config = _resolve(values, base)
        config.validate()
        _check_supervision(config)
    except ConfigError as error:
        raise SettingsError(f"{prefix}{error}") from None
    return config


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with names checked and values of the right type (whole numbers accepted for decimals)."""
    clean = {}
    for name, value in settings.items():
        if name not in BY_NAME:
            raise SettingsError(unknown_setting_message(name))
        clean[name] = _checked_value(BY_NAME[name], value)
    return clean


def unknown_setting_message(name: Any) -> str:
    """'unknown setting ...', with the setting it probably means (a config field name, a typo)."""
    text = f"unknown setting {name!r}"
    if isinstance(name, str):
        as_field = BY_TARGET.get(next((t for t in BY_TARGET if t.endswith("." + name)), ""))
        close = difflib.get_close_matches(name.replace("-", "_"), list(BY_NAME), n=1)
        if as_field is not None and as_field.name != name:
            return f"{text}: it is called {as_field.name!r}"
        if close:
            return f"{text}: did you mean {close[0]!r}?"
    return f"{text}; the settings are listed by `vae-train train --help`"


def _checked_value(setting: Setting, value: Any) -> Any:
    if value is None and setting.optional:
        return None
    kind = setting.kind
    ok = (isinstance(value, bool) if kind is bool
          else isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
          else isinstance(value, int) and not isinstance(value, bool) if kind is int
          else isinstance(value, str))
    if not ok:
        expected = {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}[kind]
        raise SettingsError(f"setting {setting.name!r} must be {expected}, got {short_repr(value)}")
    if setting.choices and value not in setting.choices:
        raise SettingsError(f"setting {setting.name!r} must be one of {', '.join(map(str, setting.choices))}; "
                            f"got {short_repr(value)}")
    if kind is float or kind is int:
        try:
            number = float(value)
        except OverflowError:       # a whole number of hundreds of digits
            number = math.inf
        if not math.isfinite(number):
            raise SettingsError(f"setting {setting.name!r} must be a finite number, got "
                                f"{short_repr(value)}")
        return number if kind is float else value
    return value


def _resolve(values: dict[str, Any], base: RunConfig | None) -> RunConfig:
    start = base or RunConfig()
    source = values.get("data", start.data.source)
    preset = values.get("preset") or (base.model.preset if base else default_preset_for(source))
    sections = {"model": dataclasses.asdict(start.model), "data": dataclasses.asdict(start.data),
                "train": dataclasses.asdict(start.train)}
    chosen: dict[str, Any] = {}
    if base is None or preset != base.model.preset:
        sections["model"] = dataclasses.asdict(PRESETS[preset])
        sections["model"]["image_size"] = start.data.image_size
        chosen.update(recommended_settings(preset))
    chosen.update(values)
    chosen["preset"] = preset
    # With a time budget and no epoch count the budget alone ends the run.
    if base is None and "epochs" not in values and chosen.get("time_budget", 0.0) > 0:
        chosen["epochs"] = EPOCH_LIMIT
    if chosen.get("data", "synthetic") != "synthetic":
        chosen["data"] = str(Path(chosen["data"]).expanduser().resolve())
    for name, value in chosen.items():
        for target in BY_NAME[name].targets:
            section, field = target.split(".")
            sections[section][field] = value
    return RunConfig.from_dict(sections)


def _check_supervision(config: RunConfig) -> None:
    if config.train.factor_supervision <= 0:
        return
    from trainer.data.synthetic import FACTOR_NAMES
    from trainer.models.supervision import check_supervisable
    data = config.data
    check_supervisable(len(FACTOR_NAMES) if data.is_synthetic else 0, config.model.latent_dim,
                       data.source, hflip=data.hflip)


# ---------------------------------------------------------------- RunConfig -> settings, run files

def settings_from_config(config: RunConfig) -> dict[str, Any]:
    """Every setting's value in `config` (unset optional ones left out): run_config_from_settings() of it gives
    `config` back."""
    values = {}
    for setting in SETTINGS:
        value = getattr(getattr(config, setting.section), setting.field)
        if value is not None:
            values[setting.name] = value
    return values


def format_settings(config: RunConfig) -> str:
    """`config` as a run file (TOML, one line per setting), ready for `vae-train train --config FILE`."""
    values = settings_from_config(config)
    lines = ["# vae-train run settings: `vae-train train --config THIS_FILE` trains this run again; flags given",
             "# with --config override these. The model settings below override the preset's."]
    heading = None
    for setting in SETTINGS:
        if setting.section != heading:
            heading = setting.section
            lines += ["", f"# ---- {heading}"]
        if setting.name in values:
            lines.append(f"{setting.name} = {_toml_value(values[setting.name])}")
        else:
            lines.append(f"# {setting.name} = \"\"    # {setting.help}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)           # repr round-trips a float exactly; TOML reads inf and nan the same way
    if not _is_utf8(value):          # a file name with bytes that are not UTF-8 (see _paths_from_run_file)
        return f'{{ {PATH_BYTES_KEY} = "{os.fsencode(value).hex()}" }}    # {printable(value)}'
    return json.dumps(value)         # a TOML basic string: JSON's escapes are TOML's


# A TOML string holds UTF-8 text only; a name the OS allows that is not UTF-8 (b'\xff') goes in a run file as its
# bytes in hex: name = { path_bytes_hex = "2f746d702fff" }.
PATH_BYTES_KEY = "path_bytes_hex"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:       # lone surrogates: the bytes of a non-UTF-8 name (or any non-ASCII under LC_ALL=C)
        return False
    return True


def _paths_from_run_file(document: dict[str, Any]) -> dict[str, Any]:
    """The run file's values with names written as bytes ({path_bytes_hex = ...}) turned back into OS names."""
    values = {}
    for name, value in document.items():
        if isinstance(value, dict) and set(value) == {PATH_BYTES_KEY} and isinstance(value[PATH_BYTES_KEY], str):
            try:
                value = os.fsdecode(bytes.fromhex(value[PATH_BYTES_KEY]))
            except ValueError:
                raise SettingsError(f"setting {name!r}: {PATH_BYTES_KEY} must be hexadecimal digits") from None
        values[name] = value
    return values


def read_settings_file(path: Path | str) -> dict[str, Any]:
    """The settings in a run file (TOML, `name = value` lines), names and types checked."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(f"cannot read settings file {printable(path)}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{printable(path)} is not a text file of settings (it is not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{printable(path)} is not valid TOML: {error}") from None
    try:
        return check_settings(_paths_from_run_file(document))
    except SettingsError as error:
        raise SettingsError(f"{printable(path)}: {error}") from None
