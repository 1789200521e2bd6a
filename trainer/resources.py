"""Where the shipped resources live (the bundled checkpoint, the experiments file)."""
from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
DEFAULT_CHECKPOINT = RESOURCES_DIR / "default_vae.pt"
EXPERIMENTS_FILE = RESOURCES_DIR / "experiments.toml"


def default_checkpoint() -> Path | None:
    """The bundled pretrained checkpoint, or None when it is missing (e.g. a partial checkout)."""
    return DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else None
