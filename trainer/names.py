"""File and folder names shown to people: any name the OS allows prints safely, in any locale."""
from __future__ import annotations

import os


def printable(path: str | bytes | os.PathLike) -> str:
    """A path as text that any terminal, log file or Qt dialog can show.

    Names that are not valid UTF-8 (a `\\xff` byte; any non-ASCII name read under LC_ALL=C, which Python holds as
    lone surrogates) would make printing or encoding fail; here their bytes appear as `\\xNN` escapes and valid
    UTF-8 names appear as themselves.
    """
    name = os.fspath(path)
    if isinstance(name, str):
        try:
            name = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:          # a lone surrogate that no file system name produced
            return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name.decode("utf-8", "backslashreplace")
