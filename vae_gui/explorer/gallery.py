"""A strip of the checkpoint's test images: double-click one to start from it; select several for groups. The
selection is the model's Selection part (the Morph and Directions tabs' "test image" buttons take it)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from ..model import Selection, Session
from ..qt_images import array_to_qimage

MAX_SHOWN = 200
ICON = 56

# (action key, menu text): what a right-click on the gallery offers.
ACTIONS = (("start", "Start from this image"), ("A", "Set as morph A"), ("B", "Set as morph B"),
           ("group_a", "Add to direction group A"), ("group_b", "Add to direction group B"))


class TestGallery(QListWidget):
    start_requested = Signal(int)                 # test image index
    action_requested = Signal(str, list)          # action key, selected test image indices

    def __init__(self, session: Session, selection: Selection, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.selection = selection
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(QSize(ICON, ICON))
        self.setGridSize(QSize(ICON + 8, ICON + 8))
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(ICON + 8 + self.horizontalScrollBar().sizeHint().height() + 6)
        self.setToolTip("Test images of the checkpoint's data set. Double-click: start from it. "
                        "Ctrl/Shift-click to select several, right-click for more.")
        self.itemDoubleClicked.connect(lambda item: self.start_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.itemSelectionChanged.connect(lambda: self.selection.select(self.selected_indices()))
        session.checkpoint_changed.connect(self._show_data)
        session.data_changed.connect(self._show_data)
        selection.changed.connect(self._show_selection)
        self._show_data()

    def _show_data(self) -> None:
        """The test images of the session's data; hidden until they are encoded (and without a data set)."""
        data = self.session.data
        self.set_images(data.test_images if data is not None and data.has_images else None)
        self.setVisible(data is not None and data.has_images)

    def set_images(self, images: np.ndarray | None) -> None:
        self.blockSignals(True)         # the model's selection is kept while the items are made again
        self.clear()
        for index, image in enumerate(images[:MAX_SHOWN] if images is not None else []):
            pixmap = QPixmap.fromImage(array_to_qimage(image)).scaled(
                ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
            item = QListWidgetItem(QIcon(pixmap), "")
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(f"test image {index + 1}")
            self.addItem(item)
        self.blockSignals(False)
        self._show_selection()

    def selected_indices(self) -> list[int]:
        return sorted(item.data(Qt.ItemDataRole.UserRole) for item in self.selectedItems())

    def select_indices(self, indices: list[int]) -> None:
        """Select these test images (as Ctrl-clicks would): the model's selection changes and the gallery shows it."""
        self.selection.select([index for index in indices if 0 <= index < self.count()])

    def _show_selection(self) -> None:
        self.blockSignals(True)
        self.clearSelection()
        for index in self.selection.indices:
            if 0 <= index < self.count():
                self.item(index).setSelected(True)
        self.blockSignals(False)

    def contextMenuEvent(self, event) -> None:
        item = self.itemAt(event.pos())
        if item is None:
            return
        if not item.isSelected():
            self.clearSelection()
            item.setSelected(True)
        self._show_menu(event.globalPos())

    def _show_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        indices = self.selected_indices()
        for key, text in ACTIONS:
            if key in ("start", "A", "B") and len(indices) != 1:
                continue
            label = text if len(indices) == 1 else f"{text} ({len(indices)} images)"
            menu.addAction(label, lambda k=key: self.action_requested.emit(k, self.selected_indices()))
        menu.exec(position)
