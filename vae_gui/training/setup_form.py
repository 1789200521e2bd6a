"""The setup form: data source, model, training settings and output folder, turned into a RunConfig.

The form's fields are run settings by their names (trainer.settings), turned into a RunConfig by the same
run_config_from_settings() the CLI and the experiments file use, with the same defaults. The form edits a base
RunConfig: settings it does not show (channels, depth, schedule...) are kept from the config given to
set_config(), so a config from a test or an earlier run survives a round trip through the form; picking another
preset brings that preset's model and recommended settings instead.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QPixmap, QStandardItemModel
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton, QSpinBox, QVBoxLayout,
                               QWidget)

from trainer.config import IMAGE_SIZES, ConfigError, RunConfig
from trainer.evaluation.budget_curve import shipped_budget_curve
from trainer.models.presets import PRESETS, default_preset_for
from trainer.training.measured_speed import MeasuredSpeed, latest_speed
from trainer.settings import default_value, recommended_settings, run_config_from_settings
from trainer.user_folders import runs_folder

from .. import theme
from ..qt_images import array_to_qimage
from .budget_texts import budget_expectation, curve_applies
from .folder_scan import FolderScanner, FolderSummary

DEFAULT_EPOCHS = default_value("epochs")      # the same default as `vae-train train` and the experiments file
DEVICES = ("auto", "cpu", "cuda", "mps")
SETTINGS_RUNS_DIR = "training/runs_dir"
SETTINGS_FORM = "training/form"          # the form's last valid config (JSON), restored at the next launch
BUDGET_TIP = ("Stop training after about this many minutes: the run is planned so that it ends in time, final "
              "evaluation included. 0 = off. With a budget, Epochs is an upper bound.")
BETA_TIP = "Weight of the KL term: higher gives a smoother latent space, blurrier images"
WARMUP_TIP = "Beta ramps up from 0 over this many steps (0: no warm-up)"
SUPERVISION_TIP = ("Ties latent dimension k to the true factor k of the synthetic faces (skin tone, smile, ...), "
                   "so each slider moves one named property; 0 trains without labels")


def default_runs_dir() -> str:
    return str(runs_folder())


def default_run_config() -> RunConfig:
    """What Start trains when nothing was changed: synthetic faces, the default preset, a few epochs."""
    runs_dir = QSettings().value(SETTINGS_RUNS_DIR, default_runs_dir())
    return run_config_from_settings({"runs_dir": str(runs_dir)})


def remembered_run_config() -> RunConfig:
    """The form as the user left it at the last launch (its run name cleared), else default_run_config()."""
    stored = QSettings().value(SETTINGS_FORM, "")
    if stored:
        try:
            config = RunConfig.from_dict(json.loads(str(stored)))
            config.validate()
            return dataclasses.replace(config, train=dataclasses.replace(config.train, run_name=""))
        except (ConfigError, ValueError, TypeError, KeyError, AttributeError):
            pass                     # an older or damaged entry: start from the defaults
    return default_run_config()


def device_available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return True


def preset_label(name: str) -> str:
    model = PRESETS[name]
    return f"{name} · {'VAE' if model.family == 'vae' else 'AE'} {model.latent_dim}-d"


def preset_tooltip(name: str) -> str:
    model = PRESETS[name]
    kind = "variational autoencoder" if model.family == "vae" else "plain autoencoder"
    note = ("our recommended network" if name.startswith("default")
            else "a structure from the original study, kept to rerun its experiments")
    return f"{kind}, {model.latent_dim}-d latent: {note}"


class SpeedLookup:
    """latest_speed() once per (runs folder, preset, image size): the form asks on every change."""

    def __init__(self):
        self._known: dict[tuple, MeasuredSpeed | None] = {}

    def latest(self, runs_dir: str, preset: str, image_size: int) -> MeasuredSpeed | None:
        key = (runs_dir, preset, image_size)
        if key not in self._known:
            self._known[key] = latest_speed(runs_dir, preset, image_size)
        return self._known[key]


class SetupForm(QWidget):
    changed = Signal()
    validity_changed = Signal(bool, str)     # (valid, reason shown to the user)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._base = remembered_run_config()
        self._summary: FolderSummary | None = None
        self.budget_curve = shipped_budget_curve()      # None: no expectation is stated
        self._speeds = SpeedLookup()
        self._scanner = FolderScanner(self)
        self._scanner.summary_ready.connect(self._show_summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_data_group())
        layout.addWidget(self._build_model_group())
        layout.addWidget(self._build_training_group())
        layout.addWidget(self._build_output_group())
        self.validation_label = QLabel()
        self.validation_label.setWordWrap(True)
        theme.set_tone(self.validation_label, theme.Tone.ERROR)
        layout.addWidget(self.validation_label)
        self.set_config(self._base)

    # ------------------------------------------------------------ building
    def _build_data_group(self) -> QGroupBox:
        group = QGroupBox("Data")
        form = QFormLayout(group)
        self.synthetic_radio = QRadioButton("Synthetic faces (built in)")
        self.synthetic_radio.setToolTip("Procedurally drawn faces with known factors (pose, hair, smile...)")
        self.folder_radio = QRadioButton("Image folder")
        self.folder_radio.setToolTip("A folder of face images (or DIR/train + DIR/test); you can also drop a "
                                     "folder onto this tab")
        self._source_group = QButtonGroup(self)
        self._source_group.addButton(self.synthetic_radio)
        self._source_group.addButton(self.folder_radio)
        self.synthetic_count = QSpinBox()
        self.synthetic_count.setRange(100, 1_000_000)
        self.synthetic_count.setSingleStep(1000)
        self.synthetic_count.setGroupSeparatorShown(True)
        self.synthetic_count.setSuffix(" faces")
        self.synthetic_count.setToolTip("How many synthetic faces to draw (a tenth is kept for testing)")
        form.addRow(self.synthetic_radio)
        form.addRow("    Count:", self.synthetic_count)
        form.addRow(self.folder_radio)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("choose or drop a folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_data_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        form.addRow("    Folder:", row)
        self.folder_info = QLabel()
        self.folder_info.setWordWrap(True)
        form.addRow(self.folder_info)
        self.thumbnail_strip = QHBoxLayout()
        self.thumbnail_strip.setSpacing(2)
        self.thumbnail_strip.addStretch(1)
        form.addRow(self.thumbnail_strip)
        self.image_size = QComboBox()
        for size in IMAGE_SIZES:
            self.image_size.addItem(f"{size} × {size}", size)
        self.image_size.setToolTip("Images are centre-cropped and resized to this size; 64 x 64 is the default")
        form.addRow("Image size:", self.image_size)
        self.synthetic_radio.toggled.connect(self._switch_default_preset)
        self.synthetic_radio.toggled.connect(self._source_changed)
        self.folder_edit.editingFinished.connect(self._folder_edited)
        self.synthetic_count.valueChanged.connect(self._changed)
        self.image_size.currentIndexChanged.connect(self._changed)
        return group

    def _build_model_group(self) -> QGroupBox:
        group = QGroupBox("Model")
        form = QFormLayout(group)
        self.preset = QComboBox()
        self.preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(16)
        for index, name in enumerate(PRESETS):
            self.preset.addItem(preset_label(name), name)
            self.preset.setItemData(index, preset_tooltip(name), Qt.ItemDataRole.ToolTipRole)
        self.latent_dim = QSpinBox()
        self.latent_dim.setRange(1, 4096)
        self.latent_dim.setToolTip("Numbers in the latent code z: one slider each in the Explore tab")
        self.beta = QDoubleSpinBox()
        self.beta.setRange(0.0, 1000.0)
        self.beta.setDecimals(3)
        self.beta.setSingleStep(0.1)
        self.kl_warmup = QSpinBox()
        self.kl_warmup.setRange(0, 10_000_000)
        self.kl_warmup.setSingleStep(100)
        self.kl_warmup.setSuffix(" steps")
        form.addRow("Preset:", self.preset)
        form.addRow("Latent size:", self.latent_dim)
        form.addRow("Beta (KL weight):", self.beta)
        form.addRow("KL warm-up:", self.kl_warmup)
        self.factor_supervision = QDoubleSpinBox()
        self.factor_supervision.setRange(0.0, 1000.0)
        self.factor_supervision.setDecimals(2)
        self.factor_supervision.setSpecialValueText("off")
        form.addRow("Factor supervision:", self.factor_supervision)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        for spin in (self.latent_dim, self.kl_warmup, self.beta, self.factor_supervision):
            spin.valueChanged.connect(self._changed)
        return group

    def _build_training_group(self) -> QGroupBox:
        group = QGroupBox("Training")
        form = QFormLayout(group)
        self.lr = QLineEdit()
        self.lr.setToolTip("Learning rate, e.g. 0.002 or 2e-3")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65536)
        self.batch_size.setToolTip("Images per optimizer step")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100_000)
        self.epochs.setToolTip("Passes over the training images (an upper bound when a time budget is set)")
        self.time_budget = QDoubleSpinBox()
        self.time_budget.setRange(0.0, 100_000.0)
        self.time_budget.setDecimals(1)
        self.time_budget.setSingleStep(5.0)
        self.time_budget.setSuffix(" min")
        self.time_budget.setSpecialValueText("off")
        self.time_budget.setToolTip(BUDGET_TIP)
        self.device = QComboBox()
        for name in DEVICES:
            self.device.addItem(name, name)
        model: QStandardItemModel = self.device.model()
        for row, name in enumerate(DEVICES):
            if not device_available(name):
                item = model.item(row)
                item.setEnabled(False)
                item.setToolTip(f"{name} is not available on this computer")
        form.addRow("Learning rate:", self.lr)
        form.addRow("Batch size:", self.batch_size)
        epochs_row = QHBoxLayout()
        epochs_row.addWidget(self.epochs, 1)
        budget_label = QLabel("Time budget:")
        budget_label.setToolTip(BUDGET_TIP)
        epochs_row.addWidget(budget_label)
        epochs_row.addWidget(self.time_budget, 1)
        form.addRow("Epochs:", epochs_row)
        self.expectation_label = QLabel()      # what the budget buys; after a run, how the run compared
        self.expectation_label.setWordWrap(True)
        theme.set_tone(self.expectation_label, theme.Tone.MUTED)
        form.addRow(self.expectation_label)
        self.device.setToolTip("auto: a GPU (CUDA or Apple MPS) when present, else the CPU")
        form.addRow("Device:", self.device)
        self.lr.textChanged.connect(self._changed)
        for spin in (self.batch_size, self.epochs, self.time_budget):
            spin.valueChanged.connect(self._changed)
        self.device.currentIndexChanged.connect(self._changed)
        return group

    def _build_output_group(self) -> QGroupBox:
        group = QGroupBox("Output")
        form = QFormLayout(group)
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("automatic (preset-date-time)")
        self.run_name.setToolTip("The run's folder name inside the runs folder")
        self.runs_dir = QLineEdit()
        self.runs_dir.setToolTip("Each run is saved in a folder inside this one (remembered)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_runs_dir)
        row = QHBoxLayout()
        row.addWidget(self.runs_dir, 1)
        row.addWidget(browse)
        form.addRow("Run name:", self.run_name)
        form.addRow("Runs folder:", row)
        self.run_name.textChanged.connect(self._changed)
        self.runs_dir.textChanged.connect(self._changed)
        return group

    # ------------------------------------------------------------ config in and out
    def set_config(self, config: RunConfig) -> None:
        """Show `config` in the form; fields the form does not show are kept from it."""
        self._base = config
        widgets = [self.synthetic_radio, self.folder_radio, self.synthetic_count, self.image_size, self.preset,
                   self.latent_dim, self.beta, self.kl_warmup, self.factor_supervision, self.lr, self.batch_size,
                   self.epochs, self.time_budget, self.device,
                   self.run_name, self.runs_dir, self.folder_edit]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.synthetic_radio.setChecked(config.data.is_synthetic)
            self.folder_radio.setChecked(not config.data.is_synthetic)
            self.folder_edit.setText("" if config.data.is_synthetic else config.data.source)
            self.synthetic_count.setValue(config.data.synthetic_count)
            self.image_size.setCurrentIndex(max(0, self.image_size.findData(config.model.image_size)))
            self.preset.setCurrentIndex(max(0, self.preset.findData(config.model.preset)))
            self.latent_dim.setValue(config.model.latent_dim)
            self.beta.setValue(config.train.beta)
            self.kl_warmup.setValue(config.train.kl_warmup_steps)
            self.factor_supervision.setValue(config.train.factor_supervision)
            self.lr.setText(f"{config.train.lr:g}")
            self.batch_size.setValue(config.train.batch_size)
            self.epochs.setValue(config.train.epochs)
            self.time_budget.setValue(config.train.time_budget_minutes)
            self.device.setCurrentIndex(max(0, self.device.findData(config.train.device.split(":")[0])))
            self.run_name.setText(config.train.run_name)
            self.runs_dir.setText(config.train.runs_dir)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._source_changed()

    def config(self) -> RunConfig:
        """The RunConfig the form describes. Raises ConfigError with a reason the user can act on."""
        config = run_config_from_settings(self.settings(), base=self._base)
        if not device_available(config.train.device):
            raise ConfigError(f"device {config.train.device!r} is not available on this computer")
        return config

    def settings(self) -> dict:
        """The form's fields as run settings (trainer.settings names)."""
        synthetic = self.synthetic_radio.isChecked()
        return {"data": self._data_source(), "synthetic_count": self.synthetic_count.value(),
                "image_size": int(self.image_size.currentData()), "preset": self.preset.currentData(),
                "latent_dim": self.latent_dim.value(), "beta": self.beta.value(), "kl_warmup": self.kl_warmup.value(),
                # folders have no factors: there the (disabled) field counts as off
                "factor_supervision": self.factor_supervision.value() if synthetic else 0.0,
                "lr": self._learning_rate(), "batch_size": self.batch_size.value(), "epochs": self.epochs.value(),
                "time_budget": self.time_budget.value(), "device": self.device.currentData(),
                "name": self.run_name.text().strip(), "runs_dir": self._runs_dir()}

    def set_data_folder(self, folder: str) -> None:
        """Use an image folder as the data source (from the dialog or a drop)."""
        self.folder_edit.setText(folder)
        if self.folder_radio.isChecked():
            self._folder_edited()
        else:
            self.folder_radio.setChecked(True)          # rescans through _source_changed

    def set_editable(self, editable: bool) -> None:
        for index in range(self.layout().count()):
            widget = self.layout().itemAt(index).widget()
            if widget is not None and widget is not self.validation_label:
                widget.setEnabled(editable)

    def remember_runs_dir(self) -> None:
        QSettings().setValue(SETTINGS_RUNS_DIR, self._runs_dir())

    def remember(self) -> None:
        """Keep the form's values for the next launch (only a valid form is kept)."""
        try:
            config = self.config()
        except ConfigError:
            return
        QSettings().setValue(SETTINGS_FORM, json.dumps(config.to_dict()))
        QSettings().setValue(SETTINGS_RUNS_DIR, config.train.runs_dir)

    def expectation(self) -> str:
        """What the form's time budget buys on this computer ('' when nothing true can be said)."""
        if self.budget_curve is None:
            return ""
        config = self.config()
        speed = None
        if config.train.time_budget_minutes > 0 and curve_applies(self.budget_curve, config):   # else no steps said
            speed = self._speeds.latest(config.train.runs_dir, config.model.preset, config.model.image_size)
        return budget_expectation(self.budget_curve, config, speed)

    def show_expectation(self, text: str) -> None:
        """Show the budget's expectation, or after a run its comparison with it (panel.py)."""
        self.expectation_label.setText(text)
        self.expectation_label.setVisible(bool(text))

    def forget_speeds(self) -> None:
        """A run ended: the next expectation reads the runs folder again."""
        self._speeds = SpeedLookup()

    @property
    def folder_summary(self) -> FolderSummary | None:
        return self._summary

    # ------------------------------------------------------------ reading fields
    def _data_source(self) -> str:
        if self.synthetic_radio.isChecked():
            return "synthetic"
        folder = self.folder_edit.text().strip()
        if not folder:
            raise ConfigError("choose an image folder (Browse… or drop one onto this tab), or use synthetic faces")
        if not Path(folder).expanduser().is_dir():
            raise ConfigError(f"data folder {folder} does not exist")
        return str(Path(folder).expanduser())

    def _learning_rate(self) -> float:
        text = self.lr.text().strip()
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"learning rate must be a number such as 0.002 or 2e-3, got {text!r}") from None

    def _runs_dir(self) -> str:
        folder = self.runs_dir.text().strip()
        if not folder:
            raise ConfigError("choose a runs folder: each run is saved in a folder inside it")
        return str(Path(folder).expanduser())

    # ------------------------------------------------------------ reactions
    def _changed(self) -> None:
        try:
            self.config()
            valid, reason = True, self._folder_problem()
        except ConfigError as error:
            valid, reason = False, str(error)
        valid = valid and not reason
        if valid:
            self.remember()
        self.show_expectation(self.expectation() if valid else "")
        self.validation_label.setText(reason)
        self.validation_label.setVisible(bool(reason))
        self.validity_changed.emit(valid, reason)
        self.changed.emit()

    def _folder_problem(self) -> str:
        """Why the scanned image folder cannot be trained on ('' when it can, or while it is being scanned)."""
        summary = self._summary
        if not self.folder_radio.isChecked() or summary is None:
            return ""
        if summary.error:
            return summary.error
        if summary.image_count < 2:
            return (f"the folder {summary.folder} holds {summary.image_count or 'no'} image"
                    f"{'' if summary.image_count == 1 else 's'} this program can read; training needs at least 2")
        return ""

    def _switch_default_preset(self) -> None:
        """Picking the other kind of data moves the preset along when it was that data's default one: a photo
        folder trains the photo recipe, the built-in faces the default VAE."""
        synthetic = self.synthetic_radio.isChecked()
        was = default_preset_for("photos" if synthetic else "synthetic")
        if self.preset.currentData() == was:
            self.preset.setCurrentIndex(self.preset.findData(default_preset_for("synthetic" if synthetic else "photos")))

    def _preset_changed(self) -> None:
        name = self.preset.currentData()
        model = PRESETS[name]
        self.latent_dim.setValue(model.latent_dim)
        recommended = recommended_settings(name)       # what `vae-train train --preset NAME` would use
        self.beta.setValue(recommended["beta"])
        self.kl_warmup.setValue(recommended["kl_warmup"])
        self.batch_size.setValue(recommended["batch_size"])
        self.lr.setText(f"{recommended['lr']:g}")
        self._update_family_fields()
        self._changed()

    def _update_family_fields(self) -> None:
        is_vae = PRESETS[self.preset.currentData()].family == "vae"
        for widget, tip in ((self.beta, BETA_TIP), (self.kl_warmup, WARMUP_TIP)):
            widget.setEnabled(is_vae)
            widget.setToolTip(tip if is_vae else "Only variational autoencoders have a KL term")
        synthetic = self.synthetic_radio.isChecked()
        self.factor_supervision.setEnabled(synthetic)
        self.factor_supervision.setToolTip(SUPERVISION_TIP if synthetic
                                           else "Only the synthetic faces have known factors to supervise with")

    def _source_changed(self) -> None:
        synthetic = self.synthetic_radio.isChecked()
        self.synthetic_count.setEnabled(synthetic)
        self.folder_edit.setEnabled(not synthetic)
        self._update_family_fields()
        if synthetic:
            self._scanner.cancel()
            self._show_thumbnails([])
            self.folder_info.setText("")
        else:
            self._folder_edited()
        self._changed()

    def _folder_edited(self) -> None:
        folder = self.folder_edit.text().strip()
        if self.folder_radio.isChecked() and folder:
            self.folder_info.setText(f"Scanning {folder}…")
            self._show_thumbnails([])
            self._summary = None
            self._scanner.scan(folder, test_fraction=self._base.data.test_fraction)
        self._changed()

    def _show_summary(self, summary: FolderSummary) -> None:
        self._summary = summary
        if summary.error:
            text = theme.span(summary.error, theme.Tone.ERROR)
        else:
            split = "train/ and test/ folders" if summary.has_split_folders else "split automatically"
            text = (f"{summary.image_count:,} images: {summary.train_count:,} train / "
                    f"{summary.test_count:,} test ({split})")
            if summary.unreadable:
                text += "<br>" + theme.span(f"unreadable: {summary.unreadable[0]}", theme.Tone.ERROR)
        self.folder_info.setText(text)
        self._show_thumbnails(summary.thumbnails)
        self._changed()                   # an empty or unreadable folder makes Start unavailable

    def _show_thumbnails(self, thumbnails: list) -> None:
        while self.thumbnail_strip.count() > 1:          # keep the trailing stretch
            item = self.thumbnail_strip.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for index, array in enumerate(thumbnails):
            label = QLabel()
            label.setPixmap(QPixmap.fromImage(array_to_qimage(array)).scaled(
                32, 32, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            self.thumbnail_strip.insertWidget(index, label)

    def _browse_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of face images", self.folder_edit.text())
        if folder:
            self.set_data_folder(folder)

    def _browse_runs_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the runs folder", self.runs_dir.text())
        if folder:
            self.runs_dir.setText(folder)
