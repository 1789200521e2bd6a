"""A tour of the main window for theme tests and screenshots: every tab (and every tab inside a tab) in turn, and
the colours the texts and plots on screen actually use, with their WCAG contrast against what is behind them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QTabWidget, QWidget

from vae_gui import theme

SPAN_COLOUR = re.compile(r"<span style=['\"]color:\s*(#[0-9a-fA-F]{3,6});?['\"]>(.*?)</span>", re.S)
SWATCH = "&#9632;"              # a colour legend's square: a sample of a plot colour, not text to read


@dataclass(frozen=True)
class Contrast:
    where: str                  # the widget and its text
    foreground: str
    background: str
    ratio: float
    minimum: float


def pages(window: QWidget, settle: Callable[[], None]) -> Iterator[str]:
    """Show every page: each tab of the window's top tab widget and, inside it, each tab of a nested tab widget;
    yields the page's name ("Explore / Atlas") once it is shown and `settle()` has run."""
    top = window.findChild(QTabWidget)
    for index in range(top.count()):
        top.setCurrentIndex(index)
        settle()
        inner = [tabs for tabs in top.widget(index).findChildren(QTabWidget) if tabs.isVisible()]
        if not inner:
            yield top.tabText(index)
            continue
        for sub in range(inner[0].count()):
            inner[0].setCurrentIndex(sub)
            settle()
            yield f"{top.tabText(index)} / {inner[0].tabText(sub)}"


def background_of(widget: QWidget) -> QColor:
    """The colour behind a widget that does not paint its own background: the nearest ancestor that fills its
    background, else the window's."""
    parent = widget.parentWidget()
    while parent is not None:
        if parent.autoFillBackground():
            return parent.palette().color(parent.backgroundRole())
        if parent.parentWidget() is None:
            return parent.palette().color(QPalette.ColorRole.Window)
        parent = parent.parentWidget()
    return QApplication.palette().color(QPalette.ColorRole.Window)


def text_contrasts(window: QWidget) -> list[Contrast]:
    """Every visible, enabled label's text colour and every coloured span in it, against its background."""
    found = []
    for label in window.findChildren(QLabel):
        if not label.isVisible() or not label.isEnabled() or not label.text().strip():
            continue
        behind = background_of(label)
        where = f"{type(label.parentWidget()).__name__} label {label.text()[:60]!r}"
        colours = [label.palette().color(label.foregroundRole())]
        colours += [QColor(colour) for colour, inside in SPAN_COLOUR.findall(label.text()) if SWATCH not in inside]
        for colour in colours:
            found.append(Contrast(where, colour.name(), behind.name(), theme.contrast(colour, behind),
                                  theme.TEXT_CONTRAST))
    return found


def plot_contrasts(window: QWidget) -> list[Contrast]:
    """Every visible plot's axis texts against its background (and that background itself, for the caller)."""
    found = []
    for plot in window.findChildren(pg.PlotWidget):
        if not plot.isVisible() or plot.getPlotItem() is None:
            continue
        behind = plot.backgroundBrush().color()
        for name in ("left", "bottom"):
            axis = plot.getPlotItem().getAxis(name)
            if axis.isVisible():
                colour = axis.textPen().color()
                found.append(Contrast(f"{type(plot).__name__} {name} axis", colour.name(), behind.name(),
                                      theme.contrast(colour, behind), theme.TEXT_CONTRAST))
    return found


def visible_plots(window: QWidget) -> list[pg.PlotWidget]:
    return [plot for plot in window.findChildren(pg.PlotWidget) if plot.isVisible()]
