"""The "Sliders" tab: a slider per latent dim (or the top K), per principal direction, per factor direction, per
closed-form (SeFa) direction of the decoder, or per direction of the user's own labels (with a live readout)."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from trainer.evaluation.label_probes import stored_label_dim_labels
from trainer.latent.directions import SefaDirections, model_sefa_directions
from trainer.latent.label_directions import label_sliders
from trainer.latent.sliders import (MAX_ALL_SLIDERS, SliderSpec, axis_sliders, factor_sliders, pca_sliders, sefa_sliders,
                                   visible_dims)
from trainer.latent.stats import active_definition, active_rule

from .. import theme
from .label_readout import LabelReadout
from .slider_rows import SliderColumn
from .state import ExplorerState

MODES = (("axes", "Latent dimensions"), ("pca", "Principal directions"), ("factors", "Factor directions"),
         ("sefa", "Closed-form (SeFa) directions"), ("labels", "Your labels"))
DEFAULT_K = 16


class SlidersTab(QWidget):
    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.sefa: SefaDirections | None = None     # of the open model's decoder, read once per checkpoint
        self._build()
        state.checkpoint_changed.connect(self._on_checkpoint)
        state.stats_changed.connect(self.rebuild)
        state.slider_mode_changed.connect(self._on_mode_changed)
        state.selected_dims_changed.connect(self.rebuild)

    def _build(self) -> None:
        self.mode = QComboBox(self)
        for key, label in MODES:
            self.mode.addItem(label, key)
        self.mode.setToolTip("Move along latent axes, along the principal directions of the encoded data, "
                             "along directions that change one ground-truth factor (synthetic data), or along "
                             "the closed-form SeFa directions: the latent steps that change the decoder's first "
                             "layer the most (read from its weights; no data needed)")
        self.k_label = QLabel("Show:", self)
        self.k = QSpinBox(self)
        self.k.setRange(1, 64)
        self.k.setValue(DEFAULT_K)
        self.k.setToolTip("How many sliders to show")
        self.rank_label = QLabel("ranked by:", self)
        self.ranking = QComboBox(self)
        self.ranking.addItem("KL", "kl")
        self.ranking.addItem("spread", "spread")
        self.ranking.setToolTip("KL: how much information a dim carries (VAE); spread: std of the encoded means")
        self.summary = QLabel("", self)
        theme.set_tone(self.summary, theme.Tone.MUTED)
        self.summary.setWordWrap(True)          # long summaries must not widen the window
        self.readout = LabelReadout(self.state, self)
        self.readout.held.currentIndexChanged.connect(lambda _: self.rebuild())
        bar = QHBoxLayout()
        for widget in (QLabel("Move along:", self), self.mode, self.k_label, self.k, self.rank_label, self.ranking):
            bar.addWidget(widget)
        bar.addStretch(1)
        self.column = SliderColumn(self.state, self, empty_text="Open a checkpoint to get sliders.")
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.readout)
        layout.addWidget(self.column, 1)
        self.mode.currentIndexChanged.connect(lambda _: self.state.set_slider_mode(self.mode.currentData()))
        self.k.valueChanged.connect(self._on_k_or_ranking)
        self.ranking.currentIndexChanged.connect(self._on_k_or_ranking)

    # ------------------------------------------------------------ reacting to the state

    def _on_checkpoint(self) -> None:
        try:
            self.sefa = model_sefa_directions(self.state.model) if self.state.has_checkpoint else None
        except ValueError:
            self.sefa = None
        # A plain AE has no KL: rank its dims by spread.
        variational = self.state.is_variational
        self.ranking.model().item(0).setEnabled(variational)
        if not variational:
            self.ranking.blockSignals(True)
            self.ranking.setCurrentIndex(self.ranking.findData("spread"))
            self.ranking.blockSignals(False)
        stats = self.state.stats
        if self.state.slider_mode == "factors" and not (stats is not None and stats.factor_directions):
            self.state.set_slider_mode("axes")
        if self.state.slider_mode == "sefa" and self.sefa is None:
            self.state.set_slider_mode("axes")
        if self.state.slider_mode == "labels" and self.readout.models is None:
            self.state.set_slider_mode("axes")
        self.state.set_selected_dims([])
        self.rebuild()

    def _on_mode_changed(self, mode: str) -> None:
        self.mode.blockSignals(True)
        self.mode.setCurrentIndex(self.mode.findData(mode))
        self.mode.blockSignals(False)
        self.rebuild()

    def _on_k_or_ranking(self) -> None:
        self.state.set_selected_dims([])          # back to the top K of the chosen ranking
        self.rebuild()

    # ------------------------------------------------------------ building the sliders

    def rebuild(self) -> None:
        state = self.state
        has_factors = bool(state.stats is not None and state.stats.factor_directions)
        self.mode.model().item(2).setEnabled(has_factors)
        self.mode.model().item(1).setEnabled(state.stats is not None)
        self.mode.model().item(3).setEnabled(self.sefa is not None)
        self.mode.model().item(4).setEnabled(self.readout.models is not None)
        self.readout.show_hold(state.slider_mode == "labels")
        specs = self.specs()
        many_dims = state.latent_dim > MAX_ALL_SLIDERS
        mode = state.slider_mode
        self.k.setVisible(mode in ("pca", "sefa") or (mode == "axes" and many_dims))
        self.k_label.setVisible(self.k.isVisible())
        self.ranking.setVisible(mode == "axes" and many_dims)
        self.rank_label.setVisible(self.ranking.isVisible())
        self.column.set_specs(specs)
        self.summary.setText(self._summary(specs))

    def specs(self) -> list[SliderSpec]:
        state, stats = self.state, self.state.stats
        if not state.has_checkpoint:
            return []
        if state.slider_mode == "pca" and stats is not None:
            return pca_sliders(stats, self.k.value())
        if state.slider_mode == "factors" and stats is not None and stats.factor_directions:
            return factor_sliders(stats)
        if state.slider_mode == "sefa" and self.sefa is not None:
            return sefa_sliders(self.sefa, stats, self.k.value())
        if state.slider_mode == "labels" and self.readout.models is not None:
            return label_sliders(self.readout.models, held=self.readout.held_labels())
        dims = state.selected_dims or visible_dims(stats, state.latent_dim, self.k.value(),
                                                   self.ranking.currentData())
        if dims != state.selected_dims:
            state.sliders.selected_dims = list(dims)      # recorded quietly: this is what the saved state will restore
        return axis_sliders(stats, dims, state.latent_dim, labels=self._label_associations())

    def _label_associations(self):
        """The user's label each dim tells about, tested by vae-train eval (None without one)."""
        if not self.state.has_checkpoint:
            return None
        return stored_label_dim_labels(self.state.checkpoint.payload, self.state.latent_dim)

    def _summary(self, specs: list[SliderSpec]) -> str:
        state, stats = self.state, self.state.stats
        if not state.has_checkpoint:
            return ""
        if state.slider_mode == "labels" and self.readout.models is not None:
            return ("Each slider shows a label of your labels file as predicted for this face, over the range of "
                    "the training faces' predictions (1st to 99th percentile). A category's is in log-odds "
                    "(0: even, +2: 88% likely). Fitted to the encoded training images by vae-train eval.")
        if state.slider_mode == "sefa" and self.sefa is not None:
            return (f"Top eigenvectors of W^T W, W the decoder's first layer, {self.sefa.layer}: the steps that "
                    "change its output most; no data needed")
        if stats is None:
            return "Computing latent statistics; slider ranges are +-3 until they arrive."
        inactive = int((~stats.active).sum())
        self.summary.setToolTip(active_definition(state.is_variational))
        rule = active_rule(state.is_variational)
        text = f"{stats.latent_dim - inactive} of {stats.latent_dim} dims active ({rule})"
        if state.slider_mode == "axes" and len(specs) < state.latent_dim:
            text += f"; showing the top {len(specs)}"
        if inactive and state.slider_mode == "axes":
            text += "; inactive dims are greyed"
        tested = self._label_associations() if state.slider_mode == "axes" else None
        if tested is not None:
            named = sum(1 for spec in specs if spec.detail.startswith("~ "))
            text += (f"; {named} named after a label (only where it beats the same {tested.n_images:,} test "
                     "images with their labels shuffled)")
        return text
