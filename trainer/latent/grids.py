"""The one image grid: training previews, `vae-train predict`, reports and the explorer's exports all use it."""
from __future__ import annotations

import numpy as np
import torch


def image_grid(images_hwc: np.ndarray, nrow: int, padding: int = 2) -> np.ndarray:
    """uint8 (H, W, 3) grid of uint8 (N, h, w, C) images, `nrow` images per row, white padding between them.

    A grey image is repeated to RGB (by make_grid), an alpha channel dropped.
    """
    images_hwc = np.asarray(images_hwc)
    if images_hwc.ndim != 4 or len(images_hwc) == 0:
        raise ValueError(f"a grid needs a non-empty (N, H, W, C) image array, got shape {images_hwc.shape}")
    images_hwc = images_hwc[..., :3]
    # Imported here: torchvision's import brings torch._dynamo (1-2 s), which the app's start-up does not need.
    from torchvision.utils import make_grid
    tensor = torch.from_numpy(np.ascontiguousarray(images_hwc, dtype=np.uint8)).permute(0, 3, 1, 2)
    grid = make_grid(tensor, nrow=max(1, int(nrow)), padding=padding, pad_value=255)
    return grid.permute(1, 2, 0).contiguous().numpy()
