"""Saved explorer states ("Save explorer state"): a JSON file with the checkpoint, its weights hash, the current z and
the slider layout, enough to come back to the same face of the same model."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainer.errors import UserError
from trainer.latent.sliders import SLIDER_MODES

STATE_FORMAT = "vae-face-explorer-state"
STATE_VERSION = 1


class ExplorerStateError(UserError):
    """A saved explorer state file cannot be used. The message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
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
        z = data.get("z")
        if not isinstance(z, list) or not z or not all(_is_finite_number(v) for v in z):
            raise ExplorerStateError(path, "'z' must be a non-empty list of finite numbers")
        mode = data.get("slider_mode", "axes")
        if mode not in SLIDER_MODES:
            raise ExplorerStateError(path, f"unknown slider mode {mode!r}; expected one of {', '.join(SLIDER_MODES)}")
        dims = data.get("selected_dims", [])
        if not isinstance(dims, list) or not all(isinstance(d, int) and 0 <= d < len(z) for d in dims):
            raise ExplorerStateError(path, "'selected_dims' must list latent dimensions")
        return cls(checkpoint_path=str(data.get("checkpoint", "")), weights_hash=str(data.get("weights_hash", "")),
                   z=np.asarray(z, dtype=np.float32), slider_mode=mode, selected_dims=list(dims))


def save_explorer_state(path: Path | str, snapshot: ExplorerSnapshot) -> None:
    Path(path).write_text(json.dumps(snapshot.to_dict(), indent=2) + "\n", encoding="utf-8")


def load_explorer_state(path: Path | str) -> ExplorerSnapshot:
    """Read a state file. Raises ExplorerStateError naming the file and the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ExplorerStateError(path, f"cannot read the file ({error.strerror or error})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ExplorerStateError(path, f"not a JSON file ({error})") from None
    return ExplorerSnapshot.from_dict(data, path)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
