"""A check of the installed Qt binding that the app needs before it builds any window.

PySide6 6.12.0 releases a reference to None on every call of a method that returns nothing (setText, update,
processEvents, ...). From Python 3.12 on, None is immortal and nothing happens; on 3.10 and 3.11 None's count runs
out after some ten thousand such calls and Python aborts ("deallocating None") — minutes into a session. Refusing
to start with a message beats a crash that loses the user's unsaved face edits.
"""
from __future__ import annotations

import sys
from typing import Callable

PROBE_CALLS = 200
FIX_HINT = 'pip install "PySide6-Essentials>=6.6,!=6.12.0"  (or use Python 3.12 or newer)'


class QtBindingError(RuntimeError):
    """The installed Qt binding would crash the app; the message says how to fix it."""


def leaked_none_references(call: Callable[[], object], calls: int = PROBE_CALLS) -> int:
    """How many references to None `calls` calls of `call` dropped (0 for a healthy binding)."""
    before = sys.getrefcount(None)
    for _ in range(calls):
        call()
    return max(0, before - sys.getrefcount(None))


def check_qt_binding(python_version: tuple[int, int] | None = None) -> None:
    """Raise QtBindingError when the binding drops references to None and this Python would crash on it."""
    major, minor = python_version or sys.version_info[:2]
    if (major, minor) >= (3, 12):          # None is immortal: a dropped reference is harmless
        return
    import PySide6
    from PySide6.QtCore import QObject

    probe = QObject()
    if leaked_none_references(lambda: probe.setObjectName("probe")) >= PROBE_CALLS // 2:
        raise QtBindingError(
            f"PySide6 {PySide6.__version__} has a reference-counting bug that crashes this app on Python "
            f"{major}.{minor} during a session. Install another version: {FIX_HINT}")
