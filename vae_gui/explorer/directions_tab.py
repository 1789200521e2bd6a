"""The "Directions" tab: attribute sliders. Ground-truth factor directions on synthetic data, and directions the user
makes from two groups of images (mean of group B minus mean of group A) on any data. "Hold fixed" makes every other
slider here move along its direction with the held one projected out, so that attribute stays as it is.

The user's directions live in the explorer state (state.custom_directions), so the atlas can colour by them too."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListView, QListWidget,
                               QListWidgetItem, QMenu, QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from trainer.errors import UserError
from trainer.latent.directions import attribute_direction
from trainer.latent.sliders import SliderSpec, custom_slider, factor_sliders, holding_fixed

from ..qt_images import array_to_qimage
from ..vertical_scroll import scrolling_body
from .slider_rows import SliderColumn
from .state import ExplorerState

THUMB = 36
HOLD_TIP = ("Hold one attribute fixed while moving along the others: its direction is projected out of every other "
            "slider in this tab, so e.g. 'older' no longer adds glasses when glasses are held fixed.")


class GroupBox(QGroupBox):
    """One group of images for a direction: thumbnails and their latents."""

    add_requested = Signal(str)            # "gallery" | "file"

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(title, parent)
        self.latents: list[np.ndarray] = []
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
        clear.clicked.connect(self.clear)
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

    def add(self, latents: np.ndarray, images: np.ndarray) -> None:
        for z, image in zip(latents, images):
            self.latents.append(np.asarray(z, np.float32))
            pixmap = QPixmap.fromImage(array_to_qimage(image)).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self.thumbs.addItem(QListWidgetItem(QIcon(pixmap), ""))
        self._update_count()

    def clear(self) -> None:
        self.latents = []
        self.thumbs.clear()
        self._update_count()

    def _update_count(self) -> None:
        n = len(self.latents)
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
        self.groups = {"A": GroupBox("Group A", maker), "B": GroupBox("Group B", maker)}
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
        for group in self.groups.values():
            group.clear()
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
        self.groups[group].add(latents, images)

    def create_direction(self, name: str) -> SliderSpec:
        """A slider along mean(B) - mean(A). Raises ValueError with a user-facing message, and
        DuplicateDirectionError (a UserError) when the user already has this direction."""
        a, b = self.groups["A"].latents, self.groups["B"].latents
        if not a or not b:
            raise ValueError("Add at least one image to each group first.")
        vector = attribute_direction(np.stack(a), np.stack(b))
        spec = custom_slider(self._free_name(name), vector, self.state.mean_latent())
        self.state.add_custom_direction(spec)
        return spec

    def _free_name(self, name: str) -> str:
        """The name asked for, or "smile (2)" when "smile" exists (a direction's key is its name)."""
        taken = {spec.label for spec in self.custom_specs}
        base = name.strip() or f"direction {len(self.custom_specs) + 1}"
        name, copy = base, 2
        while name in taken:
            name, copy = f"{base} ({copy})", copy + 1
        return name

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
        self.maker_note.setText(f"Added '{spec.label}' ({len(self.groups['A'].latents)} vs "
                                f"{len(self.groups['B'].latents)} images).")
        self.name_edit.clear()
