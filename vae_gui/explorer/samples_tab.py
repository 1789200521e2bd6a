"""The "Samples" tab: a grid of decoded random latents from the prior or from a density fitted to encoded data. Which
sampler the grid uses, and the model's default choice, live in the session (state.session.sampler,
.sampler_choice); the source box shows and writes them."""
from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import QPoint, Qt, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QMenu, QPushButton,
                               QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from trainer.data.derived import store_derived
from trainer.data.images import save_png
from trainer.deadline import Deadline
from trainer.latent.codec import decode_latents
from trainer.latent.flow import stored_flow
from trainer.latent.samplers import SamplerChoice, choose_sampler, make_sampler
from trainer.training.checkpoint import LoadedCheckpoint

from .. import theme
from ..vertical_scroll import scrolling_body
from ..qt_images import qimage_to_array
from ..tasks import BackgroundTasks, TaskContext
from .lazy_tab import LazyRedrawTab
from .dialogs import PNG_FILTER, Dialogs
from .image_grid import ImageGrid
from .state import ExplorerState

SOURCES = (("prior", "Prior N(0, I)"), ("gaussian", "Fitted Gaussian (full covariance)"),
           ("mixture", "Fitted Gaussian mixture"), ("flow", "Learned flow (RealNVP)"))
SOURCE_LABELS = dict(SOURCES)
FIT_CHANNEL = "fit sampler"          # one fit at a time: a newer request (another K) replaces the running one
CHOICE_CHANNEL = "choose sampler"    # the default sampler of a checkpoint that stores none (the bundled model)
CHOICE_SECONDS = 30.0                # at most this long choosing it (training the flow candidate takes the most)


def fit_sampler(task: TaskContext, key: tuple[str, int], latent_dim: int, latents: np.ndarray):
    """The background task: fit the sampler `key` = (kind, mixture components or 0) to encoded latents."""
    kind, components = key
    return key, make_sampler(kind, latent_dim, latents, 1.0, components or 1, 0)


def choose_default(task: TaskContext, checkpoint: LoadedCheckpoint, train_latents: np.ndarray,
                   test_latents: np.ndarray, is_variational: bool) -> SamplerChoice:
    """The background task: the sampler that fits the held-out codes best, as the evaluation would choose it, within
    CHOICE_SECONDS (a flow or mixture with no time to fit is left out, as under a run's time budget). The choice is
    kept with the checkpoint's derived results, where the next opening finds it: the bundled model opens at every
    launch, and choosing again each time would take the CPU from the sliders for up to CHOICE_SECONDS."""
    choice = choose_sampler(train_latents, test_latents, is_variational=is_variational,
                            deadline=Deadline(CHOICE_SECONDS))
    if checkpoint.content_hash:
        store_derived(checkpoint.content_hash, eval={**(checkpoint.eval_metrics or {}), "sampler": choice.to_dict()})
    return choice


