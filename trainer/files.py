"""Writing the user's files: whole or not at all, under any name the OS allows, in any locale.

Every output file is written to a temporary name beside it and renamed into place (trainer.atomic; PNGs through
trainer.data.images.save_png), so an interrupt, a full disk or kill -9 never leaves half a file under the real
name; a temporary a killed writer left behind is removed by the next writer of that name. Text is UTF-8 whatever the locale, and the bytes of
a name that is not UTF-8 (held by Python as lone surrogates) are written back as they were ("surrogateescape").
"""
from __future__ import annotations

import os
from pathlib import Path

from trainer.atomic import remove_stale_temporaries, temporary_name, write_atomically

TEXT = {"encoding": "utf-8", "errors": "surrogateescape"}     # open()/write_text() options for every text file


def name_length(name: str | os.PathLike) -> int:
    """A name's length in bytes as the file system counts it (any name, also one that is not UTF-8)."""
    return len(os.fsencode(name))


def write_text_atomic(path: Path | str, text: str) -> Path:
    """A text file, UTF-8, written whole or not at all."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, **TEXT))


def append_text(path: Path | str, text: str) -> None:
    """Append to a log-like text file (UTF-8, any name's bytes kept)."""
    with open(path, "a", **TEXT) as handle:
        handle.write(text)


def read_text(path: Path | str) -> str:
    """A text file we wrote (UTF-8; bytes of odd names come back as they were)."""
    return Path(path).read_text(**TEXT)


__all__ = ["TEXT", "append_text", "name_length", "read_text", "remove_stale_temporaries", "temporary_name",
           "write_atomically", "write_text_atomic"]
