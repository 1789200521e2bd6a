"""The "Directions" tab: attribute sliders. Ground-truth factor directions on synthetic data, and directions the user
makes from two groups of images (mean of group B minus mean of group A) on any data. "Hold fixed" makes every other
slider here move along its direction with the held one projected out, so that attribute stays as it is.

The user's directions and the two groups live in the model's Directions part (state.directions), so the atlas can
colour by them too and the gallery's "Add to direction group" reaches this tab through the model only."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListView, QListWidget,
                               QListWidgetItem, QMenu, QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from trainer.errors import UserError
from trainer.latent.sliders import SliderSpec, factor_sliders, holding_fixed

from ..model import Directions
from ..qt_images import array_to_qimage
from ..vertical_scroll import scrolling_body
from .slider_rows import SliderColumn
from .state import ExplorerState

THUMB = 36
HOLD_TIP = ("Hold one attribute fixed while moving along the others: its direction is projected out of every other "
            "slider in this tab, so e.g. 'older' no longer adds glasses when glasses are held fixed.")


class GroupBox(QGroupBox):
    """One group of images for a direction (the model's directions.groups[slot]): its thumbnails and count."""

    add_requested = Signal(str)            # "gallery" | "file"

    def __init__(self, slot: str, directions: Directions, parent: QWidget | None = None):
        super().__init__(f"Group {slot}", parent)
        self.slot = slot
        self.directions = directions
        self.thumbs = QListWidget(self)
        self.thumbs.setViewMode(QListView.ViewMode.IconMode)
        self.thumbs.setIconSize(QSize(THUMB, THUMB))
        self.thumbs.setMovement(QListView.Movement.Static)
        self.thumbs.setResizeMode(QListView.ResizeMode.Adjust)
        self.thumbs.setMinimumHeight(THUMB + 16)
        self.thumbs.setMaximumHeight(THUMB * 2 + 14)
        self.count_label = QLabel("empty", self)
        from_gallery = QPushButton("Add selected", self)
        from_gallery.setToolTip("Add the test images selected in the strip below (Ctrl/Shift-click to select several)")
        from_files = QPushButton("Add files...", self)
        from_files.setToolTip("Encode image files and add them to this group")
        clear = QPushButton("Clear", self)
        clear.setToolTip("Remove every image from this group")
        from_gallery.clicked.connect(lambda: self.add_requested.emit("gallery"))
        from_files.clicked.connect(lambda: self.add_requested.emit("file"))
        clear.clicked.connect(lambda: directions.clear_group(slot))
        buttons = QGridLayout()
        buttons.addWidget(from_gallery, 0, 0)
        buttons.addWidget(from_files, 0, 1)
        buttons.addWidget(clear, 1, 1)
        for button in (from_gallery, from_files, clear):
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.thumbs, 1)
        layout.addWidget(self.count_label)
        layout.addLayout(buttons)

        directions.group_changed.connect(self._on_group_changed)
        self._show_group()

    @property
    def latents(self) -> np.ndarray:
        group = self.directions.groups[self.slot]
        return group.latents if group is not None else np.zeros((0, 0), np.float32)

    def _on_group_changed(self, slot: str) -> None:
        if slot == self.slot:
            self._show_group()

    def _show_group(self) -> None:
        """Thumbnails: those already shown stay, new ones are added (a group only grows until it is cleared)."""
        group = self.directions.groups[self.slot]
        images = group.images if group is not None else []
        if len(images) < self.thumbs.count():
            self.thumbs.clear()
        for image in images[self.thumbs.count():]:
            pixmap = QPixmap.fromImage(array_to_qimage(image)).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self.thumbs.addItem(QListWidgetItem(QIcon(pixmap), ""))
        n = len(images)
        self.count_label.setText(f"{n} image{'s' if n != 1 else ''}" if n else "empty")


