"""Work off the GUI thread runs at a lower OS priority than the GUI thread.

On a 2-core laptop a background thread (a training run, a nearest-faces query, an encoding) and Qt's own helper
threads compete for the same cores: Qt's raster engine splits large fills and image scaling over its thread pool
and the GUI thread waits for every part. With the background thread at the same priority a slider move waited up to
twice its length for a descheduled helper; at a lower one the helpers preempt it at once.
"""
from __future__ import annotations

import os
import sys
import threading

BACKGROUND_NICE = 5         # background threads' OS priority below the GUI's (Linux: per thread)


def lower_this_thread_priority(nice: int = BACKGROUND_NICE) -> bool:
    """Lower the OS priority of the calling thread (and of the threads it starts: torch's intra-op pool).
    Linux only, where priorities are per thread; elsewhere (and when refused) nothing changes."""
    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
        return True
    except OSError:
        return False
