"""Results derived from a checkpoint (an evaluation report, latent statistics), kept outside the checkpoint.

Reading a checkpoint never changes it: `vae-train eval` and the explorer store what they compute in a small JSON
file in the user's cache folder, named by the SHA-256 of the checkpoint's bytes. load_checkpoint() fills the
fields the checkpoint lacks from it, so the results are found again for exactly that file and never for another
file (a retrained best.pt has another hash). `vae-train cache --clear` removes them.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from trainer.atomic import write_atomically
from trainer.user_folders import cache_folder

log = logging.getLogger(__name__)

DERIVED_FIELDS = ("eval", "latent_stats")


def cache_root() -> Path:
    """The app's cache folder: data caches (datasets/) and derived results (derived/) live below it."""
    return cache_folder()


def derived_path(content_hash: str) -> Path:
    return cache_root() / "derived" / f"{content_hash}.json"


def read_derived(content_hash: str) -> dict[str, Any]:
    """The derived results stored for a checkpoint's content ({} when none or unreadable)."""
    if not content_hash:
        return {}
    try:
        data = json.loads(derived_path(content_hash).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in DERIVED_FIELDS and isinstance(v, dict)}


def merge_derived(payload: dict[str, Any], content_hash: str) -> None:
    """Put the derived results kept for exactly these bytes into the payload. They replace what the file holds:
    they were computed from this very file after it was written (a later `vae-train eval`, the explorer)."""
    for name, value in read_derived(content_hash).items():
        if value is not None:
            payload[name] = value


def store_derived(content_hash: str, **fields: Any) -> bool:
    """Add fields (eval=..., latent_stats=...) to a checkpoint's derived results, atomically.

    Returns whether they were written; an unwritable cache only costs recomputing them next time.
    """
    unknown = set(fields) - set(DERIVED_FIELDS)
    if unknown:
        raise ValueError(f"not a derived field: {', '.join(sorted(unknown))}")
    path = derived_path(content_hash)
    data = {**read_derived(content_hash), **{k: v for k, v in fields.items() if v is not None}}
    text = json.dumps(data, default=_json_default)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    except OSError as error:
        log.warning("could not store derived results in %s: %s", path, error)
        return False
    return True


def _json_default(value: Any) -> Any:
    import numpy as np
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)
