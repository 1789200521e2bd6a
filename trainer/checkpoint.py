"""Self-describing checkpoints: configs, weights, optimizer state, progress, metrics and latent statistics in one file.

Written atomically (temporary file, fsync, rename) and read only with torch.load(weights_only=True), so a file
from elsewhere can never run code.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, RunConfig
from .models import FaceModel, build_model

FORMAT_NAME = "vae-face-explorer-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(Exception):
    """A file is not a usable checkpoint. The message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class LoadedCheckpoint:
    path: Path
    config: RunConfig
    model: FaceModel                 # in eval mode, on the CPU
    payload: dict[str, Any]          # the raw dict: step, epoch, optimizer state, eval, latent_stats...

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
    """Atomically write a checkpoint dict (as built by `make_payload`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_current_umask())      # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def make_payload(config: RunConfig, model: torch.nn.Module, **extra: Any) -> dict[str, Any]:
    """The checkpoint dict: format, configs and CPU weights, plus any extra fields (step, optimizer_state...)."""
    weights = {k: v.detach().to("cpu", copy=True) for k, v in unwrap_model(model).state_dict().items()}
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": config.to_dict(),
            "model_state": weights, "param_count": sum(v.numel() for v in weights.values()), **extra}


HOSTILE_REASON = ("refused to load: the file contains code that could run when it is loaded (pickled Python "
                  "objects), which a checkpoint never holds")


def read_checkpoint(path: Path | str) -> dict[str, Any]:
    """The checkpoint dict, validated. Raises CheckpointError; never executes code from the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(path, "not a PyTorch checkpoint (the file is not a torch.save archive; "
                                    "it may be truncated, another format, or not a model at all)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
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
    return payload


def load_checkpoint(path: Path | str) -> LoadedCheckpoint:
    """Rebuild the model from the file alone."""
    payload = read_checkpoint(path)
    try:
        config = RunConfig.from_dict(payload["config"])
        config.model.validate()
        model = build_model(config.model)
        model.load_state_dict(payload["model_state"])
    except (ConfigError, RuntimeError, TypeError, KeyError) as error:
        raise CheckpointError(path, f"the stored model does not match its configuration ({_first_line(error)})") from None
    model.eval()
    return LoadedCheckpoint(path=Path(path), config=config, model=model, payload=payload)


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

    The copy opens in the explorer and evaluates like the original, but cannot resume training.
    """
    payload = read_checkpoint(source)
    slim = {k: v for k, v in payload.items() if k not in TRAINING_ONLY_FIELDS}
    slim["exported_from"] = str(source)
    save_checkpoint(target, slim)
    return Path(target)