class DirectionsTab(QWidget):
    group_add_requested = Signal(str, str)     # group "A" | "B", source "gallery" | "file"

    def __init__(self, state: ExplorerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.factor_specs: list[SliderSpec] = []
        self._build()
        state.checkpoint_changed.connect(self._on_checkpoint)
        state.stats_changed.connect(self._rebuild_factor_sliders)
        state.directions_changed.connect(self._on_custom_changed)

    @property
    def custom_specs(self) -> list[SliderSpec]:
        return self.state.custom_directions

    def _build(self) -> None:
        self.hold = QComboBox(self)
        self.hold.setToolTip(HOLD_TIP)
        self.hold.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.hold.currentIndexChanged.connect(self._show_specs)
        hold_label = QLabel("Hold fixed:", self)
        hold_label.setToolTip(HOLD_TIP)
        hold_row = QHBoxLayout()
        hold_row.addWidget(hold_label)
        hold_row.addWidget(self.hold)
        hold_row.addStretch(1)
        self.factor_box = QGroupBox("Ground-truth factors", self)
        self.factor_sliders = SliderColumn(self.state, self.factor_box, empty_text=(
            "Factor directions exist for models trained on the synthetic faces, whose true factors (smile, "
            "glasses, hair colour...) are known. For other data, make a direction from two groups of images."))
        factor_layout = QVBoxLayout(self.factor_box)
        factor_layout.addWidget(self.factor_sliders)

        self.custom_box = QGroupBox("Your directions", self)
        self.custom_sliders = SliderColumn(self.state, self.custom_box)
        self.remove_one = QPushButton("Remove one", self.custom_box)
        self.remove_one.setToolTip("Remove one of your directions (its slider and its atlas colouring)")
        self.remove_menu = QMenu(self.remove_one)
        self.remove_menu.aboutToShow.connect(self._fill_remove_menu)
        self.remove_one.setMenu(self.remove_menu)
        clear = QPushButton("Remove all", self.custom_box)
        clear.clicked.connect(self.clear_custom)
        remove_row = QHBoxLayout()
        remove_row.addStretch(1)
        remove_row.addWidget(self.remove_one)
        remove_row.addWidget(clear)
        custom_layout = QVBoxLayout(self.custom_box)
        custom_layout.addWidget(self.custom_sliders, 1)
        custom_layout.addLayout(remove_row)

        maker = QGroupBox("New direction from two groups: B minus A (e.g. A = not smiling, B = smiling)", self)
        self.groups = {slot: GroupBox(slot, self.state.directions, maker) for slot in ("A", "B")}
        for name, group in self.groups.items():
            group.add_requested.connect(lambda source, g=name: self.group_add_requested.emit(g, source))
        self.name_edit = QLineEdit(maker)
        self.name_edit.setPlaceholderText("name, e.g. smile")
        create = QPushButton("Create direction", maker)
        create.clicked.connect(self._create_from_groups)
        self.maker_note = QLabel("", maker)
        self.maker_note.setWordWrap(True)
        groups = QHBoxLayout()
        groups.addWidget(self.groups["A"])
        groups.addWidget(self.groups["B"])
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Name:", maker))
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(create)
        maker_layout = QVBoxLayout(maker)
        maker_layout.addLayout(groups)
        maker_layout.addLayout(name_row)
        maker_layout.addWidget(self.maker_note)

        self.custom_box.hide()                     # shown once the user has made a direction
        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.addLayout(hold_row)
        layout.addWidget(self.factor_box, 1)
        layout.addWidget(self.custom_box)
        layout.addWidget(maker)

    # ------------------------------------------------------------ state

    def _on_checkpoint(self) -> None:
        self.maker_note.setText("")              # "Added 'smile'..." was about the previous model
        self._on_custom_changed()                # the state dropped the previous model's directions
        self._rebuild_factor_sliders()

    def _rebuild_factor_sliders(self) -> None:
        stats = self.state.stats
        self.factor_specs = factor_sliders(stats) if stats is not None else []
        self._fill_hold_choices()

    # ------------------------------------------------------------ holding one direction fixed

    def _fill_hold_choices(self) -> None:
        """List every direction of this tab in the "Hold fixed" box, keeping the choice when it still exists."""
        kept = self.hold.currentData()
        self.hold.blockSignals(True)
        self.hold.clear()
        self.hold.addItem("nothing", "")
        for spec in self.factor_specs + self.custom_specs:
            self.hold.addItem(spec.label, spec.key)
        index = self.hold.findData(kept) if kept else 0
        self.hold.setCurrentIndex(max(0, index))
        self.hold.blockSignals(False)
        self.hold.setEnabled(len(self.factor_specs) + len(self.custom_specs) > 1)
        self._show_specs()

    def held_spec(self) -> SliderSpec | None:
        key = self.hold.currentData()
        return next((spec for spec in self.factor_specs + self.custom_specs if spec.key == key), None)

    def hold_fixed(self, key: str) -> None:
        """Hold the direction with this key fixed ("" for none), as choosing it in the box does."""
        index = self.hold.findData(key)
        if index < 0:
            raise KeyError(f"no direction {key!r} in the Directions tab")
        self.hold.setCurrentIndex(index)

    def _show_specs(self) -> None:
        held = self.held_spec()
        factors, custom = self.factor_specs, self.custom_specs
        if held is not None:
            factors, custom = holding_fixed(factors, held), holding_fixed(custom, held)
        self.factor_sliders.set_specs(factors)
        self.custom_sliders.set_specs(custom)

    # ------------------------------------------------------------ user directions

    def add_to_group(self, group: str, latents: np.ndarray, images: np.ndarray) -> None:
        self.state.directions.add_to_group(group, latents, images)

    def create_direction(self, name: str) -> SliderSpec:
        """A slider along mean(B) - mean(A) (see Directions.create_from_groups). Raises ValueError with a
        user-facing message, and UserErrors for empty groups and for a direction the user already has."""
        return self.state.directions.create_from_groups(name, self.state.mean_latent())

    def clear_custom(self) -> None:
        self.state.clear_custom_directions()

    def _fill_remove_menu(self) -> None:
        """One entry per direction, filled as the menu opens, so it always lists the current ones."""
        self.remove_menu.clear()
        for spec in self.custom_specs:
            action = self.remove_menu.addAction(spec.label)
            action.triggered.connect(lambda _checked=False, key=spec.key: self.state.remove_custom_direction(key))

    def _on_custom_changed(self) -> None:
        count = len(self.custom_specs)
        row_height = self.custom_sliders.fontMetrics().height() + 14
        self.custom_box.setFixedHeight(min(240, 90 + row_height * max(count, 1)))
        self.custom_box.setVisible(count > 0)
        self._fill_hold_choices()

    def _create_from_groups(self) -> None:
        try:
            spec = self.create_direction(self.name_edit.text())
        except (ValueError, UserError) as error:         # empty groups; the same direction as one made before
            self.maker_note.setText(str(error))
            return
        directions = self.state.directions
        self.maker_note.setText(f"Added '{spec.label}' ({directions.group_size('A')} vs "
                                f"{directions.group_size('B')} images).")
        self.name_edit.clear()
