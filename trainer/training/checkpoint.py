"""Self-describing checkpoints: configs, weights, optimizer state, progress, metrics and latent statistics in one file.

Written atomically (temporary file, fsync, rename) and read only with torch.load(weights_only=True), so a file
from elsewhere can never run code.
"""
from __future__ import annotations

import errno
import hashlib
import io
import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainer.config import ConfigError, RunConfig
from trainer.errors import UserError
from trainer.files import remove_stale_temporaries
from trainer.models.networks import FaceModel, build_model
from trainer.training.run_files import RunFiles

FORMAT_NAME = "vae-face-explorer-checkpoint"
FORMAT_VERSION = 1
# Trained weights (and batch-norm statistics) stay far below this; larger ones make every output inf or NaN.
MAX_ABS_WEIGHT = 1e6


class CheckpointError(UserError):
    """A file is not a usable checkpoint. The message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (disk full, folder not writable): a runtime failure, not bad input."""

    def __init__(self, path: Path | str, reason: str):
        Exception.__init__(self, f"could not write {path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class LoadedCheckpoint:
    path: Path
    config: RunConfig
    model: FaceModel                 # in eval mode, on the CPU
    payload: dict[str, Any]          # the raw dict: step, epoch, optimizer state, eval, latent_stats...
    content_hash: str = ""           # sha256 of the bytes loaded; keys the derived results (trainer.data.derived)

    @property
    def step(self) -> int:
        return int(self.payload.get("step", 0))

    @property
    def eval_metrics(self) -> dict | None:
        return self.payload.get("eval")

    @property
    def latent_stats(self) -> dict | None:
        return self.payload.get("latent_stats")


def save_checkpoint(path: Path | str, payload: dict[str, Any]) -> None:
    """Atomically write a checkpoint dict (as built by `make_payload`).

    Raises CheckpointWriteError (disk full, folder not writable); the previous file at `path` is then untouched.
    """
    path = Path(path)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The writer's pid in the name tells a later run whether the temporary file is stale (see rundir).
        fd, tmp_name = tempfile.mkstemp(prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_current_umask())      # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_name, path)
    except (OSError, RuntimeError) as error:
        _remove_quietly(tmp_name)
        raise CheckpointWriteError(path, _write_failure(path, error)) from None
    except BaseException:
        _remove_quietly(tmp_name)
        raise
    _fsync_folder(path.parent)


def _write_failure(path: Path, error: BaseException) -> str:
    """Our words for a failed write. torch.save reports a full disk as RuntimeError '[enforce fail at
    inline_container.cc...] unexpected pos' or 'file write failed'."""
    kept = "; the previous checkpoint is kept" if path.exists() else ""
    if isinstance(error, OSError):
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return "the disk is full" + kept
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"the folder {path.parent} is not writable" + kept
        return f"{error.strerror or _first_line(error)}{kept}"
    text = str(error)
    if "enforce fail" in text or "write failed" in text or "unexpected pos" in text:
        return "the disk is full or the file system refused the write" + kept
    return f"{_first_line(error)}{kept}"


def _remove_quietly(name: str | None) -> None:
    if name is None:
        return
    try:
        os.unlink(name)
    except OSError:
        pass


def make_payload(config: RunConfig, model: torch.nn.Module, **extra: Any) -> dict[str, Any]:
    """The checkpoint dict: format, configs and CPU weights, plus any extra fields (step, optimizer_state...)."""
    weights = {k: v.detach().to("cpu", copy=True) for k, v in unwrap_model(model).state_dict().items()}
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": config.to_dict(),
            "model_state": weights, "param_count": sum(v.numel() for v in weights.values()), **extra}


HOSTILE_REASON = ("refused to load: the file contains code that could run when it is loaded (pickled Python "
                  "objects), which a checkpoint never holds")


def read_checkpoint(path: Path | str) -> dict[str, Any]:
    """The checkpoint dict, validated. Raises CheckpointError; never executes code from the file."""
    payload, _ = _read_payload(path)
    return payload


