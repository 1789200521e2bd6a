"""The user's labels in the Sliders tab: what the current face is predicted to be ("age ≈ 34, gender: 1 0.92"),
updated as it moves, and which label to hold fixed while the "Your labels" sliders move the others.

Both read the label models `vae-train eval` stored with the checkpoint (trainer.latent.label_directions); they only
mirror the explorer model and hold no ML logic."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from trainer.latent.label_directions import LabelModels, stored_label_models

from .. import theme
from .state import ExplorerState

NOTHING_HELD = ""


def label_models_of(state: ExplorerState) -> LabelModels | None:
    """The open checkpoint's stored label models, None without a checkpoint or labels."""
    if not state.has_checkpoint:
        return None
    return stored_label_models(state.checkpoint.payload, state.latent_dim)


class LabelReadout(QWidget):
    """A line 'Predicted: age ≈ 34, gender: 1 0.92' that follows the face, and a 'Hold fixed' choice of label."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.models: LabelModels | None = None
        self.text = QLabel("", self)
        self.text.setWordWrap(True)
        self.text.setToolTip("Each label of your labels file predicted for the face shown, by linear models fitted "
                             "to the encoded training images (vae-train eval); a number is its predicted value, a "
                             "category the most likely one and its probability.")
        self.held_label = QLabel("Hold fixed:", self)
        self.held = QComboBox(self)
        self.held.setToolTip("While the label sliders move, keep this label's prediction where it is: its "
                             "directions are projected out of the other sliders'.")
        theme.set_tone(self.held_label, theme.Tone.MUTED)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.held_label)
        layout.addWidget(self.held)
        state.checkpoint_changed.connect(self.reload)
        state.model_replaced.connect(self.reload)
        state.z_changed.connect(self.refresh)
        self.reload()

    def held_labels(self) -> list[str]:
        name = self.held.currentData()
        return [name] if name else []

    def reload(self) -> None:
        self.models = label_models_of(self.state)
        self.held.blockSignals(True)
        self.held.clear()
        self.held.addItem("nothing", NOTHING_HELD)
        for probe in self.models.probes if self.models is not None else ():
            self.held.addItem(probe.name, probe.name)
        self.held.blockSignals(False)
        self.setVisible(self.models is not None)
        self.refresh()

    def show_hold(self, shown: bool) -> None:
        self.held_label.setVisible(shown)
        self.held.setVisible(shown)

    def refresh(self) -> None:
        if self.models is None or not self.state.has_checkpoint:
            self.text.setText("")
            return
        self.text.setText("Predicted: " + self.models.readout(self.state.z))
