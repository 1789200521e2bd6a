"""The Atlas tab's background computations, as plain functions for vae_gui/tasks.py (they run off the GUI thread
and hand back plain arrays)."""
from __future__ import annotations

import numpy as np

from trainer.latent.atlas import AtlasMap, build_atlas_map
from trainer.latent.atlas_data import AtlasData, atlas_data_for_codes
from trainer.latent.data_codes import DataCodes

from ..tasks import TaskContext


def encode_task(task: TaskContext, codes: DataCodes, data_config) -> tuple[AtlasData, AtlasMap]:
    """The atlas of the shared codes' data set (only images not encoded yet are encoded) and its PCA map."""
    data = atlas_data_for_codes(codes, data_config, progress=task.report, should_stop=lambda: task.cancelled)
    task.report(0, 0, "computing the map")
    return data, build_atlas_map(data.latents, "pca")


def map_task(task: TaskContext, latents: np.ndarray, method: str) -> AtlasMap:
    return build_atlas_map(latents, method, progress=task.report, should_stop=lambda: task.cancelled)
