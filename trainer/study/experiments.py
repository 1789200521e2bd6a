"""The experiment list: named experiments in a TOML file, each a set of overrides on [defaults], run in order.

    [defaults]
    preset = "default"
    epochs = 8

    [experiments.ae_01]
    preset = "study-ae-01"

The keys are the run settings of `trainer.settings` (the names `vae-train train` flags and run files use, e.g.
kl_warmup for --kl-warmup), plus `description`, `sigma` (the original study's KL weight, instead of beta) and
`sampler`. The experiment's name is its run name, and the runner chooses the runs folder.

Each experiment trains into runs_dir/experiments/<data>/<name>. A run that finished is skipped, an interrupted one
(checkpoints/last.pt but no "completed" record) is resumed, so the list can be stopped and started again at will.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

try:
    import tomllib
except ModuleNotFoundError:      # Python 3.10
    import tomli as tomllib

from trainer.files import write_text_atomic
from trainer.config import ConfigError, RunConfig
from trainer.names import printable
from trainer.settings import BY_NAME as SETTINGS_BY_NAME
from trainer.settings import check_settings, default_value, run_config_from_settings, unknown_setting_message
from trainer.training.control import TrainingControl
from trainer.training.events import EventSink
from trainer.training.run_files import RunFiles
from trainer.training.rundir import RunDirectory, read_metrics

PIXEL_RANGE = 255.0              # the original study fed 0-255 pixels to a per-pixel mean MSE
FITTED_SAMPLERS = ("gaussian", "mixture", "flow")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Keys an experiment file has beyond the run settings, and the types each accepts.
EXPERIMENT_KEYS: dict[str, tuple[type, ...]] = {"description": (str,), "sigma": (int, float), "sampler": (str,)}
# Settings the runner itself sets: the experiment's name is the run name, the runs folder is the runner's.
RUNNER_SETTINGS = ("name", "runs_dir")

# Fields that may differ between a stored run and its experiment: where and how it runs, not what it learns.
RUNTIME_FIELDS = frozenset({"train.device", "train.threads", "train.run_name", "train.runs_dir", "train.compile",
                            "train.preview_every_s", "train.log_every_steps", "data.cache_dir"})


class ExperimentFileError(ConfigError):
    """The experiments file cannot be read, or an experiment in it is invalid. The message names both."""


class ExperimentMismatchError(ConfigError):
    """A run directory holds a run trained with another configuration than its experiment now asks for."""


@dataclass
class Experiment:
    name: str
    config: RunConfig
    sampler: str = "gaussian"         # the density fitted to encoded images for "fitted" samples in the report
    sigma: float | None = None        # the original study's KL weight, when the file gave it instead of beta
    description: str = ""


@dataclass
class ExperimentOutcome:
    name: str
    run_dir: Path
    status: str                        # "skipped" (already completed) | "completed" | "stopped" | "failed"
    message: str


# ---------------------------------------------------------------- the original study's KL weight

def sigma_to_beta(sigma: float, image_size: int, channels: int = 3) -> float:
    """Our beta for the original's sigma.

    The original minimised mean_pixels((255 x - 255 y)^2) + sigma * KL = (255^2 / P) * sum_pixels((x - y)^2)
    + sigma * KL, with P = channels * image_size^2 values per image. Dividing by 255^2 / P (which does not move
    the minimum) gives our loss, sum_pixels((x - y)^2) + beta * KL, with beta = sigma * P / 255^2.
    At 64x64x3, P = 12288 and beta = 0.189 * sigma.
    """
    return sigma * channels * image_size ** 2 / PIXEL_RANGE ** 2


def beta_to_sigma(beta: float, image_size: int, channels: int = 3) -> float:
    """The original's sigma for our beta (the inverse of sigma_to_beta)."""
    return beta * PIXEL_RANGE ** 2 / (channels * image_size ** 2)


# ---------------------------------------------------------------- reading the file

