"""The files the package ships (the bundled checkpoint, the original study's experiments file), read through
importlib.resources, so a checkout, an editable install and a wheel installed anywhere find them the same way.
resources/README.md at the top of the repository documents them (how the checkpoint was trained, its figures)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_CHECKPOINT_NAME = "default_vae.pt"
EXPERIMENTS_FILE_NAME = "experiments.toml"


def resource_path(name: str) -> Path | None:
    """A shipped file as a path on disk, or None when this installation lacks it. The package is always installed
    as files (torch.load and the CLI need real paths), so the resource is one."""
    resource = resources.files(__name__).joinpath(name)
    return resource if isinstance(resource, Path) and resource.is_file() else None


def default_checkpoint() -> Path | None:
    """The bundled pretrained checkpoint, or None when it is missing (a partial checkout or a broken install)."""
    return resource_path(DEFAULT_CHECKPOINT_NAME)


def experiments_file() -> Path | None:
    """The original study's experiments file, or None when it is missing."""
    return resource_path(EXPERIMENTS_FILE_NAME)
