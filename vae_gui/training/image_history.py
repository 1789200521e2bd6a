"""Live reconstructions and samples, with a slider that scrubs back through the run's snapshots."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from .. import theme
from ..vertical_scroll import scrolling_body
from ..qt_images import array_to_qimage
from .run_state import RunState


class ImageView(QWidget):
    """Paints one image scaled to fit, keeping its aspect ratio; pixel-sharp when enlarged."""

    def __init__(self, placeholder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.placeholder = placeholder
        self._image: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 60)

    def set_array(self, image_hwc: np.ndarray | None) -> None:
        self._image = array_to_qimage(image_hwc) if image_hwc is not None else None
        self.update()

    @property
    def image(self) -> QImage | None:
        return self._image

    def sizeHint(self) -> QSize:
        return QSize(360, 180)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        if self._image is None:
            painter.setPen(theme.current().muted)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2,
                        size.width(), size.height())
        shrinking = size.width() < self._image.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, shrinking)
        painter.drawImage(target, self._image)


class ImageHistory(QWidget):
    """Shows the newest snapshot while 'Follow' is on (or the slider sits at the end); any older one on demand."""

    def __init__(self, state: RunState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.reconstructions = ImageView("Reconstructions of fixed validation images appear here "
                                         "once training starts")
        self.samples = ImageView("Decoded fixed latent vectors (samples) appear here")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.setToolTip("Scrub back through this run's snapshots (older live ones are thinned on long runs)")
        self.follow = QCheckBox("Follow latest")
        self.follow.setToolTip("Show each new snapshot as it arrives; untick to stay on the one you picked")
        self.follow.setChecked(True)
        self.position_label = QLabel("no snapshot yet")
        self.slider.valueChanged.connect(self._slider_moved)
        self.follow.toggled.connect(self._follow_toggled)
        state.snapshot_added.connect(self._snapshot_added)
        state.run_started.connect(self._run_started)
        self._build_layout()

    def _build_layout(self) -> None:
        recon_title = QLabel("<b>Reconstructions</b> — top: validation images, bottom: the model's output")
        sample_title = QLabel("<b>Samples</b> — decodes of fixed random latent vectors")
        for label in (recon_title, sample_title):
            label.setWordWrap(True)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("History:"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.follow)
        layout = QVBoxLayout(scrolling_body(self))      # a short window scrolls
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(recon_title)
        layout.addWidget(self.reconstructions, 1)
        layout.addWidget(sample_title)
        layout.addWidget(self.samples, 2)
        layout.addLayout(slider_row)
        layout.addWidget(self.position_label)

    @property
    def shown_index(self) -> int:
        return self.slider.value() if len(self.state.snapshots) else -1

    def show_snapshot(self, index: int) -> None:
        """Scrub to snapshot `index` (0 = the first of the run)."""
        self.follow.setChecked(index == len(self.state.snapshots) - 1)
        self.slider.setValue(index)
        self._display(index)

    def _run_started(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(False)
        self.follow.setChecked(True)
        self.position_label.setText("waiting for the first snapshot…")

    def _snapshot_added(self, index: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, index)
        if self.follow.isChecked():
            self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(index > 0)
        if self.follow.isChecked():
            self._display(index)
        else:
            self._display(self.slider.value())       # thinning may have moved another snapshot to this index

    def _slider_moved(self, index: int) -> None:
        self.follow.blockSignals(True)
        self.follow.setChecked(index == self.slider.maximum())
        self.follow.blockSignals(False)
        self._display(index)

    def _follow_toggled(self, on: bool) -> None:
        if on and len(self.state.snapshots):
            self.slider.setValue(self.slider.maximum())
            self._display(self.slider.maximum())

    def _display(self, index: int) -> None:
        if not 0 <= index < len(self.state.snapshots):
            return
        grids = self.state.snapshots[index]
        latest = index == len(self.state.snapshots) - 1 and self.follow.isChecked()
        self.state.set_shown_step(None if latest else self.state.snapshots.step(index))   # the KL chart follows
        self.reconstructions.set_array(grids.reconstructions)
        self.samples.set_array(grids.samples)
        self._update_label(index)

    def _update_label(self, index: int) -> None:
        store = self.state.snapshots
        kind = "validation" if store.is_eval(index) else "live"
        self.position_label.setText(f"snapshot {index + 1} of {len(store)} · step {store.step(index):,} ({kind})")
