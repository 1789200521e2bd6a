"""Colour values -> colour levels and a one-line legend for the atlas."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

from trainer.latent.atlas_data import ColourValues

from .atlas_plot import COLOUR_LEVELS, category_colours, level_colours, missing_colour

MAX_LEGEND_CATEGORIES = 10


def colour_levels(colour: ColourValues) -> tuple[np.ndarray, list[QColor], str]:
    """Level codes (N,) (-1: missing), the colours they index, and an HTML legend.

    Continuous values span the 2nd..98th percentile, so one outlier does not make every other point the same colour.
    """
    values = np.asarray(colour.values, np.float64)
    known = np.isfinite(values) & (values >= 0 if colour.categories else True)
    levels = np.full(len(values), -1, np.int64)
    if colour.categories:
        colours = category_colours(len(colour.categories))
        levels[known] = values[known].astype(np.int64)
        return levels, colours, _category_legend(colour, colours, int((~known).sum()))
    colours = level_colours(COLOUR_LEVELS)
    if not known.any():
        return levels, colours, f"{colour.name}: no values"
    low, high = np.percentile(values[known], [2, 98])
    scaled = (values[known] - low) / (high - low) if high > low else np.full(int(known.sum()), 0.5)
    levels[known] = np.clip((scaled * COLOUR_LEVELS).astype(np.int64), 0, COLOUR_LEVELS - 1)
    legend = (f"{colour.name}: {_swatch(colours[0])} {low:.4g} &rarr; {_swatch(colours[-1])} {high:.4g} "
              "(2nd to 98th percentile)")
    if not known.all():
        legend += f"; {_swatch(missing_colour())} unknown ({int((~known).sum()):,})"
    return levels, colours, legend


def _category_legend(colour: ColourValues, colours: list[QColor], missing: int) -> str:
    shown = [f"{_swatch(c)} {name}" for c, name in zip(colours, colour.categories[:MAX_LEGEND_CATEGORIES])]
    if len(colour.categories) > MAX_LEGEND_CATEGORIES:
        shown.append(f"and {len(colour.categories) - MAX_LEGEND_CATEGORIES} more")
    if missing:
        shown.append(f"{_swatch(missing_colour())} unknown")
    return f"{colour.name}: " + "&nbsp; ".join(shown)


def _swatch(colour: QColor) -> str:
    return f"<span style='color:{colour.name()}'>&#9632;</span>"
