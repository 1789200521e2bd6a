"""Temporary files and folders a killed writer left behind in a cache folder (names containing '.tmp'): found and
removed once they are old enough to have no live writer. Below both the data-set cache and the derived results."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

STALE_TEMP_SECONDS = 15 * 60      # a temporary entry this old has no live writer (writes take seconds)


def sweep_old_temporaries(folder: Path, max_age_s: float = STALE_TEMP_SECONDS) -> None:
    """Delete temporary entries (name contains '.tmp', files or folders) a killed writer left behind; recent ones may
    be live. (trainer.atomic.remove_stale_temporaries clears one target's files by their writer's process id.)"""
    if not folder.is_dir():
        return
    now = time.time()
    for entry in folder.iterdir():
        if ".tmp" not in entry.name:
            continue
        try:
            if now - entry.lstat().st_mtime < max_age_s:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        except OSError:
            pass
