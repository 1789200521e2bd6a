"""Every colour the app uses, derived from the application palette, so a dark desktop theme reads as well as a
light one.

`current()` is the Theme of the palette in force. Text tones (muted, error, warning, ok, accent) are moved in
lightness until they reach WCAG AA contrast (4.5:1) on the window and view backgrounds; plot colours (lines, bars,
points) reach 3:1 on the plot background (WCAG's figure for graphics); the atlas's continuous colour scale is
viridis cut where its end nearest the background would fade into it. Images sit on the same dark neutral canvas in
either palette (photo viewers do the same; an exported grid looks the same whatever the desktop), with text chosen
for it, and a caption drawn over an image sits on a translucent black band.

Widgets take colours from here, never literals:
    set_tone(label, Tone.MUTED)     a label's text colour, kept right when the palette changes
    style_plot(plot_widget)         a pyqtgraph plot's background, axes and legend, likewise
    follow(widget, apply)           apply(theme) now and after every palette change (for pens, brushes)
    span(text, Tone.ERROR)          coloured rich text (follows a palette change when its text is made again)
Painting widgets call current() in paintEvent. install(app) at start-up sets pyqtgraph's defaults and keeps them
following the palette.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget

TEXT_CONTRAST = 4.5             # WCAG AA for normal text
GRAPHIC_CONTRAST = 3.0          # WCAG 1.4.11, non-text contrast of lines, bars and points
MAX_MUTED_MIX = 0.6             # muted text is at most this far from the text colour towards the background
# Categorical hues (matplotlib's tab10 order: blue, orange, green, red, purple, brown, pink, grey, olive, cyan);
# each is moved in lightness until it reads on the plot background.
SERIES_HUES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
               "#17becf")
ERROR_HUE, WARNING_HUE, OK_HUE, MARKER_HUE = "#c62828", "#b26a00", "#2e7d32", "#ff3b3b"
CANVAS = "#282a2e"              # behind images (faces, grids), in either palette
CANVAS_HIGHLIGHT = "#ffc400"    # a selected image on the canvas
CAPTION_BAND = QColor(0, 0, 0, 150)     # behind a caption drawn over an image
COLOUR_SCALE = "viridis"
PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


class Tone(str, Enum):
    """What a text says by its colour."""
    MUTED = "muted"             # secondary: hints, notes, captions, inactive items
    ERROR = "error"
    WARNING = "warning"
    OK = "ok"
    ACCENT = "accent"           # a live state worth noticing (link-like)


@dataclass(frozen=True)
class Theme:
    dark: bool
    window: QColor              # behind labels
    base: QColor                # behind views and entries
    text: QColor
    muted: QColor
    error: QColor
    warning: QColor
    ok: QColor
    accent: QColor
    banner_background: QColor   # a banner that reports a failure
    banner_border: QColor
    banner_text: QColor
    plot_background: QColor
    plot_foreground: QColor     # axes, tick labels, legend text
    plot_faint: QColor          # de-emphasised marks: collapsed bars, points of unknown value
    plot_guide: QColor          # cursor and threshold lines
    series: tuple[QColor, ...]  # categorical line / bar / point colours, SERIES_HUES order
    marker: QColor              # the current face on the atlas, a morph path
    canvas: QColor
    canvas_text: QColor
    canvas_muted: QColor
    canvas_highlight: QColor
    caption_band: QColor
    caption_text: QColor

    def tone(self, tone: Tone) -> QColor:
        return getattr(self, Tone(tone).value)

    def colour_scale(self, levels: int) -> list[QColor]:
        """The continuous colour scale in `levels` steps, low to high, each step reading on the plot background."""
        start, stop = _scale_range(self.plot_background.rgb())
        from pyqtgraph import colormap
        table = colormap.get(COLOUR_SCALE).getLookupTable(start, stop, levels, alpha=False)
        return [QColor(int(r), int(g), int(b)) for r, g, b in table]


# ------------------------------------------------------------ colour arithmetic

def luminance(colour: QColor) -> float:
    """WCAG relative luminance, 0 (black) .. 1 (white)."""
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 .. 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """`amount` of the way from a to b."""
    return QColor.fromRgbF(*(x + (y - x) * amount for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


def is_dark(colour: QColor) -> bool:
    """True when light text reads better on it than dark text (luminance under ~0.18)."""
    return contrast(colour, QColor("white")) > contrast(colour, QColor("black"))


def readable(colour: QColor | str, backgrounds: tuple[QColor, ...], minimum: float) -> QColor:
    """`colour`, made lighter (on dark backgrounds) or darker until its contrast with every background reaches
    `minimum`; hue and saturation are kept."""
    colour = QColor(colour)
    lighten = is_dark(backgrounds[0])
    hue, saturation, lightness = colour.hslHueF(), colour.hslSaturationF(), colour.lightnessF()
    for step in range(101):
        target = lightness + (1 - lightness) * step / 100 if lighten else lightness * (1 - step / 100)
        candidate = QColor.fromHslF(max(hue, 0.0), saturation, target)
        if min(contrast(candidate, background) for background in backgrounds) >= minimum:
            return candidate
    return QColor("white" if lighten else "black")


def muted_text(text: QColor, backgrounds: tuple[QColor, ...], minimum: float = TEXT_CONTRAST) -> QColor:
    """The text colour moved towards the background as far as it stays readable (at most MAX_MUTED_MIX)."""
    best = text
    for step in range(1, 31):
        amount = MAX_MUTED_MIX * step / 30
        candidate = mix(text, backgrounds[0], amount)
        if min(contrast(candidate, background) for background in backgrounds) < minimum:
            break
        best = candidate
    return best


@lru_cache(maxsize=8)
def _scale_range(background_rgb: int) -> tuple[float, float]:
    """The part of COLOUR_SCALE whose colours reach GRAPHIC_CONTRAST on the background: its dark end is cut on a
    dark background, its bright end on a light one."""
    from pyqtgraph import colormap
    samples = 101
    table = colormap.get(COLOUR_SCALE).getLookupTable(0.0, 1.0, samples, alpha=False)
    background = QColor.fromRgb(background_rgb)
    fine = [contrast(QColor(int(r), int(g), int(b)), background) >= GRAPHIC_CONTRAST for r, g, b in table]
    if not any(fine):
        return 0.0, 1.0
    first = fine.index(True)
    last = samples - 1 - fine[::-1].index(True)
    return first / (samples - 1), last / (samples - 1)


# ------------------------------------------------------------ the theme of a palette

def theme_for(palette: QPalette) -> Theme:
    group = QPalette.ColorGroup.Active
    window = palette.color(group, QPalette.ColorRole.Window)
    base = palette.color(group, QPalette.ColorRole.Base)
    text = palette.color(group, QPalette.ColorRole.WindowText)
    backgrounds = (window, base)
    error = readable(ERROR_HUE, backgrounds, TEXT_CONTRAST)
    banner_background = mix(window, error, 0.12)
    canvas = QColor(CANVAS)
    canvas_text = readable("#e1e1e1", (canvas,), 7.0)
    plot_background, plot_foreground = base, palette.color(group, QPalette.ColorRole.Text)
    return Theme(
        dark=is_dark(window), window=window, base=base, text=text,
        muted=muted_text(text, backgrounds),
        error=error,
        warning=readable(WARNING_HUE, backgrounds, TEXT_CONTRAST),
        ok=readable(OK_HUE, backgrounds, TEXT_CONTRAST),
        accent=readable(palette.color(group, QPalette.ColorRole.Link), backgrounds, TEXT_CONTRAST),
        banner_background=banner_background,
        banner_border=mix(window, error, 0.45),
        banner_text=readable(error, (banner_background,), TEXT_CONTRAST),
        plot_background=plot_background, plot_foreground=plot_foreground,
        plot_faint=readable(mix(plot_background, plot_foreground, 0.3), (plot_background,), 1.8),
        plot_guide=readable(mix(plot_background, plot_foreground, 0.5), (plot_background,), GRAPHIC_CONTRAST),
        series=tuple(readable(hue, (plot_background,), GRAPHIC_CONTRAST) for hue in SERIES_HUES),
        marker=readable(MARKER_HUE, (plot_background,), GRAPHIC_CONTRAST),
        canvas=canvas, canvas_text=canvas_text,
        canvas_muted=muted_text(canvas_text, (canvas,)),
        canvas_highlight=QColor(CANVAS_HIGHLIGHT),
        caption_band=QColor(CAPTION_BAND), caption_text=QColor("white"))


_cached: tuple[int, Theme] | None = None


def current() -> Theme:
    """The theme of the application palette now (the default palette before a QApplication exists)."""
    global _cached
    palette = QGuiApplication.palette()
    if _cached is None or _cached[0] != palette.cacheKey():
        _cached = (palette.cacheKey(), theme_for(palette))
    return _cached[1]


# ------------------------------------------------------------ widgets that follow the palette

class _Follower(QObject):
    """Calls apply(theme) now and whenever the widget's palette changes to one with other colours."""

    def __init__(self, widget: QWidget, apply: Callable[[Theme], None]):
        super().__init__(widget)
        self._apply = apply
        self._theme: Theme | None = None
        widget.installEventFilter(self)
        self.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in PALETTE_EVENTS:
            self.refresh()
        return False

    def refresh(self) -> None:
        theme = current()
        if theme != self._theme:        # also stops the loop a palette set by apply() would start
            self._theme = theme
            self._apply(theme)


