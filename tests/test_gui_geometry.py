"""The main window fits small and HiDPI screens, checked by geometry on every page (Train and every explorer tab):
at 1024x700, at 1366x768 and at the smallest size the window allows, under QT_SCALE_FACTOR 1 and 2, no two laid-out
controls overlap, no button or label is smaller than its text needs, nothing is drawn over the face, and the window's
minimum size fits a 1024 px wide screen. One process per scale factor (tests/window_geometry.py does the tour)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from window_geometry import SMALL_SCREEN

HERE = Path(__file__).resolve().parent
SIZES = ("1024x700", "1366x768", "minimum")


def run_tour(scale: str, cache: Path) -> dict:
    env = dict(os.environ, QT_SCALE_FACTOR=scale, QT_QPA_PLATFORM="offscreen", VAE_EXPLORER_CACHE=str(cache))
    done = subprocess.run([sys.executable, str(HERE / "window_geometry.py"), *SIZES], env=env, cwd=HERE.parent,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["1", "2"])
def test_every_page_fits_at_every_size_and_scale(scale, tmp_path):
    report = run_tour(scale, tmp_path / "cache")
    width, height = report["minimum_size_hint"]
    assert width <= SMALL_SCREEN.width() and height <= SMALL_SCREEN.height(), report["minimum_size_hint"]
    smallest = report["sizes"]["minimum"]
    assert smallest[0] <= SMALL_SCREEN.width() and smallest[1] <= SMALL_SCREEN.height(), smallest
    assert report["sizes"]["1024x700"] == [1024, 700]           # the window really was that small
    pages = {page.split(" ", 1)[1] for page in report["problems"]}
    assert {"Train", "Explore / Morph", "Explore / Directions", "Explore / Atlas"} <= pages, pages
    problems = [f"{where}: {problem}" for where, found in report["problems"].items() for problem in found]
    assert not problems, "\n".join(problems)


def test_a_scrolling_page_fills_its_room_and_scrolls_only_when_short(qtbot):
    """What the tall pages stand on: with room, everything shows and nothing scrolls (Qt's own resizable scroll area
    sized such a page at its preferred height and scrolled it anyway); short, it scrolls and no text is clipped."""
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

    from vae_gui.vertical_scroll import VerticalScroll, scrolling_body

    class Tall(QWidget):                  # like a face view: it would like 900 px, it can live with 60
        def sizeHint(self) -> QSize:
            return QSize(300, 900)

    page = QWidget()
    body = scrolling_body(page)
    text = QLabel("a long explanation " * 30, body)
    text.setWordWrap(True)
    face = Tall(body)
    face.setMinimumHeight(60)
    face.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    layout = QVBoxLayout(body)
    layout.addWidget(text)
    layout.addWidget(face, 1)
    qtbot.addWidget(page)
    page.resize(320, 600)
    page.show()
    qtbot.waitExposed(page)
    qtbot.wait(20)
    scroll = page.findChild(VerticalScroll)
    assert not scroll.verticalScrollBar().isVisible()
    assert body.height() == scroll.viewport().height() and face.height() > 200     # the face takes the room
    page.resize(320, 120)
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().isVisible(), timeout=2000)
    qtbot.wait(20)
    assert text.height() >= text.heightForWidth(text.width())                       # every line of the text
    assert face.height() >= 60 and body.height() > scroll.viewport().height()
    assert page.minimumSizeHint().width() >= body.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
