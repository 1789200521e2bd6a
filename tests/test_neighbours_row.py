"""The nearest-faces row redraws only the thumbnails whose face or distance changed."""
from dataclasses import dataclass

import numpy as np
import torch

from trainer.latent.neighbours import Neighbours
from vae_gui.explorer.neighbours_row import NeighbourRow


@dataclass
class TrainingFaces:
    """What the row reads from a NearestFaces index: the images, their names, whether codes exist."""
    images: torch.Tensor
    has_latents: bool = True

    def name(self, index: int) -> str:
        return f"train/{index:03d}.png"


def faces(n: int = 12) -> TrainingFaces:
    return TrainingFaces(torch.randint(0, 256, (n, 3, 16, 16), generator=torch.Generator().manual_seed(0),
                                       dtype=torch.uint8))


def found(indices, distances) -> Neighbours:
    return Neighbours(np.asarray(indices, np.int64), np.asarray(distances, np.float32), "pixels")


def shown(row: NeighbourRow) -> list[tuple[int, str]]:
    return [(button.face().cacheKey(), button.label()) for button in row.buttons]


def test_unchanged_thumbnails_are_kept_and_changed_ones_redrawn(qtbot, monkeypatch):
    row = NeighbourRow("pixels", k=3)
    qtbot.addWidget(row)
    index = faces()
    row.show_neighbours(index, found([4, 5, 6], [0.1, 0.2, 0.3]))
    before = shown(row)
    updated = []
    for position, button in enumerate(row.buttons):
        original = button.set_face
        monkeypatch.setattr(button, "set_face", lambda *a, p=position, f=original: (updated.append(p), f(*a)))
    row.show_neighbours(index, found([4, 5, 7], [0.1, 0.25, 0.3]))
    after = shown(row)
    assert updated == [1, 2]                                   # the first face and its distance did not change
    assert after[0] == before[0] and after[1] == (before[1][0], "0.250") and after[2][0] != before[2][0]
    assert row.indices == [4, 5, 7] and row.buttons[1].accessibleName() == "0.250"
    assert "train/007.png" in row.buttons[2].toolTip()


def test_a_new_index_redraws_everything_and_fewer_faces_clear_the_rest(qtbot):
    row = NeighbourRow("latent", k=3)
    qtbot.addWidget(row)
    row.show_neighbours(faces(), found([1, 2, 3], [1.0, 2.0, 3.0]))
    before = shown(row)
    row.show_neighbours(faces(), found([1, 2], [1.0, 2.0]))           # another index object, same numbers
    after = shown(row)
    assert after[0][0] != before[0][0] and after[1][0] != before[1][0]
    assert row.buttons[2].face().isNull() and not row.buttons[2].isEnabled()


def test_new_thumbnails_ask_for_no_new_layout(qtbot):
    """A QToolButton's setIcon asked for a layout of the whole window, which then repainted every widget in it."""
    from PySide6.QtCore import QEvent, QObject

    row = NeighbourRow("pixels", k=3)
    qtbot.addWidget(row)
    row.show()
    qtbot.waitExposed(row)
    qtbot.wait(50)                                   # the layout of showing it is done
    requests = []

    class Recorder(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.LayoutRequest:
                requests.append(watched)
            return False

    recorder = Recorder()
    row.installEventFilter(recorder)
    row.show_neighbours(faces(), found([1, 2, 3], [0.1, 0.2, 0.3]))
    qtbot.wait(50)
    assert requests == [] and not row.buttons[0].face().isNull()