def follow(widget: QWidget, apply: Callable[[Theme], None]) -> QObject:
    """Run apply(theme) now and after every palette change (the follower lives as long as the widget)."""
    return _Follower(widget, apply)


TONE_PROPERTY = "themeTone"
_TEXT_ROLES = (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text)
_TONED_GROUPS = (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive)   # disabled text stays the style's


def set_tone(widget: QWidget, tone: Tone | None) -> None:
    """Colour the widget's text by tone (None: the palette's own text colour), now and after palette changes."""
    widget.setProperty(TONE_PROPERTY, Tone(tone).value if tone is not None else "")
    if not any(isinstance(child, _Follower) and child.objectName() == TONE_PROPERTY
               for child in widget.children()):
        follow(widget, lambda theme: _paint_tone(widget, theme)).setObjectName(TONE_PROPERTY)
    _paint_tone(widget, current())


def tone_of(widget: QWidget) -> Tone | None:
    value = widget.property(TONE_PROPERTY)
    return Tone(value) if value else None


def _paint_tone(widget: QWidget, theme: Theme) -> None:
    tone = tone_of(widget)
    palette = widget.palette()
    for group in _TONED_GROUPS:
        for role in _TEXT_ROLES:
            colour = theme.tone(tone) if tone is not None else QGuiApplication.palette().color(group, role)
            palette.setColor(group, role, colour)
    widget.setPalette(palette)


