"""Writing the user's files: whole or not at all, under any name the OS allows, in any locale.

Every output file is written to a temporary name beside it and renamed into place, so an interrupt, a full disk or
kill -9 never leaves half a file under the real name; a temporary a killed writer left behind is found by its
pattern (`.NAME.PID.tmp`) and removed by the next writer of NAME. Text is UTF-8 whatever the locale, and the bytes of
a name that is not UTF-8 (held by Python as lone surrogates) are written back as they were ("surrogateescape").
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

TEXT = {"encoding": "utf-8", "errors": "surrogateescape"}     # open()/write_text() options for every text file


def name_length(name: str | os.PathLike) -> int:
    """A name's length in bytes as the file system counts it (any name, also one that is not UTF-8)."""
    return len(os.fsencode(name))


def temporary_name(path: Path) -> Path:
    """Where `path` is written before the rename: hidden, beside it, with this process's id."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomically(path: Path | str, write: Callable[[Path], None]) -> Path:
    """write(temporary) then rename onto `path`; the temporary goes when anything fails or interrupts."""
    path = Path(path)
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path | str, text: str) -> Path:
    """A text file, UTF-8, written whole or not at all."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, **TEXT))


def save_png_atomic(path: Path | str, image_hwc: np.ndarray) -> Path:
    """An image array (H x W x C uint8) as a PNG, written whole or not at all."""
    from PIL import Image
    return write_atomically(path, lambda tmp: Image.fromarray(image_hwc).save(tmp, format="PNG"))


def append_text(path: Path | str, text: str) -> None:
    """Append to a log-like text file (UTF-8, any name's bytes kept)."""
    with open(path, "a", **TEXT) as handle:
        handle.write(text)


def read_text(path: Path | str) -> str:
    """A text file we wrote (UTF-8; bytes of odd names come back as they were)."""
    return Path(path).read_text(**TEXT)


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