def load_experiments(path: Path | str, data: str | None = None, only: Sequence[str] | None = None) -> list[Experiment]:
    """The experiments of a TOML file, in file order, each validated; `data` replaces every experiment's data."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ExperimentFileError(f"cannot read experiments file {printable(path)}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ExperimentFileError(f"{printable(path)} is not a text file of experiments (it is not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as error:
        raise ExperimentFileError(f"{printable(path)} is not valid TOML: {error}") from None
    experiments = experiments_from_dict(document, source=str(path), data=data)
    return select_experiments(experiments, only, source=str(path))


def experiments_from_dict(document: dict[str, Any], source: str = "experiments file",
                          data: str | None = None) -> list[Experiment]:
    """Experiments from a parsed TOML document ({"defaults": {...}, "experiments": {name: {...}}})."""
    unknown = sorted(set(document) - {"defaults", "experiments"})
    if unknown:
        raise ExperimentFileError(f"{source}: unknown top-level table(s) {', '.join(unknown)}; "
                                  "expected [defaults] and [experiments.NAME] tables")
    defaults = document.get("defaults", {})
    tables = document.get("experiments", {})
    if not isinstance(defaults, dict) or not isinstance(tables, dict):
        raise ExperimentFileError(f"{source}: 'defaults' and 'experiments' must be tables")
    _check_keys(defaults, f"{source}: [defaults]")
    if not tables:
        raise ExperimentFileError(f"{source}: no experiments; add [experiments.NAME] tables")
    experiments = []
    for name, table in tables.items():
        where = f"{source}: experiment {name!r}"
        if not NAME_PATTERN.match(name):
            raise ExperimentFileError(f"{where}: the name must be a plain folder name (letters, digits, _ . -)")
        if not isinstance(table, dict):
            raise ExperimentFileError(f"{where}: must be a table of settings, got {table!r}")
        _check_keys(table, where)
        experiments.append(_build_experiment(name, defaults, table, where, data))
    return experiments


def select_experiments(experiments: list[Experiment], only: Sequence[str] | None,
                       source: str = "experiments file") -> list[Experiment]:
    """The named experiments (in file order), or all when `only` is empty."""
    if not only:
        return experiments
    known = [e.name for e in experiments]
    missing = [name for name in only if name not in known]
    if missing:
        raise ExperimentFileError(f"{source} has no experiment named {', '.join(missing)}; "
                                  f"it has {', '.join(known)}")
    return [e for e in experiments if e.name in set(only)]


def _check_keys(table: dict[str, Any], where: str) -> None:
    for key, value in table.items():
        if key in RUNNER_SETTINGS:
            raise ExperimentFileError(f"{where}: {key!r} is set by the runner (the run is named after the "
                                      f"experiment, in the runs folder given to `vae-train experiments`)")
        if key not in EXPERIMENT_KEYS and key not in SETTINGS_BY_NAME:
            raise ExperimentFileError(f"{where}: {unknown_setting_message(key)}")
        types = EXPERIMENT_KEYS.get(key)
        if types and (isinstance(value, bool) or not isinstance(value, types)):
            expected = " or ".join(t.__name__ for t in types)
            raise ExperimentFileError(f"{where}: {key} must be a {expected}, got {value!r}")
    try:
        check_settings({k: v for k, v in table.items() if k not in EXPERIMENT_KEYS})
    except ConfigError as error:
        raise ExperimentFileError(f"{where}: {error}") from None
    if "beta" in table and "sigma" in table:
        raise ExperimentFileError(f"{where}: give either beta or sigma (the original's KL weight), not both")


def _build_experiment(name: str, defaults: dict[str, Any], table: dict[str, Any], where: str,
                      data: str | None) -> Experiment:
    values = {**defaults, **table}
    if "beta" in table:                  # the experiment's own KL weight wins over either one in [defaults]
        values.pop("sigma", None)
    elif "sigma" in table:
        values.pop("beta", None)
    elif "beta" in values and "sigma" in values:
        raise ExperimentFileError(f"{where}: [defaults] gives both beta and sigma")
    if data is not None:
        values["data"] = data
    try:
        config = _run_config(name, values)
    except ConfigError as error:
        raise ExperimentFileError(f"{where}: {error}") from None
    sampler = values.get("sampler", "gaussian")
    if sampler not in FITTED_SAMPLERS:
        raise ExperimentFileError(f"{where}: sampler must be one of {', '.join(FITTED_SAMPLERS)}, got {sampler!r}")
    sigma = float(values["sigma"]) if "sigma" in values else None
    return Experiment(name=name, config=config, sampler=sampler, sigma=sigma,
                      description=values.get("description", ""))


def _run_config(name: str, values: dict[str, Any]) -> RunConfig:
    settings = {key: value for key, value in values.items() if key not in EXPERIMENT_KEYS}
    settings["name"] = name
    if "sigma" in values:
        if values["sigma"] < 0:
            raise ConfigError(f"sigma must be >= 0, got {values['sigma']}")
        image_size = settings.get("image_size", default_value("image_size"))
        channels = settings.get("channels", default_value("channels"))
        settings["beta"] = sigma_to_beta(values["sigma"], image_size, channels)
    return run_config_from_settings(settings)


# ---------------------------------------------------------------- running the list

def experiments_root(runs_dir: Path | str, data_source: str) -> Path:
    """runs_dir/experiments/synthetic, or runs_dir/experiments/<folder name>-<hash of its path> for a folder."""
    if data_source == "synthetic":
        tag = "synthetic"
    else:
        folder = Path(data_source)
        tag = f"{folder.name or 'data'}-{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}"
    return Path(runs_dir) / "experiments" / tag


def run_status(run_dir: Path) -> str:
    """'new' (no folder), 'completed', 'resumable' (a checkpoint, not completed) or 'stale' (no checkpoint)."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return "new"
    run = RunFiles(run_dir)
    finished = [r for r in read_metrics(run.metrics_file) if r.get("type") == "finished"]
    if finished and finished[-1].get("status") == "completed":
        return "completed"
    if run.last_checkpoint.exists():
        return "resumable"
    return "stale"


