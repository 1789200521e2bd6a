"""Saved explorer states ("Save explorer state"): a JSON file with the checkpoint, its weights hash, the current z and
the slider layout, enough to come back to the same face of the same model."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainer.config import short_repr
from trainer.errors import UserError
from trainer.files import write_text_atomic
from trainer.names import printable
from trainer.latent.sliders import SLIDER_MODES

STATE_FORMAT = "vae-face-explorer-state"
STATE_VERSION = 1
MAX_LATENT_VALUE = 1e4         # z values live within a few units of 0; far beyond, decoding gives noise or overflows
MAX_LATENT_VALUES = 4096       # the largest latent_dim a model may have (trainer.config)


class ExplorerStateError(UserError):
    """A saved explorer state file cannot be used. The message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{printable(path)}: {reason}")
        self.path = printable(path)
        self.reason = reason


@dataclass
class ExplorerSnapshot:
    """What "Save explorer state" writes: enough to come back to the same face of the same model."""

    checkpoint_path: str
    weights_hash: str
    z: np.ndarray
    slider_mode: str = "axes"
    selected_dims: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "checkpoint": self.checkpoint_path,
                "weights_hash": self.weights_hash, "z": [float(v) for v in np.asarray(self.z).ravel()],
                "slider_mode": self.slider_mode, "selected_dims": [int(d) for d in self.selected_dims]}

    @classmethod
    def from_dict(cls, data: Any, path: Path | str = "<state>") -> "ExplorerSnapshot":
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ExplorerStateError(path, "this is not a VAE Face Explorer state file")
        if data.get("version") != STATE_VERSION:
            raise ExplorerStateError(path, f"state file version {data.get('version')} is not supported "
                                           f"(this program reads version {STATE_VERSION})")
        for key in ("checkpoint", "weights_hash"):
            if not isinstance(data.get(key, ""), str):
                raise ExplorerStateError(path, f"{key!r} must be a text, got {short_repr(data[key])}")
        z = data.get("z")
        if not isinstance(z, list) or not z or len(z) > MAX_LATENT_VALUES or not all(_is_latent_value(v) for v in z):
            raise ExplorerStateError(path, f"'z' must be a list of 1 to {MAX_LATENT_VALUES} finite numbers "
                                           f"between -{MAX_LATENT_VALUE:g} and {MAX_LATENT_VALUE:g}")
        mode = data.get("slider_mode", "axes")
        if mode not in SLIDER_MODES:
            raise ExplorerStateError(path, f"unknown slider mode {mode!r}; expected one of {', '.join(SLIDER_MODES)}")
        dims = data.get("selected_dims", [])
        if not isinstance(dims, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < len(z)
                                                 for d in dims):
            raise ExplorerStateError(path, "'selected_dims' must list latent dimensions")
        return cls(checkpoint_path=data.get("checkpoint", ""), weights_hash=data.get("weights_hash", ""),
                   z=np.asarray(z, dtype=np.float32), slider_mode=mode, selected_dims=list(dims))


    def check_fits(self, latent_dim: int, path: Path | str = "<state>") -> None:
        """Refuse a state whose z is not one of a model with `latent_dim` dimensions (before anything is applied)."""
        if self.z.size != latent_dim:
            raise ExplorerStateError(path, f"its z has {self.z.size} values and this model has {latent_dim} latent "
                                           f"dimensions; open the checkpoint it was saved for first")


def save_explorer_state(path: Path | str, snapshot: ExplorerSnapshot) -> None:
    """Write a state file whole or not at all. Raises ExplorerStateError when it cannot be written."""
    try:
        write_text_atomic(path, json.dumps(snapshot.to_dict(), indent=2) + "\n")
    except OSError as error:
        raise ExplorerStateError(path, f"cannot write the file ({error.strerror or error})") from None


def load_explorer_state(path: Path | str) -> ExplorerSnapshot:
    """Read a state file. Raises ExplorerStateError naming the file and the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ExplorerStateError(path, f"cannot read the file ({error.strerror or error})") from None
    except (ValueError, UnicodeDecodeError, RecursionError):    # also a 5,000-digit number, deep nesting
        raise ExplorerStateError(path, "not a JSON file of an explorer state") from None
    return ExplorerSnapshot.from_dict(data, path)


def _is_latent_value(value: Any) -> bool:
    """A number a z can hold: finite in float32 and of a sensible size (1e300 or a 400-digit integer is not)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and abs(value) <= MAX_LATENT_VALUE
    except OverflowError:        # an integer too large for a float
        return False
