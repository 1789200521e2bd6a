"""KL divergence per latent dimension at the latest evaluation: dims under 0.01 nats are grey ("collapsed").

A VAE that uses only a few of its dimensions (posterior collapse) shows up here as a row of grey bars.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from trainer.latent.stats import ACTIVE_KL_NATS, active_definition
from trainer.latent.stats import active_dimensions as _active_dimensions

from .. import theme
from .run_state import RunState

ACTIVE_THRESHOLD_NATS = ACTIVE_KL_NATS        # the one definition (trainer.latent.stats.active_dimensions)


def active_dimensions(kl_per_dim: np.ndarray) -> np.ndarray:
    return _active_dimensions(kl_per_dim=kl_per_dim)


def bar_colour(active: bool, colours: theme.Theme) -> QColor:
    """An active dimension's bar in the first series colour, a collapsed one faint ("grey")."""
    return colours.series[0] if active else colours.plot_faint


def collapsed_colour() -> tuple[int, int, int]:
    return bar_colour(False, theme.current()).getRgb()[:3]


class KlChart(QWidget):
    def __init__(self, state: RunState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.setToolTip("KL per latent dimension at the latest evaluation, in nats: how much information each "
                        "dimension carries.\n" + active_definition(True))
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "latent dimension")
        self.plot.setLabel("left", "KL (nats)")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.getPlotItem().setContentsMargins(2, 10, 10, 2)     # room for the top tick label
        self.plot.setMenuEnabled(False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, pen=pg.mkPen(None))
        self.plot.addItem(self.bars)
        self.threshold_line = pg.InfiniteLine(pos=ACTIVE_THRESHOLD_NATS, angle=0)
        self.plot.addItem(self.threshold_line)
        self._kl = np.zeros(0)
        theme.style_plot(self.plot)
        theme.follow(self, self._apply_theme)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        state.kl_changed.connect(self.refresh)
        state.shown_step_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        step, kl = self.state.kl_at_shown_step()
        if kl is None and self.state.shown_step is None:
            kl = self.state.kl_per_dim
        if not self.state.is_variational:
            self._set_bars(np.zeros(0))
            self.title.setText("<b>KL per latent dimension</b> — a plain autoencoder has no KL term")
            return
        if kl is None:
            self._set_bars(np.zeros(0))
            when = ("no validation yet at the step the history shows" if self.state.shown_step is not None
                    else "shown after the first validation")
            self.title.setText(f"<b>KL per latent dimension</b> — {when}")
            return
        self._set_bars(kl)
        active = int(active_dimensions(kl).sum())
        at = f" at step {step:,}" if step is not None and self.state.shown_step is not None else ""
        self.title.setText(f"<b>KL per latent dimension</b>{at} — {active} of {len(kl)} active "
                           f"(KL &ge; {ACTIVE_THRESHOLD_NATS:g} nats); grey = collapsed")

    def _apply_theme(self, colours: theme.Theme) -> None:
        self.threshold_line.setPen(pg.mkPen(colours.plot_guide, style=pg.QtCore.Qt.PenStyle.DashLine))
        self._set_bars(self._kl)

    def _set_bars(self, kl: np.ndarray) -> None:
        self._kl = kl
        active = active_dimensions(kl)
        colours = theme.current()
        brushes = [pg.mkBrush(bar_colour(bool(on), colours)) for on in active]
        # Collapsed bars are near 0: draw them at least a sliver high so the grey is visible.
        floor = max(float(kl.max()) * 0.01, 1e-3) if len(kl) else 0.0
        heights = np.where(active, kl, np.maximum(kl, floor))
        self.bars.setOpts(x=np.arange(len(kl)), height=heights, width=0.8, brushes=brushes)
        self.threshold_line.setVisible(len(kl) > 0)
        if len(kl):
            self.plot.setXRange(-0.6, len(kl) - 0.4, padding=0)
            self.plot.setYRange(0, max(float(kl.max()) * 1.1, 0.05), padding=0)

    def bar_colours(self) -> list[tuple[int, int, int]]:
        """Colour of each bar (for tests)."""
        brushes = self.bars.opts.get("brushes") or []
        return [brush.color().getRgb()[:3] for brush in brushes]