def run_experiments(experiments: Sequence[Experiment], runs_dir: Path | str,
                    events: Callable[[Experiment], EventSink] | None = None,
                    control: TrainingControl | None = None,
                    log: Callable[[str], None] = print) -> list[ExperimentOutcome]:
    """Train each experiment not yet completed, in order. Stops early when `control` asks to stop.

    `events(experiment)` gives the event sink for that experiment's run (e.g. a progress bar).
    """
    from trainer.training.loop import train

    control = control or TrainingControl()
    outcomes = []
    for experiment in experiments:
        root = experiments_root(runs_dir, experiment.config.data.source)
        run_dir = root / experiment.name
        config = replace(experiment.config, train=replace(experiment.config.train, runs_dir=str(root),
                                                           run_name=experiment.name))
        owner = RunDirectory(run_dir).in_use_by_another() if run_dir.exists() else None
        if owner is not None:        # another runner (or `train --resume`) trains it now: never touch it
            message = f"in use by another process (pid {owner}), skipped; run the command again after it ends"
            log(f"{experiment.name}: {message}")
            outcomes.append(ExperimentOutcome(experiment.name, run_dir, "skipped", message))
            continue
        status = run_status(run_dir)
        if status != "new":
            check_same_config(run_dir, config)
        if status == "completed":
            write_experiment_info(run_dir, experiment)
            log(f"{experiment.name}: already completed in {run_dir}, skipped")
            outcomes.append(ExperimentOutcome(experiment.name, run_dir, "skipped", "already completed"))
            continue
        if status == "stale":
            _remove_stale_run(run_dir)
        log(f"{experiment.name}: {'resuming' if status == 'resumable' else 'training'} into {run_dir}")
        sink = events(experiment) if events else None
        result = train(config, events=sink, control=control, resume=run_dir if status == "resumable" else None)
        write_experiment_info(result.run_dir, experiment)
        log(f"{experiment.name}: {result.status}: {result.message}")
        outcomes.append(ExperimentOutcome(experiment.name, result.run_dir, result.status, result.message))
        if result.status == "stopped":
            break
    return outcomes


def check_same_config(run_dir: Path, config: RunConfig) -> None:
    """Raise ExperimentMismatchError when the run in `run_dir` was trained with different settings."""
    stored_file = RunFiles(run_dir).config_file
    if not stored_file.exists():
        return
    try:
        stored = json.loads(stored_file.read_text())
    except (OSError, ValueError) as error:
        raise ExperimentMismatchError(f"{stored_file} is unreadable ({error}); delete {run_dir} to rerun it") from None
    wanted = config.to_dict()
    differences = []
    for section, fields in wanted.items():
        for key, value in fields.items():
            there = stored.get(section, {}).get(key)
            if f"{section}.{key}" not in RUNTIME_FIELDS and there != value:
                differences.append(f"{section}.{key}: {there!r} there, {value!r} now")
    if differences:
        raise ExperimentMismatchError(
            f"{run_dir} holds a run trained with other settings than the experiment now asks for "
            f"({'; '.join(differences[:4])}); delete that folder to retrain it, or give the experiment a new name")


def write_experiment_info(run_dir: Path, experiment: Experiment) -> None:
    """experiment.json: what the report needs beyond config.json (the name, sampler, sigma, description)."""
    info = {"name": experiment.name, "sampler": experiment.sampler, "sigma": experiment.sigma,
            "description": experiment.description}
    write_text_atomic(RunFiles(run_dir).experiment_file, json.dumps(info, indent=2) + "\n")


def read_experiment_info(run_dir: Path) -> dict[str, Any]:
    """The run's experiment.json, or {} for runs not made by the experiment runner."""
    try:
        return json.loads(RunFiles(run_dir).experiment_file.read_text())
    except (OSError, ValueError):
        return {}


def _remove_stale_run(run_dir: Path) -> None:
    """A run that died before its first checkpoint: nothing to resume, so start it again from scratch."""
    run = RunDirectory(run_dir)
    if run.checkpoints.exists() and any(run.checkpoints.glob("*.pt")):
        # run_status said there is no last.pt; never delete weights on a guess
        raise ExperimentMismatchError(f"{run_dir} has checkpoints but no last.pt; move it away to rerun it")
    run.lock()           # RunDirError if a process claimed it since it was found free
    try:
        shutil.rmtree(run_dir)
    finally:
        run.unlock()
