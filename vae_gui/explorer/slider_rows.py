"""A column of sliders, one per SliderSpec, that mirror the state's z and write moves back to it.

Each row: name, slider (a click jumps to the clicked point; arrow keys move 1% of the range, Page Up/Down 10%;
double-click resets the row to the data mean), a spin box to type an exact value, and details (KL, factor,
"inactive"). A drag is one undo step (ExplorerState.begin_gesture / end_gesture).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (QAbstractSpinBox, QDoubleSpinBox, QGridLayout, QLabel, QScrollArea, QSlider, QStyle,
                               QStyleOptionSlider, QVBoxLayout, QWidget)

from trainer.latent.sliders import FACTOR_LABEL_MIN_SCORE, SliderSpec
from trainer.latent.stats import active_definition

from .. import theme
from .lazy_tab import LazyRedrawTab
from .state import ExplorerState

STEPS = 1000                      # slider resolution
SINGLE_STEP = STEPS // 100        # arrow keys: 1% of the range
PAGE_STEP = STEPS // 10           # Page Up / Down: 10% of the range
KL_TIP = ("KL: how many nats of information this dimension carries per image on average (its KL divergence "
          "from the prior N(0, 1)); near 0 means the model ignores it.")
FACTOR_TIP = ("~ name score: the true factor of the synthetic faces (or else the label of your labels file) this "
              "dimension tells the most about, and how much (normalized mutual information less what chance "
              "gives, 0 = nothing, 1 = determines it). "
              "Shown only when it beats the same test images with their factors (labels) shuffled, and from "
              f"{FACTOR_LABEL_MIN_SCORE:g}; otherwise the best match could be chance.")


class LatentSlider(QSlider):
    """A horizontal slider that jumps to a click, reports presses as gestures, and resets on double-click."""

    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, STEPS)
        self.setSingleStep(SINGLE_STEP)
        self.setPageStep(PAGE_STEP)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            option = QStyleOptionSlider()
            self.initStyleOption(option)
            handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                                 QStyle.SubControl.SC_SliderHandle, self)
            if not handle.contains(event.position().toPoint()):
                groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                                     QStyle.SubControl.SC_SliderGroove, self)
                x = int(event.position().x()) - groove.x() - handle.width() // 2
                span = max(1, groove.width() - handle.width())
                self.setSliderDown(True)         # a gesture: sliderPressed, then the jump, then the drag
                self.setValue(QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), x, span))
                self.setSliderDown(False)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.reset_requested.emit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)


class SliderRow:
    """The widgets of one row: name, slider, value box, and details (KL, factor, inactive)."""

    def __init__(self, spec: SliderSpec, parent: QWidget, variational: bool = True):
        self.variational = variational
        self.name = QLabel(spec.label, parent)
        self.slider = LatentSlider(parent)
        self.slider.setMinimumWidth(100)
        self.spin = QDoubleSpinBox(parent)
        self.spin.setDecimals(2)
        self.spin.setKeyboardTracking(False)           # typing "1.5" applies once, on Enter or leaving the box
        self.spin.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        # A fixed size keeps a value change from re-laying out the whole window on every slider move.
        metrics = self.spin.fontMetrics()
        self.spin.setFixedWidth(metrics.horizontalAdvance("-000.00") + 16)
        self.spin.setToolTip("Type a value and press Enter")
        self.value_label = self.spin                   # the shown value (older name)
        self.detail = QLabel(parent)
        self._styled_inactive = False
        self.set_spec(spec)

    def set_spec(self, spec: SliderSpec) -> None:
        """Show `spec` (new statistics: ranges, KL, labels) in these widgets; the caller shows the value after."""
        self.spec = spec
        self.name.setText(spec.label)
        span = max(1e-6, spec.high - spec.low)
        self.spin.setDecimals(1 if spec.unit and span >= 20 else 2)     # "57.1 years", not "57.06"
        self.spin.blockSignals(True)
        self.spin.setRange(spec.low - span, spec.high + span)
        self.spin.blockSignals(False)
        self.spin.setSingleStep(max(0.01, round(span / 100, 2)))
        self.detail.setText(self._detail_text())
        self.detail.setMinimumWidth(self.detail.sizeHint().width())
        where = f"{spec.unit}, predicted" if spec.unit else "mean +- 3 std of the encoded data"
        tip = (f"{spec.label}: range {spec.low:.2f} .. {spec.high:.2f} ({where}).\n"
               "Click the track to jump there; arrow keys move 1%, Page Up/Down 10%; double-click resets to the "
               "mean; Ctrl+Z undoes.")
        if spec.kl is not None:
            tip += "\n" + KL_TIP
        if spec.detail.startswith("~ "):
            tip += "\n" + FACTOR_TIP
        if not spec.active:
            tip += "\nInactive: " + active_definition(self.variational)
        if self._styled_inactive != (not spec.active):      # a palette change is costly: only when it flips
            self._styled_inactive = not spec.active
            for label in (self.name, self.detail):
                theme.set_tone(label, theme.Tone.MUTED if self._styled_inactive else None)
        for widget in (self.name, self.slider, self.detail):
            widget.setToolTip(tip)

    def _detail_text(self) -> str:
        parts = []
        if self.spec.kl is not None:
            parts.append(f"KL {self.spec.kl:.2f}")
        if self.spec.detail:
            parts.append(self.spec.detail)
        if not self.spec.active:
            parts.append("inactive")
        return "  ·  ".join(parts)

    def position_of(self, value: float) -> int:
        span = self.spec.high - self.spec.low
        fraction = (value - self.spec.low) / span if span > 0 else 0.5
        return int(round(float(np.clip(fraction, 0.0, 1.0)) * STEPS))

    def value_at(self, position: int) -> float:
        return self.spec.low + (self.spec.high - self.spec.low) * position / STEPS

    def show_value(self, value: float) -> None:
        """Show `value`; widgets whose shown position or text would not change are left alone (a slider move
        changes one row's value, and touching all 32 rows cost ~2 ms of the GUI thread per move)."""
        position = self.position_of(value)
        if position != self.slider.value():
            self.slider.blockSignals(True)
            self.slider.setValue(position)
            self.slider.blockSignals(False)
        shown = round(value, self.spin.decimals())
        if shown != self.spin.value() and not self.spin.hasFocus():     # never overwrite what the user types
            self.spin.blockSignals(True)
            self.spin.setValue(value)
            self.spin.blockSignals(False)


class SliderColumn(LazyRedrawTab):
    """Scrollable rows of sliders over `specs`; dragging one moves the state's z along its direction."""

    moved = Signal(int, float)            # row, new value

    def __init__(self, state: ExplorerState, parent: QWidget | None = None, empty_text: str = ""):
        super().__init__(parent)
        self.state = state
        self.rows: list[SliderRow] = []
        self.empty_text = empty_text
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._scroll)
        self.set_specs([])
        state.z_changed.connect(self.refresh)

    def set_specs(self, specs: list[SliderSpec]) -> None:
        """Rows for `specs`. The same sliders with new statistics (a follow-mode reload, statistics arriving) are
        updated in place: building 32 rows anew took 30-60 ms of the GUI thread."""
        if self.rows and [spec.key for spec in specs] == [row.spec.key for row in self.rows] and \
                all(row.variational == self.state.is_variational for row in self.rows):
            for row, spec in zip(self.rows, specs):
                row.set_spec(spec)
            self.refresh()
            return
        body = QWidget()
        grid = QGridLayout(body)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(8)
        grid.setColumnStretch(1, 1)
        self.rows = []
        for index, spec in enumerate(specs):
            row = SliderRow(spec, body, variational=self.state.is_variational)
            row.slider.valueChanged.connect(lambda position, i=index: self._on_slider(i, position))
            row.slider.sliderPressed.connect(self.state.begin_gesture)
            row.slider.sliderReleased.connect(self.state.end_gesture)
            row.slider.reset_requested.connect(lambda i=index: self.reset_row(i))
            row.spin.valueChanged.connect(lambda value, i=index: self.set_value(i, value))
            grid.addWidget(row.name, index, 0)
            grid.addWidget(row.slider, index, 1)
            grid.addWidget(row.spin, index, 2)
            grid.addWidget(row.detail, index, 3)
            self.rows.append(row)
        if not specs and self.empty_text:
            hint = QLabel(self.empty_text, body)
            hint.setWordWrap(True)
            theme.set_tone(hint, theme.Tone.MUTED)
            grid.addWidget(hint, 0, 0, 1, 4)
        grid.setRowStretch(len(specs) + 1, 1)
        self._scroll.setWidget(body)
        self.refresh()

    def redraw(self) -> None:
        """Show the state's z (LazyRedrawTab.refresh calls this when visible; a hidden column catches up when
        shown)."""
        self._stale = False
        z = self.state.z
        if z.size == 0:
            return
        for row in self.rows:
            if row.spec.direction.shape == z.shape:
                row.show_value(row.spec.value(z))

    def set_value(self, index: int, value: float) -> None:
        """Move slider `index` to `value` as a user would (tests, the value box and keyboard shortcuts use this)."""
        row = self.rows[index]
        self.state.set_z(row.spec.moved(self.state.z, value))

    def reset_row(self, index: int) -> None:
        """Set row `index` to the value of the data mean; the other coordinates stay. A double-click's reset is one
        undo step with the press that began it (which may have jumped the slider)."""
        row = self.rows[index]
        self.state.face.amend_gesture(row.spec.moved(self.state.z, row.spec.value(self.state.mean_latent())))

    def _on_slider(self, index: int, position: int) -> None:
        row = self.rows[index]
        value = row.value_at(position)
        self.state.set_z(row.spec.moved(self.state.z, value))
        self.moved.emit(index, value)