def span(text: str, tone: Tone, escape: bool = True) -> str:
    """`text` as rich text in the tone's colour."""
    return f"<span style='color:{current().tone(tone).name()}'>{html.escape(text) if escape else text}</span>"


def style_plot(plot) -> None:
    """A pyqtgraph PlotWidget's background, axes and legend in the theme's plot colours, following the palette."""
    follow(plot, lambda theme: _paint_plot(plot, theme))


def _paint_plot(plot, theme: Theme) -> None:
    item = plot.getPlotItem()
    if item is None:                    # a closed PlotWidget drops its plot item
        return
    plot.setBackground(theme.plot_background)
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(theme.plot_foreground)
        axis.setTextPen(theme.plot_foreground)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(theme.plot_foreground)
        legend.setBrush(QColor(theme.plot_background.red(), theme.plot_background.green(),
                               theme.plot_background.blue(), 200))
        for _, label in legend.items:
            label.setText(label.text, color=theme.plot_foreground)


def apply_plot_defaults(theme: Theme) -> None:
    """pyqtgraph's default background and foreground (for plots made later) from the theme."""
    import pyqtgraph as pg
    pg.setConfigOptions(background=theme.plot_background, foreground=theme.plot_foreground)


class _AppFollower(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is QGuiApplication.instance() and event.type() == QEvent.Type.ApplicationPaletteChange:
            apply_plot_defaults(current())
        return False


def install(app: QGuiApplication) -> None:
    """At start-up: pyqtgraph's defaults from the palette, and again whenever the application palette changes."""
    apply_plot_defaults(current())
    if not any(isinstance(child, _AppFollower) for child in app.children()):
        app.installEventFilter(_AppFollower(app))
