"""The Resume dialog: how long to continue a run. A run with a time budget continues with a budget, what is left of
it or a new one typed here; a run without one trains until an epoch."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from trainer.training.resume import ResumePoint

from .. import theme

DEFAULT_MORE_EPOCHS = 20
MAX_BUDGET_MINUTES = 100_000


@dataclass(frozen=True)
class ResumeChoice:
    epochs: int | None = None                  # train until this epoch (a run without a time budget)
    time_budget_minutes: float | None = None   # a new budget; None with epochs, or to use what is left


def describe(point: ResumePoint) -> str:
    """One or two sentences on where the run stands."""
    text = f"{point.name} has trained {point.epoch} epochs ({point.step:,} steps)"
    if point.time_budget_minutes <= 0:
        return f"{text} of {point.epochs}."
    budget = f"{point.time_budget_minutes:g} min time budget"
    if point.budget_left_s is None:
        return f"{text} with a {budget}; how much of it is left is not known (the run is older than this app)."
    if not point.can_use_budget_left:
        return f"{text} and has used its {budget}."
    return f"{text}; {point.budget_left_s / 60:.1f} min of its {budget} are left."


class ResumeDialog(QDialog):
    def __init__(self, point: ResumePoint, parent: QWidget | None = None):
        super().__init__(parent)
        self.point = point
        self.setWindowTitle(f"Resume {point.name}")
        summary = QLabel(describe(point))
        summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        self.epochs = QSpinBox()
        self.epochs.setRange(max(1, point.epoch + 1), 100_000)
        self.epochs.setValue(point.epochs if point.epoch < point.epochs else point.epoch + DEFAULT_MORE_EPOCHS)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0.5, MAX_BUDGET_MINUTES)
        self.budget.setDecimals(1)
        self.budget.setSuffix(" min")
        self.budget.setValue(max(0.5, point.time_budget_minutes))
        self.use_left = QRadioButton("Train for what is left of its budget" + (
            f" ({point.budget_left_s / 60:.1f} min)" if point.budget_left_s is not None else ""))
        self.use_new = QRadioButton("Train with a new time budget:")
        if point.time_budget_minutes > 0:
            layout.addWidget(self._budget_choices())
        else:
            form = QFormLayout()
            form.addRow("Train until epoch:", self.epochs)
            layout.addLayout(form)
        hint = QLabel("The run continues from its last checkpoint (last.pt) with its settings; its curves go on "
                      "where they stopped.")
        hint.setWordWrap(True)
        theme.set_tone(hint, theme.Tone.MUTED)
        layout.addWidget(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Resume")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _budget_choices(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        group = QButtonGroup(box)
        for button in (self.use_left, self.use_new):
            group.addButton(button)
        self.use_left.setEnabled(self.point.can_use_budget_left)
        (self.use_left if self.point.can_use_budget_left else self.use_new).setChecked(True)
        layout.addWidget(self.use_left)
        row = QHBoxLayout()
        row.addWidget(self.use_new)
        row.addWidget(self.budget)
        row.addStretch(1)
        layout.addLayout(row)
        self.use_new.toggled.connect(self.budget.setEnabled)
        self.budget.setEnabled(self.use_new.isChecked())
        return box

    def choice(self) -> ResumeChoice:
        if self.point.time_budget_minutes <= 0:
            return ResumeChoice(epochs=self.epochs.value())
        if self.use_left.isChecked():
            return ResumeChoice()
        return ResumeChoice(time_budget_minutes=self.budget.value())
