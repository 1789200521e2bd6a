"""Turning a QApplication's event loop from a script (screenshots, the geometry tour), where no qtbot is at hand."""
from __future__ import annotations

import time


def settle_for(app, seconds: float) -> None:
    """Process events for `seconds`: timers, layouts and paints catch up."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_until(app, condition, timeout_s: float = 600) -> None:
    """Process events until `condition()` holds; TimeoutError after `timeout_s`."""
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)
