"""Small line plots drawn with Pillow (axes, ticks, legend, optional log-y), for reports written without Qt.

Not a plotting library: one function that draws overlaid curves readably, e.g. the loss curves of several runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

# Distinct colours (Tableau-like); beyond them the colours repeat with dashed lines.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (0, 0, 128), (128, 128, 0))
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 80, 20, 40, 60
LEGEND_WIDTH = 210


@dataclass
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]


@dataclass
class _Axis:
    low: float
    high: float
    log: bool

    def fraction(self, value: float) -> float:
        if self.log:
            value = math.log10(value)
        return (value - self.low) / (self.high - self.low) if self.high > self.low else 0.5


def line_plot(series: Sequence[Series], path: Path | str, title: str, x_label: str, y_label: str,
              log_y: bool = False, size: tuple[int, int] = (960, 540)) -> Path:
    """Draw the series as overlaid lines and save a PNG. Non-finite points (and y <= 0 on a log axis) are dropped."""
    clean = [Series(s.label, *_finite_points(s, log_y)) for s in series]
    width, height = size
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(13)
    box = (MARGIN_LEFT, MARGIN_TOP, width - MARGIN_RIGHT - LEGEND_WIDTH, height - MARGIN_BOTTOM)
    draw.text(((box[0] + box[2]) // 2, 12), title, fill="black", font=_font(16), anchor="mt")
    drawn = [s for s in clean if s.x]
    if not drawn:
        draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), "no data", fill="gray", font=font, anchor="mm")
    else:
        x_axis = _axis([v for s in drawn for v in s.x], log=False)
        y_axis = _axis([v for s in drawn for v in s.y], log=log_y)
        _draw_grid_and_ticks(draw, box, x_axis, y_axis, font)
        for index, s in enumerate(drawn):
            points = [_to_pixel(box, x_axis, y_axis, x, y) for x, y in zip(s.x, s.y)]
            _draw_line(draw, points, PALETTE[index % len(PALETTE)], dashed=index >= len(PALETTE))
    draw.rectangle(box, outline="black")
    draw.text(((box[0] + box[2]) // 2, height - 18), x_label, fill="black", font=font, anchor="ms")
    _draw_vertical_text(image, y_label + (" (log scale)" if log_y else ""), (16, (box[1] + box[3]) // 2), font)
    _draw_legend(draw, [s.label for s in drawn], (box[2] + 14, box[1]), font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _finite_points(series: Series, log_y: bool) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for x, y in zip(series.x, series.y):
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)) or (log_y and y <= 0):
            continue
        xs.append(float(x))
        ys.append(float(y))
    return xs, ys


def _axis(values: list[float], log: bool) -> _Axis:
    if log:
        values = [math.log10(v) for v in values]
        low, high = math.floor(min(values) * 10) / 10, math.ceil(max(values) * 10) / 10
    else:
        low, high = min(values), max(values)
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    if not log:
        pad = 0.03 * (high - low)
        low, high = low - pad, high + pad
    return _Axis(low, high, log)


def nice_ticks(low: float, high: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(1, target)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _log_ticks(axis: _Axis) -> list[float]:
    """Decades; 1-2-5 within a decade when the axis spans under three; 1..9 when under one."""
    span = axis.high - axis.low
    multipliers = (1,) if span >= 3 else (1, 2, 5) if span >= 1 else tuple(range(1, 10))
    ticks = []
    for decade in range(math.floor(axis.low), math.ceil(axis.high) + 1):
        for m in multipliers:
            value = m * 10.0 ** decade
            if axis.low <= math.log10(value) <= axis.high:
                ticks.append(value)
    return ticks


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.0e}"
    return f"{value:g}"


def _to_pixel(box, x_axis: _Axis, y_axis: _Axis, x: float, y: float) -> tuple[float, float]:
    left, top, right, bottom = box
    return (left + x_axis.fraction(x) * (right - left), bottom - y_axis.fraction(y) * (bottom - top))


def _draw_grid_and_ticks(draw: ImageDraw.ImageDraw, box, x_axis: _Axis, y_axis: _Axis, font) -> None:
    left, top, right, bottom = box
    for x in nice_ticks(x_axis.low, x_axis.high):
        px = left + x_axis.fraction(x) * (right - left)
        draw.line([(px, top), (px, bottom)], fill=(230, 230, 230))
        draw.line([(px, bottom), (px, bottom + 5)], fill="black")
        draw.text((px, bottom + 8), _tick_label(x), fill="black", font=font, anchor="mt")
    y_ticks = _log_ticks(y_axis) if y_axis.log else nice_ticks(y_axis.low, y_axis.high)
    for y in y_ticks:
        py = bottom - y_axis.fraction(y) * (bottom - top)
        draw.line([(left, py), (right, py)], fill=(230, 230, 230))
        draw.line([(left - 5, py), (left, py)], fill="black")
        draw.text((left - 8, py), _tick_label(y), fill="black", font=font, anchor="rm")


def _draw_line(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], color, dashed: bool) -> None:
    if len(points) == 1:
        x, y = points[0]
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
        return
    if not dashed:
        draw.line(points, fill=color, width=2, joint="curve")
        return
    for index, (a, b) in enumerate(zip(points, points[1:])):
        if index % 2 == 0:
            draw.line([a, b], fill=color, width=2)


def _draw_legend(draw: ImageDraw.ImageDraw, labels: list[str], origin: tuple[int, int], font) -> None:
    x, y = origin
    for index, label in enumerate(labels):
        color = PALETTE[index % len(PALETTE)]
        row_y = y + 8 + index * 18
        if index >= len(PALETTE):
            draw.line([(x, row_y), (x + 8, row_y)], fill=color, width=3)
            draw.line([(x + 14, row_y), (x + 22, row_y)], fill=color, width=3)
        else:
            draw.line([(x, row_y), (x + 22, row_y)], fill=color, width=3)
        draw.text((x + 28, row_y), label[:24], fill="black", font=font, anchor="lm")


def _draw_vertical_text(image: Image.Image, text: str, centre: tuple[int, int], font) -> None:
    measure = ImageDraw.Draw(image).textbbox((0, 0), text, font=font)
    label = Image.new("RGB", (measure[2] + 4, measure[3] + 4), "white")
    ImageDraw.Draw(label).text((2, 2), text, fill="black", font=font)
    rotated = label.rotate(90, expand=True)
    image.paste(rotated, (centre[0] - rotated.width // 2, centre[1] - rotated.height // 2))


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)     # a scalable font on Pillow >= 10.1
    except TypeError:
        return ImageFont.load_default()
