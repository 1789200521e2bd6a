"""Desktop palettes for theme tests: a dark one like KDE's Breeze Dark or GNOME's dark style under Fusion, and the
style's own light one."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

DARK = {"Window": "#2b2d30", "WindowText": "#e6e6e6", "Base": "#1e1f22", "AlternateBase": "#2b2d30",
        "Text": "#e6e6e6", "Button": "#35373b", "ButtonText": "#e6e6e6", "BrightText": "#ff5555",
        "Highlight": "#3d6fb4", "HighlightedText": "#ffffff", "ToolTipBase": "#35373b", "ToolTipText": "#e6e6e6",
        "PlaceholderText": "#8c8c8c", "Light": "#45474b", "Midlight": "#3a3c40", "Mid": "#26272a",
        "Dark": "#1a1b1d", "Shadow": "#000000"}


def dark_palette() -> QPalette:
    """A dark palette with Qt's default link colour left as it is (blue, unreadable on dark: the theme fixes it)."""
    palette = QPalette()
    for role, colour in DARK.items():
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    for role in ("WindowText", "Text", "ButtonText"):
        palette.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, role), QColor("#7a7a7a"))
    return palette


@contextmanager
def application_palette(palette: QPalette, style: str = "Fusion") -> Iterator[QPalette]:
    """Run with `palette` (under `style`) as the application's, restoring the previous ones afterwards."""
    app = QApplication.instance()
    before_style, before = app.style().name(), QPalette(app.palette())
    app.setStyle(style)
    app.setPalette(palette)
    QApplication.processEvents()            # widgets hear of a palette change through posted events
    try:
        yield palette
    finally:
        app.setStyle(before_style)
        app.setPalette(before)
        QApplication.processEvents()
