"""Live loss curves: train total, reconstruction and KL (raw faint, smoothed on top), validation loss, and the
curves of earlier runs for comparison. Redrawn from a timer (10 Hz) when RunState.revision moved."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from trainer.models.losses import NEGATIVE_LOSS_EXPLAINED

from .. import theme
from .run_state import RunCurves, RunState
from .smoothing import EmaSeries

# (name, column in RunCurves.steps, index into theme.series: blue, green, red)
TRAIN_SERIES = (("total", 1, 0), ("reconstruction", 2, 2), ("KL", 3, 3))
VALIDATION_SERIES = 1                           # orange
PAST_RUN_SERIES = (4, 5, 6, 7, 8, 9)            # purple, brown, pink, grey, olive, cyan
RAW_ALPHA = 55
# Width-1 pens and no grid: on Qt's raster engine a 2 px curve or pyqtgraph's alpha grid costs ~5-8 ms per
# repaint each (measured), which the event loop feels at 10 redraws a second.
CURVE_WIDTH = 1
DEFAULT_SMOOTHING = 0.6

LOSS_TIP = ("Loss per image. train total = reconstruction + beta x KL (what the optimizer minimizes); validation = "
            "the same on held-out images (best.pt is the step where it was lowest). For a VAE with beta = 1 the "
            "total is the negative ELBO.\n" + NEGATIVE_LOSS_EXPLAINED)


# Curves are redrawn at most this often: at 10 per second the plot took ~3% of a core from a 2-core machine's
# training run; 4 per second still reads as live.
REFRESH_MS = 250


class LossPlot(QWidget):
    def __init__(self, state: RunState, parent: QWidget | None = None, refresh_ms: int = REFRESH_MS):
        super().__init__(parent)
        self.state = state
        self._drawn = (-1, -1.0)                  # (revision, smoothing) last drawn
        self._emas: dict[tuple[int, int], EmaSeries] = {}
        self._drawn_evals = (0, -1)               # (id of the run, validation points) last drawn
        self._overlays: dict[int, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._overlay_series: dict[int, int] = {}           # id of an earlier run -> its index into theme.series
        self._build()
        self.state.runs_changed.connect(self._sync_overlays)
        self.state.visibility_changed.connect(self._sync_overlays)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(refresh_ms)

    # ------------------------------------------------------------ widgets
    def _build(self) -> None:
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss per image")
        self.plot.setDownsampling(auto=True, mode="peak")
        self.plot.setClipToView(True)
        self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.raw_curves, self.smooth_curves = {}, {}
        for name, _, _ in TRAIN_SERIES:
            self.raw_curves[name] = self.plot.plot()
            self.smooth_curves[name] = self.plot.plot(name=f"train {name}")
        self.validation_curve = self.plot.plot(symbol="o", symbolSize=6, symbolPen=None, name="validation")
        self.cursor_line = pg.InfiniteLine(angle=90, movable=False)
        self.cursor_line.setVisible(False)
        self.plot.addItem(self.cursor_line, ignoreBounds=True)
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)

        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("Logarithmic loss axis: early and late values both readable")
        self.log_check.toggled.connect(lambda on: self.plot.setLogMode(x=False, y=on))
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(int(DEFAULT_SMOOTHING * 100))
        self.smoothing.setMaximumWidth(160)
        self.smoothing.setMinimumWidth(80)              # a narrow window must not squeeze it to a dot
        self.smoothing.setToolTip("Exponential moving average of the train curves; the raw curve stays faint "
                                  "behind")
        self.smoothing_label = QLabel()
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self._smoothing_changed()
        self.readout = QLabel("Hover over the plot to read values")
        theme.set_tone(self.readout, theme.Tone.MUTED)
        self.readout.setWordWrap(True)
        # Fixed height (two lines): new text on hover must not re-lay-out the plot above it.
        self.readout.setFixedHeight(2 * self.readout.fontMetrics().lineSpacing() + 4)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        controls = QHBoxLayout()
        title = QLabel("<b>Loss</b>")
        title.setToolTip(LOSS_TIP)
        self.plot.setToolTip(LOSS_TIP)
        # Shown while a curve is below zero or the run's loss can go there: the question it answers comes first.
        self.negative_note = QLabel("below 0 is normal (why?)")
        self.negative_note.setToolTip(NEGATIVE_LOSS_EXPLAINED)
        theme.set_tone(self.negative_note, theme.Tone.MUTED)
        self.negative_note.hide()
        controls.addWidget(title)
        controls.addWidget(self.negative_note)
        controls.addStretch(1)
        controls.addWidget(self.log_check)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Smoothing:"))
        controls.addWidget(self.smoothing)
        controls.addWidget(self.smoothing_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)
        theme.style_plot(self.plot)
        theme.follow(self, self._apply_theme)

    def _apply_theme(self, colours: theme.Theme) -> None:
        for name, _, series in TRAIN_SERIES:
            colour = colours.series[series]
            self.raw_curves[name].setPen(pg.mkPen((*colour.getRgb()[:3], RAW_ALPHA), width=1))
            self.smooth_curves[name].setPen(pg.mkPen(colour, width=CURVE_WIDTH))
        validation = colours.series[VALIDATION_SERIES]
        self.validation_curve.setPen(pg.mkPen(validation, width=CURVE_WIDTH))
        self.validation_curve.setSymbolBrush(validation)
        self.cursor_line.setPen(pg.mkPen(colours.plot_guide, width=1))
        for key, (total, val) in self._overlays.items():
            self._colour_overlay(total, val, colours.series[self._overlay_series[key]])

    @staticmethod
    def _colour_overlay(total: pg.PlotDataItem, val: pg.PlotDataItem, colour) -> None:
        total.setPen(pg.mkPen(colour, width=CURVE_WIDTH))
        val.setPen(pg.mkPen(colour, width=CURVE_WIDTH, style=Qt.PenStyle.DashLine))

    @property
    def smoothing_weight(self) -> float:
        return self.smoothing.value() / 100.0

    def _smoothing_changed(self) -> None:
        self.smoothing_label.setText(f"{self.smoothing_weight:.2f}")
        for ema in self._emas.values():
            ema.reset(self.smoothing_weight)
        self.refresh()

    # ------------------------------------------------------------ drawing
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Redraw when curves or smoothing changed since the last draw (cheap no-op otherwise).

        Earlier runs' curves do not change: they are drawn when they appear or the smoothing changes."""
        key = (self.state.revision, self.smoothing_weight)
        if key == self._drawn or not self.isVisible():
            return                              # unchanged, or on a hidden tab: drawn when shown (showEvent)
        smoothing_changed = key[1] != self._drawn[1]
        self._drawn = key
        self._draw_current(self.state.current)
        if smoothing_changed:
            for curves in self.state.runs:
                if id(curves) in self._overlays:
                    self._draw_overlay(curves)
        self.negative_note.setVisible(self._may_go_negative())

    def _may_go_negative(self) -> bool:
        """The current run's loss can be negative (a calibrated Gaussian decoder), or a shown curve is."""
        if self.state.recon_loss == "gaussian":
            return True
        shown = [c for c in self.state.runs if c.visible]
        return any(len(c.steps) and np.nanmin(c.steps.data[:, 1:3]) < 0 for c in shown)

    def point_count(self) -> int:
        """Train points of the current run as drawn (for tests and the benchmark)."""
        x, _ = self.raw_curves["total"].getData()
        return 0 if x is None else len(x)

    def _draw_current(self, curves: RunCurves | None) -> None:
        visible = curves is not None and curves.visible
        steps = curves.steps.column(0) if visible else np.zeros(0)
        for name, column, _ in TRAIN_SERIES:
            values = curves.steps.column(column) if visible else np.zeros(0)
            finite = np.isfinite(values)
            if not finite.any():
                self.raw_curves[name].setData([], [])
                self.smooth_curves[name].setData([], [])
                continue
            self.raw_curves[name].setData(steps[finite], values[finite])
            self.smooth_curves[name].setData(steps[finite], self._smoothed(curves, column, values[finite]))
        evals = curves.evals.data if visible else np.zeros((0, 2))
        if (id(curves), len(evals)) != self._drawn_evals:        # scatter items are slow to refill
            self._drawn_evals = (id(curves), len(evals))
            self.validation_curve.setData(evals[:, 0], evals[:, 1])

    def _smoothed(self, curves: RunCurves, column: int, values: np.ndarray) -> np.ndarray:
        key = (id(curves), column)
        ema = self._emas.get(key)
        if ema is None or len(ema) > len(values):
            ema = self._emas[key] = EmaSeries(self.smoothing_weight)
        ema.extend(values)
        return ema.values

    def _sync_overlays(self) -> None:
        """One smoothed total + dashed validation curve per visible earlier run."""
        wanted = {id(c): c for c in self.state.runs if c is not self.state.current and c.visible}
        for key in list(self._overlays):
            if key not in wanted:
                self._overlay_series.pop(key, None)
                for item in self._overlays.pop(key):
                    self.plot.removeItem(item)
        live = {id(c) for c in self.state.runs}
        self._emas = {k: v for k, v in self._emas.items() if k[0] in live}
        for index, (key, curves) in enumerate(wanted.items()):
            if key not in self._overlays:
                series = PAST_RUN_SERIES[index % len(PAST_RUN_SERIES)]
                total = self.plot.plot(name=f"{curves.name} (total)")
                val = self.plot.plot(name=f"{curves.name} (validation)")
                self._colour_overlay(total, val, theme.current().series[series])
                self._overlays[key] = (total, val)
                self._overlay_series[key] = series
                self._draw_overlay(curves)
        self._drawn = (-1, self._drawn[1])
        self._drawn_evals = (0, -1)

    def _draw_overlay(self, curves: RunCurves) -> None:
        total, val = self._overlays[id(curves)]
        values = curves.steps.column(1)
        finite = np.isfinite(values)
        if finite.any():
            total.setData(curves.steps.column(0)[finite], self._smoothed(curves, 1, values[finite]))
        if len(curves.evals):
            val.setData(curves.evals.column(0), curves.evals.column(1))

    # ------------------------------------------------------------ hover readout
    def _mouse_moved(self, scene_pos) -> None:
        view = self.plot.getPlotItem().vb
        if not view.sceneBoundingRect().contains(scene_pos):
            self.cursor_line.setVisible(False)
            return
        step = view.mapSceneToView(scene_pos).x()
        self.cursor_line.setPos(step)
        self.cursor_line.setVisible(True)
        self.readout.setText(self.readout_text(step))

    def readout_text(self, step: float) -> str:
        """Values of the current run nearest to `step`."""
        curves = self.state.current
        if curves is None or not len(curves.steps):
            return "No training data yet"
        steps = curves.steps.column(0)
        index = int(np.clip(np.searchsorted(steps, step), 0, len(steps) - 1))
        if index > 0 and abs(steps[index - 1] - step) < abs(steps[index] - step):
            index -= 1
        parts = [f"step {int(steps[index]):,}"]
        for name, column, _ in TRAIN_SERIES:
            ema = self._emas.get((id(curves), column))
            raw = curves.steps.column(column)[index]
            if np.isfinite(raw):
                smoothed = ema is not None and len(ema) == len(steps) and self.smoothing_weight > 0
                value = ema.values[index] if smoothed else raw
                parts.append(f"{name} {value:.4g}")
        if len(curves.evals):
            eval_steps = curves.evals.column(0)
            nearest = int(np.argmin(np.abs(eval_steps - step)))
            parts.append(f"validation {curves.evals.column(1)[nearest]:.4g} (step {int(eval_steps[nearest]):,})")
        return " · ".join(parts)
