"""Line plots for reports, drawn with matplotlib (Agg, no Qt), written as PNG and SVG.

Each figure is its own `matplotlib.figure.Figure` on an Agg canvas: pyplot's global figure list is never touched, so
nothing leaks from one figure to the next and no GUI backend is ever chosen. matplotlib is imported here only; the
report imports this module when it writes, so starting the app or the CLI does not pay for it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from trainer.atomic import write_atomically

# tab10's ten distinct colours; the next ten runs reuse them dashed, then dotted, then dash-dotted, so 40 runs each
# get their own (colour, dash) pair and the first ten stay solid.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
DASHES = ("-", "--", ":", "-.")
LOG_DECADES = 1.0          # auto log axis when the positive values span at least this many decades (10x)
FIGURE_SIZE = (9.6, 5.4)   # inches; at DPI 100 a 960 x 540 PNG before the legend is added
DPI = 100


@dataclass
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]


def line_style(index: int) -> dict:
    """Colour and dash of the index-th series (see COLOURS and DASHES)."""
    return {"color": COLOURS[index % len(COLOURS)], "linestyle": DASHES[(index // len(COLOURS)) % len(DASHES)]}


def line_plot(series: Sequence[Series], path: Path | str, title: str, x_label: str, y_label: str,
              log_y: bool | None = None) -> Path:
    """line_figure() saved as path (.png) and beside it as .svg; returns the PNG's path."""
    return save_figure(line_figure(series, title, x_label, y_label, log_y), path)


def line_figure(series: Sequence[Series], title: str, x_label: str, y_label: str,
                log_y: bool | None = None) -> Figure:
    """Overlaid lines, the legend outside the axes on the right.

    log_y None: a log axis when the values span LOG_DECADES or more. Non-finite points (and y <= 0 on a log axis)
    are dropped; a series left with one point is drawn as a marker. Each series keeps the style of its position in
    `series`, so a run looks the same in every figure of a report."""
    drawn = [(index, clean) for index, s in enumerate(series) if (clean := _finite(s)).x]
    if log_y is None:
        log_y = _spans_decades([y for _, s in drawn for y in s.y])
    if log_y:
        drawn = [(index, clean) for index, s in drawn if (clean := _positive(s)).x]
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, s in drawn:
        axes.plot(s.x, s.y, label=s.label, linewidth=1.6, marker="o" if len(s.x) == 1 else None, **line_style(index))
    log_y = log_y and bool(drawn)
    if log_y:
        axes.set_yscale("log")
        # label some in-between ticks (2, 5) too when the axis spans few decades: two labels alone are hard to read
        axes.yaxis.set_major_formatter(LogFormatter())          # plain numbers (60, 200), not 6 x 10^1
        axes.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2.5, 0.5)))
        axes.grid(True, which="minor", color="#f0f0f0", linewidth=0.5)
    axes.grid(True, which="major", color="#dddddd", linewidth=0.8)
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label + (" (log scale)" if log_y else ""))
    if drawn:
        # outside the axes, so no curve is hidden; two columns when one would run off the figure
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small",
                    ncols=1 if len(drawn) <= 20 else 2, handlelength=3.0, frameon=False)
    else:
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center", color="gray")
    return figure


def save_figure(figure: Figure, path: Path | str) -> Path:
    """Write path as PNG and the same figure as SVG beside it; returns the PNG's path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    # "tight": the outside legend is part of the image; no date: a reproducible SVG
    write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", bbox_inches="tight"))
    write_atomically(path.with_suffix(".svg"),
                     lambda tmp: figure.savefig(tmp, format="svg", bbox_inches="tight", metadata={"Date": None}))
    return path


def _finite(series: Series) -> Series:
    pairs = [(float(x), float(y)) for x, y in zip(series.x, series.y)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    return Series(series.label, [x for x, _ in pairs], [y for _, y in pairs])


def _positive(series: Series) -> Series:
    pairs = [(x, y) for x, y in zip(series.x, series.y) if y > 0]
    return Series(series.label, [x for x, _ in pairs], [y for _, y in pairs])


def _spans_decades(values: list[float]) -> bool:
    positive = [v for v in values if v > 0]
    if len(positive) < 2 or len(positive) < len(values):      # zeros or negatives: a linear axis shows them
        return False
    return math.log10(max(positive) / min(positive)) >= LOG_DECADES
