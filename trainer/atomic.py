"""Writing a file so that a crash or a full disk never leaves half of it: write a temporary name beside it, then
rename (os.replace is atomic on one file system). The temporary file is removed when the write fails or is
interrupted; one that kill -9 left behind (`.NAME.PID.tmp`, its writer gone) is removed by the next writer of NAME."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable


def write_atomically(path: Path | str, write: Callable[[Path], None]) -> Path:
    """write(temporary_path) then rename the result to `path`; returns `path`. `write` must name the format
    itself (the temporary name ends in .tmp)."""
    path = Path(path)
    remove_stale_temporaries(path)
    temporary = temporary_name(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def temporary_name(path: Path) -> Path:
    """Where `path` is written before the rename: hidden, beside it, with this process's id."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temporaries(path: Path | str) -> list[Path]:
    """Remove the temporaries of `path` whose writer process is gone (killed mid-write): `.NAME.PID.tmp` (ours)
    and `NAME.PID.XXXX.tmp` (trainer.training.checkpoint's)."""
    path = Path(path)
    pattern = re.compile(r"\.?" + re.escape(path.name) + r"\.(\d+)(\.[^/]*)?\.tmp", re.DOTALL)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    removed = []
    for name in names:
        match = pattern.fullmatch(name)
        if match and int(match.group(1)) != os.getpid() and not _process_alive(int(match.group(1))):
            try:
                (path.parent / name).unlink()
                removed.append(path.parent / name)
            except OSError:
                pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:            # alive but another user's
        return True
    return True
