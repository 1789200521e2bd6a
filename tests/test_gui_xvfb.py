"""Smoke test: the real main window on a real X server (Xvfb + Qt's xcb platform), screenshot saved and checked.

The window runs in a subprocess so this test's offscreen QApplication is not involved. Skipped, with the reason,
where Xvfb or the xcb libraries Qt needs are missing (install: xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0).
"""
from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
XCB_LIBRARIES = ("xcb-cursor", "xcb-icccm", "xcb-keysyms", "xcb-image", "xcb-render-util", "xcb-xkb",
                 "xkbcommon-x11", "xcb-shape")

# Opens MainWindow on the Train tab, lets it paint, grabs the window from the X screen and saves a PNG.
WINDOW_SCRIPT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from vae_gui.app import create_application
    from vae_gui.main_window import MainWindow

    app = create_application(["xvfb-smoke"])
    assert QApplication.platformName() == "xcb", QApplication.platformName()
    window = MainWindow(start_on_training=True)
    window.resize(1400, 900)
    window.show()

    def capture():
        shot = window.screen().grabWindow(window.winId())
        ok = shot.save(sys.argv[1])
        print("saved", ok, shot.width(), shot.height(), flush=True)
        window.close()
        app.exit(0 if ok else 3)

    QTimer.singleShot(1500, capture)
    sys.exit(app.exec())
""")


def _missing_requirement() -> str | None:
    if shutil.which("Xvfb") is None:
        return "the Xvfb binary is not installed"
    missing = [name for name in XCB_LIBRARIES if ctypes.util.find_library(name) is None]
    if missing:
        return f"xcb libraries Qt's xcb platform needs are missing: {', '.join(missing)}"
    return None


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display: -displayfd makes the server pick one and write its number to a pipe."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24",
                               "-nolisten", "tcp"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        server.wait()
        pytest.skip("Xvfb did not start")
    return server, f":{number}"


@pytest.mark.slow
def test_main_window_renders_under_xvfb(tmp_path):
    reason = _missing_requirement()
    if reason:
        pytest.skip(reason)
    screenshot = tmp_path / "window.png"
    server, display = _start_xvfb()
    try:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        result = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT, str(screenshot)], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=180)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 0, f"window script failed:\n{result.stdout}\n{result.stderr}"
    assert "QThread: Destroyed" not in result.stderr
    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 600
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 20, "the screenshot is (almost) a single colour"
    assert pixels.std() > 10
