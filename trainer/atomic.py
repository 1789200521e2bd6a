"""Writing a file so that a crash or a full disk never leaves half of it: write a temporary name beside it, then
rename (os.replace is atomic on one file system). The temporary file is removed when the write fails."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def write_atomically(path: Path | str, write: Callable[[Path], None]) -> Path:
    """write(temporary_path) then rename the result to `path`; returns `path`. `write` must name the format
    itself (the temporary name ends in .tmp)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