def _read_payload(path: Path | str) -> tuple[dict[str, Any], str]:
    """(validated checkpoint dict, sha256 of the file's bytes). The bytes are read once, so the hash is the
    hash of exactly what was loaded, even if the file is replaced meanwhile."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a checkpoint file (give e.g. RUN/checkpoints/best.pt)")
    if not path.is_file():
        raise CheckpointError(path, "no such file" if not path.exists() else "not a regular file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror or _first_line(error)})") from None
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CheckpointError(path, "not a PyTorch checkpoint (the file is not a torch.save archive; "
                                    "it may be truncated, another format, or not a model at all)")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Our sentence only: torch's own text explains how to load the file anyway, which is what we refuse.
        raise CheckpointError(path, HOSTILE_REASON) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise CheckpointError(path, f"the file is damaged or truncated ({_first_line(error)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(path, "this is a PyTorch file but not a VAE Face Explorer checkpoint")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(path, f"checkpoint format version {version} is not supported "
                                    f"(this program reads version {FORMAT_VERSION})")
    for key in ("config", "model_state"):
        if key not in payload:
            raise CheckpointError(path, f"the checkpoint lacks its {key!r} entry")
    check_structure(path, payload)
    return payload, hashlib.sha256(data).hexdigest()


# Top-level fields and the types they must have (None allowed where a run may not have the value yet).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "config": (dict,), "model_state": (dict,), "param_count": (int,), "step": (int,), "epoch": (int,),
    "optimizer_state": (dict,), "scheduler_state": (dict,), "best_val_loss": (float, int),
    "best_step": (int, type(None)), "rng_state": (dict,), "data_source": (str,), "created": (str,),
    "eval": (dict, type(None)), "latent_stats": (dict, type(None)), "exported_from": (str,),
    "steps_per_epoch": (int,), "budget_left_s": (float, int),
}


def check_structure(path: Path | str, payload: dict[str, Any]) -> RunConfig:
    """Check every field a checkpoint holds: types, the config, and the weights' names and shapes against the
    model the config describes (whose size is checked before anything is built). Returns the config."""
    for key, types in _FIELD_TYPES.items():
        if key in payload and (not isinstance(payload[key], types) or isinstance(payload[key], bool)):
            raise CheckpointError(path, f"the checkpoint's {key!r} entry is a {type(payload[key]).__name__}, "
                                        f"not a {' or '.join(t.__name__ for t in types)}")
    for key in ("step", "epoch"):
        if payload.get(key, 0) < 0:
            raise CheckpointError(path, f"the checkpoint's {key!r} entry is negative ({payload[key]})")
    try:
        config = RunConfig.from_dict(payload["config"])
        config.validate()
    except ConfigError as error:
        raise CheckpointError(path, f"the stored configuration is invalid: {error}") from None
    _check_model_state(path, config, payload["model_state"])
    return config


def _check_model_state(path: Path | str, config: RunConfig, state: dict[str, Any]) -> None:
    # Built on the meta device: shapes without memory (the size limit was checked by config.validate()).
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build_model(config.model).state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        names = ", ".join((missing or unexpected)[:3])
        raise CheckpointError(path, f"the stored model does not match its configuration "
                                    f"({'missing' if missing else 'unexpected'}: {names})")
    for name, shape in expected.items():
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(path, f"the stored model does not match its configuration: {name!r} is a "
                                        f"{type(tensor).__name__}, not a tensor")
        if tuple(tensor.shape) != shape:
            raise CheckpointError(path, f"the stored model does not match its configuration: {name!r} has shape "
                                        f"{tuple(tensor.shape)}, the configuration needs {shape}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(path, f"the weight {name!r} holds NaN or infinite values")
        if tensor.is_floating_point() and tensor.numel() and tensor.abs().max().item() > MAX_ABS_WEIGHT:
            raise CheckpointError(path, f"the weight {name!r} holds values as large as "
                                        f"{tensor.abs().max().item():.3g}; no trained model has weights above "
                                        f"{MAX_ABS_WEIGHT:g} (its outputs would overflow)")


def load_checkpoint(path: Path | str) -> LoadedCheckpoint:
    """Rebuild the model from the file alone. Derived results kept beside it (trainer.data.derived: an evaluation or
    latent statistics computed later) fill in what the file lacks; the file itself is never changed by reading."""
    from trainer.data.derived import merge_derived

    payload, content_hash = _read_payload(path)
    try:
        config = RunConfig.from_dict(payload["config"])
        model = build_model(config.model)
        model.load_state_dict(payload["model_state"])
    except (ConfigError, RuntimeError, TypeError, KeyError) as error:
        raise CheckpointError(path, f"the stored model does not match its configuration ({_first_line(error)})") from None
    model.eval()
    merge_derived(payload, content_hash)
    return LoadedCheckpoint(path=Path(path), config=config, model=model, payload=payload, content_hash=content_hash)


def update_checkpoint(path: Path | str, **fields: Any) -> None:
    """Add or replace top-level fields (e.g. latent_stats, eval) in an existing checkpoint, atomically."""
    payload = read_checkpoint(path)
    payload.update(fields)
    save_checkpoint(path, payload)


def weights_hash(model_state: dict[str, torch.Tensor]) -> str:
    """A short hash of the weights alone, to tell models apart (stable when stats or metrics are added)."""
    digest = hashlib.sha256()
    for name in sorted(model_state):
        tensor = model_state[name].detach().to("cpu").contiguous()
        digest.update(name.encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside DDP and torch.compile wrappers."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


TRAINING_ONLY_FIELDS = ("optimizer_state", "scheduler_state", "rng_state")


def export_for_inference(source: Path | str, target: Path | str) -> Path:
    """Copy a checkpoint without its training-only state (optimizer, scheduler, RNG): about a third of the size.

    The copy opens in the explorer and evaluates like the original, but cannot resume training. Refuses to
    overwrite the source or a run's own last.pt / best.pt, which would destroy the resumable state.
    """
    source, target = Path(source), Path(target)
    payload = read_checkpoint(source)
    if target.resolve() == source.resolve() or (target.exists() and os.path.samefile(target, source)):
        raise CheckpointError(target, "is the checkpoint being exported; exporting onto it would delete its "
                                      "optimizer state so the run could not resume. Give another file name")
    run = RunFiles.of_checkpoint(target)
    if run is not None and run.is_own_checkpoint(target):
        raise CheckpointError(target, "is a run's own checkpoint; an exported copy there would stop the run from "
                                      "resuming. Give a file outside RUN/checkpoints")
    slim = {k: v for k, v in payload.items() if k not in TRAINING_ONLY_FIELDS}
    slim["exported_from"] = str(source)
    remove_stale_temporaries(target)         # what an export killed mid-write (kill -9) left beside the target
    save_checkpoint(target, slim)
    return Path(target)
