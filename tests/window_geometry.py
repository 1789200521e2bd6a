"""The main window's layout, checked by geometry on every page: no two laid-out controls overlap, no button or label
is smaller than its text needs, nothing is drawn over the explorer's face, and the window's minimum size fits a small
screen. Run as a script it opens the real window (offscreen), visits every page at each size and prints one JSON line
of what it found; tests/test_gui_geometry.py runs it once per QT_SCALE_FACTOR (the factor must be set before the
QApplication exists).

    QT_SCALE_FACTOR=2 python tests/window_geometry.py --shots /tmp/shots 1024x700 1366x768 minimum
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from event_loop import settle_for, wait_until  # noqa: E402

from PySide6.QtCore import QPoint, QRect, QSize  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QLabel, QLayout, QTabBar, QWidget  # noqa: E402

# A 1366x768 laptop's free area less a title bar, and a 1024 px wide screen: the window's minimum fits both.
SMALL_SCREEN = QSize(1024, 640)
QT_PARTS = ("QTabBar", "QScrollBar", "QToolBar")     # tab-scroll arrows, scroll bar parts: Qt's own


def window_rect(widget: QWidget, window: QWidget) -> QRect:
    return QRect(QWidget.mapTo(widget, window, QPoint(0, 0)), QWidget.size(widget))   # some tabs shadow size


def shown(widget: QWidget, window: QWidget) -> bool:
    return widget.isVisibleTo(window) and QWidget.width(widget) > 0 and QWidget.height(widget) > 0


def name_of(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, (QAbstractButton, QLabel)) else ""
    return f"{type(widget).__name__} {text[:40]!r}" if text else type(widget).__name__


def laid_out_widgets(layout: QLayout) -> list[QWidget]:
    """The widgets a layout places, through its nested layouts."""
    found = []
    for index in range(layout.count()):
        item = layout.itemAt(index)
        if item.widget() is not None:
            found.append(item.widget())
        elif item.layout() is not None:
            found.extend(laid_out_widgets(item.layout()))
    return found


def overlaps(window: QWidget) -> list[str]:
    """Two visible widgets placed by the same layout whose rectangles intersect: one is drawn over the other."""
    problems = []
    for parent in [window] + window.findChildren(QWidget):
        if parent.layout() is None or not parent.isVisibleTo(window) and parent is not window:
            continue
        placed = [w for w in laid_out_widgets(parent.layout()) if shown(w, window)]
        for i, first in enumerate(placed):
            for second in placed[i + 1:]:
                if first.geometry().intersects(second.geometry()):
                    problems.append(f"{name_of(first)} overlaps {name_of(second)} in {type(parent).__name__}")
    return problems


def needed_size(widget: QAbstractButton | QLabel) -> QSize:
    """What the widget's text needs: its size hint, or for a wrapping label the height its width gives it."""
    if isinstance(widget, QLabel) and widget.wordWrap():
        return QSize(widget.minimumSizeHint().width(), widget.heightForWidth(QWidget.width(widget)))
    return widget.sizeHint()


def undersized(window: QWidget) -> list[str]:
    """Buttons and texts smaller than what their text needs: clipped text, or 10 px tall buttons."""
    problems = []
    for widget in window.findChildren(QAbstractButton) + window.findChildren(QLabel):
        if not shown(widget, window) or isinstance(widget, QTabBar):
            continue
        if type(widget.parentWidget()).__name__ in QT_PARTS or type(widget).__name__ == "QTabBarCloseButton":
            continue
        if isinstance(widget, QLabel) and (not widget.text().strip() or widget.pixmap() is not None
                                           and not widget.pixmap().isNull()):
            continue
        need, has = needed_size(widget), QWidget.size(widget)
        if need.height() > has.height() + 1 or need.width() > has.width() + 1:
            problems.append(f"{name_of(widget)} is {has.width()}x{has.height()}, its text needs "
                            f"{need.width()}x{need.height()}")
    return problems


def drawn_over(window: QWidget, face: QWidget) -> list[str]:
    """Visible widgets, other than the face view's own ancestors and children, that cover part of it."""
    visible = face.visibleRegion().boundingRect()         # in a scrolled column, the part in view
    if not shown(face, window) or visible.isEmpty():
        return []
    area = QRect(QWidget.mapTo(face, window, visible.topLeft()), visible.size())
    problems = []
    for widget in window.findChildren(QWidget):
        if widget is face or widget.isWindow() or not shown(widget, window):
            continue
        if widget.isAncestorOf(face) or face.isAncestorOf(widget):
            continue
        if window_rect(widget, window).intersects(area):
            problems.append(f"{name_of(widget)} is drawn over the face")
    return problems


def problems_on_page(window) -> list[str]:
    return overlaps(window) + undersized(window) + drawn_over(window, window.explorer_panel.face_panel.view)


# ---------------------------------------------------------------- the tour (script)





def open_filled_window(app):
    """The main window as a user soon has it: the bundled model's faces, its nearest training faces, an encoded
    image beside the face and a run's curves on the Train tab."""
    from qt_doubles import RecordingDialogs
    from test_gui_theme import feed_a_run
    from vae_gui.main_window import MainWindow

    window = MainWindow()
    window.explorer_panel.dialogs = RecordingDialogs()
    window.resize(1024, 700)
    window.show()
    explorer = window.explorer_panel
    wait_until(app, lambda: explorer.state.data is not None and explorer.neighbours_strip.ready)
    explorer.faces.randomize_from_data()
    feed_a_run(window.training_panel.state)
    return window


def tour(sizes: list[str], shots: Path | None) -> dict:
    from PySide6.QtCore import QSettings

    from test_gui_theme import fill_atlas
    from vae_gui.app import create_application
    from window_tour import pages

    app = create_application(["geometry"])
    scratch = Path(os.environ.get("VAE_EXPLORER_CACHE", "/tmp")) / "settings"
    for format_ in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(format_, QSettings.Scope.UserScope, str(scratch))
    window = open_filled_window(app)
    hint = window.minimumSizeHint()
    report = {"minimum_size_hint": [hint.width(), hint.height()], "sizes": {}, "problems": {}}

    def settle() -> None:
        settle_for(app, 0.15)
        fill_atlas(window)
        settle_for(app, 0.1)

    for size in sizes:
        window.resize(QSize(1, 1) if size == "minimum" else QSize(*(int(v) for v in size.split("x"))))
        settle_for(app, 0.2)
        report["sizes"][size] = [window.width(), window.height()]
        for page in pages(window, settle):
            where = f"{size} {page}"
            report["problems"][where] = problems_on_page(window)
            if shots is not None:
                window.grab().save(str(shots / f"{size}-{page.replace(' / ', '-').replace(' ', '_').lower()}.png"))
    window.explorer_panel.shutdown()
    window.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="+", help="WIDTHxHEIGHT or 'minimum' (the smallest the window allows)")
    parser.add_argument("--shots", type=Path, help="save a PNG of every page at every size here")
    args = parser.parse_args()
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    print(json.dumps(tour(args.sizes, args.shots)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
