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


def icon_keys(row: NeighbourRow) -> list[int]:
    return [button.icon().cacheKey() for button in row.buttons]


def test_unchanged_thumbnails_are_kept_and_changed_ones_redrawn(qtbot):
    row = NeighbourRow("pixels", k=3)
    qtbot.addWidget(row)
    index = faces()
    row.show_neighbours(index, found([4, 5, 6], [0.1, 0.2, 0.3]))
    before = icon_keys(row)
    row.show_neighbours(index, found([4, 5, 7], [0.1, 0.25, 0.3]))
    after = icon_keys(row)
    assert after[0] == before[0] and after[1] != before[1] and after[2] != before[2]
    assert row.indices == [4, 5, 7] and row.buttons[1].text() == "0.250"
    assert "train/007.png" in row.buttons[2].toolTip()


def test_a_new_index_redraws_everything_and_fewer_faces_clear_the_rest(qtbot):
    row = NeighbourRow("latent", k=3)
    qtbot.addWidget(row)
    row.show_neighbours(faces(), found([1, 2, 3], [1.0, 2.0, 3.0]))
    before = icon_keys(row)
    row.show_neighbours(faces(), found([1, 2], [1.0, 2.0]))           # another index object, same numbers
    after = icon_keys(row)
    assert after[0] != before[0] and after[1] != before[1]
    assert row.buttons[2].icon().isNull() and not row.buttons[2].isEnabled()
