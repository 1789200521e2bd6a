"""`vae-train train`: its flags are generated from the settings table (`--kl-warmup` is the setting `kl_warmup`)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainer.config import ConfigError, RunConfig
from trainer.names import printable
from trainer.package import install_command
from trainer.settings import (BY_NAME, RECOMMENDED, SETTINGS, Setting, default_value, format_settings,
                              read_settings_file, run_config_from_settings)

GROUPS = {"model": "model (default: the preset's)", "data": "data", "train": "training"}
METAVARS = {"time_budget": "MINUTES", "preview_every_s": "SECONDS", "data": "synthetic|DIR"}
# What a resume may not change is fixed by...
FIXED_BY = {"model": "the model's shape", "data": "the data set", "train": "what the run learns"}


def add_train_parser(commands) -> argparse.ArgumentParser:
    """The `train` subcommand: one flag per setting (no defaults, so the parse holds only what was typed)."""
    p = commands.add_parser("train", help="train a model",
                            usage="%(prog)s [--config FILE] [--print-config] [--resume RUN_DIR] [--quiet] "
                                  "[--tensorboard] [--SETTING VALUE ...]",
                            description="Train a model. Every setting has a flag; a run file (--config) holds "
                                        "the same settings by the same names (kl_warmup for --kl-warmup), and "
                                        "flags override it. --print-config shows a run's settings as a run file.")
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="read settings from this run file (TOML, e.g. saved from --print-config); flags override it")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved settings as a run file and exit without training")
    p.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                   help="continue the run in this run directory (settings that fix what it learns cannot change)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--tensorboard", action="store_true",
                   help=f"also write TensorBoard logs to RUN_DIR/tensorboard/ (needs {install_command('tensorboard')})")
    groups = {section: p.add_argument_group(title) for section, title in GROUPS.items()}
    for setting in SETTINGS:
        _add_setting_flag(groups[setting.section], setting)
    return p


def _add_setting_flag(group, setting: Setting) -> None:
    default = _default_text(setting)
    help_text = (f"{setting.help} ({default})" if default else setting.help).replace("%", "%%")
    options: dict[str, Any] = dict(dest=setting.name, default=argparse.SUPPRESS, help=help_text)
    if setting.kind is bool:
        options["action"] = argparse.BooleanOptionalAction
    else:
        options["type"] = _PARSERS[setting.kind]
        options["metavar"] = METAVARS.get(setting.name, {int: "N", float: "X"}.get(setting.kind))
        if setting.choices:
            options["choices"] = setting.choices
            options["metavar"] = None
    group.add_argument(setting.flag, **options)


def _default_text(setting: Setting) -> str:
    """The help's "(default: ...)" text; "" where the help says it."""
    if setting.name == "epochs":
        return f"default: {default_value('epochs')}; with a time budget, no limit"
    if setting.name in ("preset", "name", "cache_dir"):
        return ""
    if setting.section == "model" and setting.name != "image_size":
        return "default: the preset's"
    value = default_value(setting.name)
    shown = str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else value
    if setting.name in RECOMMENDED:
        return f"default: the preset's, else {shown}"
    return f"default: {shown}"


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


_PARSERS = {int: _whole_number, float: _number, str: str}


def typed_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run file's settings (--config), overridden by the setting flags typed."""
    from_file = read_settings_file(args.config) if getattr(args, "config", None) else {}
    typed = {name: value for name, value in vars(args).items() if name in BY_NAME}
    return {**from_file, **typed}


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of a parsed `train` command line (a new run)."""
    return run_config_from_settings(typed_settings(args))


def resume_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run's stored config with the settings given that a resume may change; refuses changes to the others."""
    from trainer.training.resume import resume_config

    settings = typed_settings(args)
    stored = resume_config(args.resume)
    for name, given in settings.items():
        setting = BY_NAME[name]
        before = getattr(getattr(stored, setting.section), setting.field)
        if not setting.resumable and not _same_setting(name, before, given):
            raise ConfigError(f"{setting.flag} cannot change when resuming {args.resume}: the run has {before!r}, "
                              f"you gave {given!r}, and it fixes {FIXED_BY[setting.section]}. Start a new run to "
                              f"change it")
    overrides = {BY_NAME[name].field: value for name, value in settings.items() if BY_NAME[name].resumable}
    config = resume_config(args.resume, **overrides)
    config.validate()
    return config


def _same_setting(name: str, before: Any, given: Any) -> bool:
    if name == "data" and before != "synthetic" and given != "synthetic":
        return Path(before).expanduser().resolve() == Path(given).expanduser().resolve()
    if isinstance(before, float) and isinstance(given, (int, float)):
        return float(given) == before
    return before == given


def run_train(args: argparse.Namespace) -> int:
    from trainer.cli.progress import ProgressPrinter
    from trainer.training.control import TrainingControl
    from trainer.training.distributed import distributed_session
    from trainer.training.loop import train
    from trainer.training.tensorboard_sink import with_tensorboard

    config = resume_config_from_args(args) if args.resume else config_from_args(args)
    if args.print_config:
        print(format_settings(config), end="")
        return 0
    signals = args.signals
    signals.keeping(f"the run {args.resume} keeps its last checkpoint" if args.resume else
                    "no run is created while the data loads; a run already started keeps its last checkpoint")
    # The config keeps the device setting as given ("auto"), so the checkpoint resumes anywhere; under torchrun the
    # loop itself puts each process on GPU number LOCAL_RANK.
    with distributed_session(config.train.device) as (dist, _):
        printer = ProgressPrinter(quiet=args.quiet or not dist.is_main)
        control = TrainingControl()
        signals.stop_gracefully(control, second_aborts=not dist.enabled)
        try:
            events = with_tensorboard(printer, args.tensorboard)
            result = train(config, events=events, control=control, resume=args.resume, dist=dist)
        finally:
            printer.close()
    if dist.is_main:
        print(f"{result.status}: {result.message}\nrun directory: {printable(result.run_dir)}")
        if result.final_eval:
            from trainer.evaluation.metrics import EvalReport
            print(EvalReport.from_dict(result.final_eval).format_table())
    # After a signal: the usual exit status of a process ended by it (130, 143), after saving.
    return signals.exit_status or (0 if result.status in ("completed", "stopped") else 1)