class SamplesTab(LazyRedrawTab):
    def __init__(self, state: ExplorerState, dialogs: Dialogs, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.dialogs = dialogs
        self.latents: dict[str, np.ndarray] = {}        # grid name ("main" / "prior") -> (n, D) shown latents
        self.session = state.session
        self._choosing = False                           # choosing a default now: the checkpoint stores none
        self._fitted: dict[tuple, object] = {}           # (kind, components) -> fitted sampler
        self._fitting: tuple | None = None               # the key being fitted now
        self._tasks = BackgroundTasks(self)
        self._tasks.finished.connect(self._on_fitted)
        self._tasks.failed.connect(self._on_fit_failed)
        self._build()
        self._stale = True
        state.checkpoint_changed.connect(self._on_checkpoint)
        state.data_changed.connect(self._on_data)
        self.session.sampler_changed.connect(self._on_sampler_changed)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.source = QComboBox(self)
        for key, label in SOURCES:
            self.source.addItem(label, key)
        self.source.setToolTip("Where the random latents come from: the prior N(0, I) or a density fitted to the "
                               "encoded training faces (usually more face-like for a VAE; the only choice for an AE)")
        self.components = QSpinBox(self)
        self.components.setRange(1, 50)
        self.components.setValue(10)
        self.components.setPrefix("K = ")
        self.components.setToolTip("Number of mixture components")
        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(0.0, 3.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip("Scales the spread of the samples (0: the mean face; 1: as fitted)")
        self.size = QSpinBox(self)
        self.size.setRange(1, 16)
        self.size.setValue(8)
        self.size.setSuffix(" per side")
        self.size.setToolTip("Faces per row and per column of the grid")
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The random seed: the same seed gives the same grid, for this model and any other")
        self.resample_button = QPushButton("Resample", self)
        self.resample_button.setToolTip("Draw new latents (next seed)")
        self.compare = QCheckBox("Compare with prior", self)
        self.compare.setToolTip("Show samples from the prior and from the fitted density side by side, same seed")
        self.save_button = QPushButton("Save grid...", self)
        self.save_button.setToolTip("Save the grid as one PNG image")

        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Source:", self))
        row1.addWidget(self.source)
        row1.addWidget(self.components)
        row1.addSpacing(12)
        row1.addWidget(QLabel("Temperature:", self))
        row1.addWidget(self.temperature)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Grid:", self))
        row2.addWidget(self.size)
        row2.addWidget(QLabel("Seed:", self))
        row2.addWidget(self.seed)
        self.seed.setMaximumWidth(self.seed.fontMetrics().horizontalAdvance("0000000") + 40)
        for widget in (self.resample_button, self.compare, self.save_button):     # never squeezed below their text
            widget.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        row2.addWidget(self.resample_button)
        row2.addWidget(self.compare)
        row2.addStretch(1)
        row2.addWidget(self.save_button)

        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        theme.set_tone(self.note, theme.Tone.MUTED)
        self.prior_caption = QLabel(SOURCE_LABELS["prior"], self)
        self.main_caption = QLabel("", self)
        for caption in (self.prior_caption, self.main_caption):
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prior_grid = ImageGrid(self, placeholder="")
        self.grid = ImageGrid(self, placeholder="Open a checkpoint to draw samples.")
        self.prior_column = QWidget(self)
        prior_layout = QVBoxLayout(self.prior_column)
        prior_layout.setContentsMargins(0, 0, 0, 0)
        prior_layout.addWidget(self.prior_caption)
        prior_layout.addWidget(self.prior_grid, 1)
        main_column = QVBoxLayout()
        main_column.addWidget(self.main_caption)
        main_column.addWidget(self.grid, 1)
        grids = QHBoxLayout()
        grids.addWidget(self.prior_column, 1)
        grids.addLayout(main_column, 1)

        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(QLabel("Click a face to load it into the sliders; right-click to use it as morph A or B.",
                                self))
        layout.addLayout(grids, 1)
        layout.addWidget(self.note)
        self._show_compare(False)

        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.components.valueChanged.connect(self.refresh)
        self.temperature.valueChanged.connect(self.refresh)
        self.size.valueChanged.connect(self.refresh)
        self.seed.valueChanged.connect(self.refresh)
        self.resample_button.clicked.connect(self.resample)
        self.compare.toggled.connect(self._on_compare)
        self.save_button.clicked.connect(self._ask_save)
        for name, grid in (("main", self.grid), ("prior", self.prior_grid)):
            grid.tile_clicked.connect(lambda index, n=name: self.load_sample(n, index))
            grid.tile_menu_requested.connect(lambda index, pos, n=name: self._show_menu(n, index, pos))

    def _show_compare(self, on: bool) -> None:
        for widget in (self.prior_column, self.main_caption):
            widget.setVisible(on)

    # ------------------------------------------------------------ state changes

    @Slot()
    def _on_checkpoint(self) -> None:
        self._fitted.clear()
        self._cancel_fit()
        self.latents.clear()
        self.grid.clear()
        self.prior_grid.clear()         # drawn again when the session's sampler_changed follows (Session.open)
        self._tasks.cancel(CHOICE_CHANNEL)
        self._choosing = False

    @property
    def choice(self) -> SamplerChoice | None:
        """The model's default sampler and why (the session's)."""
        return self.session.sampler_choice

    def _on_sampler_changed(self) -> None:
        """The session's sampler or default changed: the box shows them."""
        self._label_default_source()
        self.source.blockSignals(True)
        self.source.setCurrentIndex(self.source.findData(self.session.sampler))
        self.source.blockSignals(False)
        self.components.setEnabled(self.session.sampler == "mixture")
        self.refresh()

    def _label_default_source(self) -> None:
        for index, (key, label) in enumerate(SOURCES):
            chosen = self.choice is not None and key == self.choice.default
            self.source.setItemText(index, f"{label} (default for this model)" if chosen else label)

    @Slot()
    def _on_data(self) -> None:
        self._fitted.clear()
        self._cancel_fit()
        self._choose_if_missing()
        self.refresh()

    def _choose_if_missing(self) -> None:
        """A checkpoint that stores no sampler choice gets one from the codes the explorer encoded (its own data's
        training and test images), off the GUI thread."""
        data = self.state.data
        if not self.session.needs_sampler_choice or data is None or data.data_error \
                or data.test_latents is None or len(data.train_latents) < 2 or len(data.test_latents) < 1:
            return
        self._choosing = True
        self._tasks.start(CHOICE_CHANNEL, choose_default, self.session.checkpoint, data.train_latents,
                          data.test_latents, self.state.is_variational)

    def _on_chosen(self, choice: SamplerChoice) -> None:
        self._choosing = False
        self.session.set_computed_choice(choice)        # the box follows the session (_on_sampler_changed)

    def _on_source_changed(self) -> None:
        self.session.set_sampler(self.source.currentData())

    def _on_compare(self, on: bool) -> None:
        if on and self.source_kind == "prior":
            self.set_source("gaussian")
        self._show_compare(on)
        self.refresh()

    # ------------------------------------------------------------ public actions

    @property
    def source_kind(self) -> str:
        return self.session.sampler

    def set_source(self, kind: str) -> None:
        self.session.set_sampler(kind)

    def resample(self) -> None:
        self.seed.setValue((self.seed.value() + 1) % (2**31 - 1))

    def redraw(self) -> None:
        """Draw the grid(s) for the current source, seed and size (fitting the sampler first if needed)."""
        self._stale = False
        if not self.state.has_checkpoint:
            self.grid.clear()
            self.prior_grid.clear()
            return
        count = self.size.value() ** 2
        sampler = self._sampler(self.source_kind)
        self.main_caption.setText(SOURCE_LABELS[self.source_kind])
        if sampler is None:
            self.grid.clear()
            self.latents.pop("main", None)
        else:
            self._show("main", self.grid, sampler.sample(count, self.seed.value()))
        if self.compare.isChecked():
            prior = make_sampler("prior", self.state.latent_dim, temperature=self.temperature.value())
            self._show("prior", self.prior_grid, prior.sample(count, self.seed.value()))
        self._update_note(sampler)
        self.grid.placeholder = self.note.text()       # shown while the sampler is being fitted

    def load_sample(self, grid: str, index: int) -> None:
        """Send a sample's z to the sliders."""
        latents = self.latents.get(grid)
        if latents is not None and 0 <= index < len(latents):
            self.state.set_z(latents[index])

    def sample_latent(self, grid: str, index: int) -> np.ndarray:
        return self.latents[grid][index].copy()

    def use_as_morph_endpoint(self, slot: str, grid: str, index: int) -> None:
        """A sample becomes morph A or B (the Morph tab observes the model's morph)."""
        self.state.morph.set_endpoint(slot, self.sample_latent(grid, index),
                                      f"sample {index + 1} (seed {self.seed.value()})")

    def save_grid(self, path: str) -> None:
        """The visible grid(s) as one PNG, at 2x the native pixel size."""
        images = [qimage_to_array(self.grid.export_image(scale=2))]
        if self.compare.isChecked():
            images.insert(0, qimage_to_array(self.prior_grid.export_image(scale=2)))
        height = max(image.shape[0] for image in images)
        padded = [np.pad(image, ((0, height - image.shape[0]), (0, 8), (0, 0)), constant_values=255)
                  for image in images]
        save_png(np.concatenate(padded, axis=1)[:, :-8], path)

    def shutdown(self) -> None:
        self._tasks.shutdown()

    # ------------------------------------------------------------ internals

    def _show(self, name: str, grid: ImageGrid, latents: np.ndarray) -> None:
        self.latents[name] = latents
        grid.set_images(decode_latents(self.state.model, latents), columns=self.size.value())

    def _sampler(self, kind: str):
        """The sampler for `kind`, or None while it is being fitted or cannot be (then the note says why)."""
        temperature = self.temperature.value()
        if kind == "prior":
            return make_sampler("prior", self.state.latent_dim, temperature=temperature)
        key = (kind, self.components.value() if kind == "mixture" else 0)
        stored = self._stored_flow() if kind == "flow" and key not in self._fitted else None
        if stored is not None:
            self._fitted[key] = stored                    # trained by the evaluation: nothing to fit
        fitted = self._fitted.get(key)
        data = self.state.data
        if fitted is None and data is None:
            return None
        if fitted is None:
            if key != self._fitting:
                self._fitting = key
                self._tasks.start(FIT_CHANNEL, fit_sampler, key, self.state.latent_dim, data.train_latents)
            return None
        if isinstance(fitted, str):             # fitting failed; the message is in the note
            return None
        return dataclasses.replace(fitted, temperature=temperature)

    def _stored_flow(self):
        """The flow the model's evaluation trained and kept with its latent statistics, or None."""
        stats = self.state.stats
        return stored_flow({"flow": stats.flow} if stats is not None else None)

    def _cancel_fit(self) -> None:
        """A fit for other latents is of no use: its result is dropped (see BackgroundTasks' channels)."""
        self._tasks.cancel(FIT_CHANNEL)
        self._fitting = None

    @Slot(str, object)
    def _on_fitted(self, channel: str, result) -> None:
        if channel == CHOICE_CHANNEL:
            self._on_chosen(result)
            return
        key, sampler = result
        self._fitting = None
        self._fitted[key] = sampler
        self.refresh()

    @Slot(str, str)
    def _on_fit_failed(self, channel: str, message: str) -> None:
        if channel == CHOICE_CHANNEL:              # degenerate codes: the first source stays, and the note says so
            self._choosing = False
            self.refresh()
            return
        if self._fitting is not None:
            self._fitted[self._fitting] = message
        self._fitting = None
        self.refresh()

    def _update_note(self, sampler) -> None:
        kind = self.source_kind
        data = self.state.data
        if kind == "prior":
            text = "" if self.state.is_variational else (
                "A plain autoencoder has no prior: its codes do not follow N(0, I), so these faces are mostly "
                "noise. Use a fitted source.")
        elif kind == "flow" and sampler is not None and self.state.stats is not None and self.state.stats.flow:
            text = "The flow the model's evaluation trained on its encoded training images."
        elif data is None:
            text = "Encoding training images to fit the sampler..."
        elif sampler is None:
            key = (kind, self.components.value() if kind == "mixture" else 0)
            failure = self._fitted.get(key)
            text = f"Cannot fit: {failure}" if isinstance(failure, str) else (
                f"Fitting to {len(data.train_latents)} encoded training images...")
        else:
            text = f"Fitted to {len(data.train_latents)} encoded training images."
            if data.data_error:
                text = ("Fitted to decoded prior samples (the training data is not available: "
                        f"{data.data_error}).")
        self.note.setText(" ".join(part for part in (self._choice_note(kind), text) if part))

    def _choice_note(self, kind: str) -> str:
        """Says which sampler is the model's default and why, and that the prior is one click away."""
        choice = self.choice
        if choice is None:
            return "Choosing the best fitted sampler (the checkpoint stores no choice)..." if self._choosing else ""
        default = ("Default, chosen on opening (the checkpoint stores none)" if self.session.choice_computed
                   else "Default")
        if kind == choice.default == "prior":
            return f"{default}: {choice.describe()}."
        if kind == choice.default:
            return f"{default}: {choice.describe()}; the prior is in the menu above."
        if kind == "prior":
            return f"Not the default: {choice.describe()} fits this model's codes better."
        return ""

    def _show_menu(self, grid: str, index: int, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Load into sliders", lambda: self.load_sample(grid, index))
        for slot in ("A", "B"):
            menu.addAction(f"Set as morph {slot}", lambda s=slot: self.use_as_morph_endpoint(s, grid, index))
        menu.exec(position)

    def _ask_save(self) -> None:
        if not self.latents:
            return
        path = self.dialogs.save_path("Save sample grid", PNG_FILTER, "samples.png")
        if path:
            self.save_grid(path)
