"""The encoded images behind an atlas: latents, per-image reconstruction error and KL, and what to colour by.

Images are not copied: an AtlasData keeps references to the data set's uint8 tensors and fetches a thumbnail when
one is drawn, so 50,000 64x64 faces cost their 600 MB once (the loaded data set), not twice. A data set larger than
MAX_ATLAS_POINTS keeps copies of the mapped images only, so the atlas never holds more than that many.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from trainer.data.labels import LabelError, LabelTable, find_labels_file, folder_image_names, read_labels
from trainer.errors import Cancelled
from trainer.latent.atlas import ProgressCallback
from trainer.latent.codec import decode_latents, to_uint8_hwc
from trainer.latent.data_codes import DataCodes
from trainer.latent.sliders import SliderSpec, factor_sliders, pca_sliders
from trainer.latent.stats import LatentStats
from trainer.models.losses import kl_divergence

MAX_ATLAS_POINTS = 50_000      # encoded images on the map at most (test images first, then evenly spaced training)
ENCODE_CHUNK = 256
SPLITS = ("test", "train")
DIRECTION_PCS = 4              # the first principal directions offered as colourings


@dataclass
class AtlasData:
    latents: np.ndarray                          # (N, D) posterior means
    recon_error: np.ndarray                      # (N,) mean squared pixel error of the reconstruction, [0, 1] scale
    kl: np.ndarray | None                        # (N,) KL(q(z|x) || N(0, I)) per image, None for an AE
    split: np.ndarray                            # (N,) int8: 0 test, 1 train (SPLITS)
    rows: np.ndarray                             # (N,) int64 row of each point in its split's image tensor
    images: tuple[torch.Tensor, torch.Tensor]    # the data set's uint8 (M, C, H, W) test and train tensors
    factors: np.ndarray | None = None            # (N, F) true factors (synthetic data)
    factor_names: tuple[str, ...] = ()
    names: list[str] | None = None               # (N,) file names relative to the data folder, when known
    labels: LabelTable | None = None
    labels_note: str = ""                        # why there are no labels, or how many images they cover
    note: str = ""                               # e.g. "5,000 test and 45,000 of 180,000 training images"

    def __len__(self) -> int:
        return len(self.latents)

    def image(self, index: int) -> np.ndarray:
        """uint8 (H, W, 3) image of point `index` (grey repeated)."""
        tensor = self.images[int(self.split[index])][int(self.rows[index])]
        return to_uint8_hwc(tensor[None].float() / 255)[0]

    def name(self, index: int) -> str:
        if self.names is not None:
            return self.names[index]
        return f"{SPLITS[int(self.split[index])]} image {int(self.rows[index]) + 1}"


# ---------------------------------------------------------------- encoding

def encode_for_atlas(codes: DataCodes, split: str, rows: np.ndarray, progress: ProgressCallback | None = None,
                     should_stop: Callable[[], bool] | None = None, done: int = 0,
                     total: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Posterior means (N, D), reconstruction errors (N,) and KL per image (N,) (None for an AE) of a split's images
    at `rows`: the codes from the shared DataCodes (each image encoded once, for every view), the errors decoded
    here; chunk by chunk, so a subset is never copied whole."""
    model, images = codes.model, codes.images(split)
    rows = np.asarray(rows, dtype=np.int64)
    total = len(rows) if total is None else total
    means, errors, kls = [], [], []
    for start in range(0, len(rows), ENCODE_CHUNK):
        if should_stop is not None and should_stop():
            raise Cancelled("encoding")
        if progress is not None:
            progress(done + start, total, "encoding images for the atlas")
        chunk_rows = rows[start:start + ENCODE_CHUNK]
        mean, logvar = codes.codes(split, chunk_rows)
        chunk = images[torch.from_numpy(chunk_rows)]
        difference = (decode_latents(model, mean, exact=True).astype(np.float32)
                      - to_uint8_hwc(chunk.float() / 255).astype(np.float32)) / 255   # both as RGB, [0, 1]
        errors.append((difference ** 2).mean(axis=(1, 2, 3)))
        means.append(mean)
        if logvar is not None:
            kls.append(kl_divergence(torch.from_numpy(mean), torch.from_numpy(logvar)).numpy())
    if not means:
        return np.zeros((0, model.latent_dim), np.float32), np.zeros(0, np.float32), None
    return np.concatenate(means), np.concatenate(errors), (np.concatenate(kls) if kls else None)


def atlas_data_from_dataset(model, dataset, names: tuple[list[str], list[str]] | None = None,
                            labels: LabelTable | None = None, max_points: int = MAX_ATLAS_POINTS,
                            progress: ProgressCallback | None = None,
                            should_stop: Callable[[], bool] | None = None) -> AtlasData:
    """Encode a FaceDataset's test images and (evenly spaced, up to `max_points` in all) training images."""
    return atlas_data_from_codes(DataCodes(model, dataset), names, labels, max_points, progress, should_stop)


def atlas_data_from_codes(codes: DataCodes, names: tuple[list[str], list[str]] | None = None,
                          labels: LabelTable | None = None, max_points: int = MAX_ATLAS_POINTS,
                          progress: ProgressCallback | None = None,
                          should_stop: Callable[[], bool] | None = None) -> AtlasData:
    """The atlas of a data set's test images and (evenly spaced, up to `max_points` in all) training images, from
    their shared codes (only images not encoded yet are encoded)."""
    dataset = codes.dataset
    n_test = min(len(dataset.test), max_points)
    n_train = min(len(dataset.train), max_points - n_test)
    test_rows = np.arange(n_test, dtype=np.int64)
    train_rows = np.linspace(0, len(dataset.train) - 1, num=n_train).round().astype(np.int64) if n_train else \
        np.zeros(0, np.int64)
    total = n_test + n_train
    test = encode_for_atlas(codes, "test", test_rows, progress, should_stop, 0, total)
    train = encode_for_atlas(codes, "train", train_rows, progress, should_stop, n_test, total)
    kl = np.concatenate([test[2], train[2]]) if test[2] is not None and train[2] is not None else None
    test_images, train_images, kept_test, kept_train = dataset.test, dataset.train, test_rows, train_rows
    if n_test < len(dataset.test) or n_train < len(dataset.train):
        # A set over the cap: keep copies of the mapped images only, so memory stays within max_points images
        # (a slice would keep the whole data set's storage alive).
        test_images, train_images = dataset.test[:n_test].clone(), dataset.train[torch.from_numpy(train_rows)]
        kept_test, kept_train = np.arange(n_test, dtype=np.int64), np.arange(n_train, dtype=np.int64)
    factors = None
    if dataset.test_factors is not None and dataset.train_factors is not None:
        factors = np.concatenate([dataset.test_factors[test_rows], dataset.train_factors[train_rows]])
    point_names = None
    if names is not None:
        point_names = [names[1][i] for i in test_rows] + [names[0][i] for i in train_rows]
    note = f"{n_test:,} test and {n_train:,} training images"
    if n_train < len(dataset.train):
        note = f"{n_test:,} test and {n_train:,} of {len(dataset.train):,} training images"
    data = AtlasData(latents=np.concatenate([test[0], train[0]]), recon_error=np.concatenate([test[1], train[1]]),
                     kl=kl, split=np.concatenate([np.zeros(n_test, np.int8), np.ones(n_train, np.int8)]),
                     rows=np.concatenate([kept_test, kept_train]), images=(test_images, train_images),
                     factors=factors, factor_names=tuple(dataset.factor_names), names=point_names, labels=labels,
                     note=note)
    if labels is not None and point_names is not None:
        data.labels_note = f"Labels of {labels.matched(point_names):,} images from {labels.path}"
    if progress is not None:
        progress(total, total, "encoded")
    return data


def atlas_data_for_checkpoint(checkpoint, max_points: int = MAX_ATLAS_POINTS,
                              progress: ProgressCallback | None = None,
                              should_stop: Callable[[], bool] | None = None) -> AtlasData:
    """Load the checkpoint's data set (from the cache) and make its atlas (atlas_data_for_codes). DataError when it
    is gone. The explorer does not use this: it passes the codes its background encoding made."""
    from trainer.data.datasets import load_dataset

    if progress is not None:
        progress(0, 0, "loading the data set")
    dataset = load_dataset(checkpoint.config.data, should_stop=should_stop, progress=progress)    # or Cancelled
    return atlas_data_for_codes(DataCodes(checkpoint.model, dataset), checkpoint.config.data, max_points, progress,
                                should_stop)


def atlas_data_for_codes(codes: DataCodes, data_config, max_points: int = MAX_ATLAS_POINTS,
                         progress: ProgressCallback | None = None,
                         should_stop: Callable[[], bool] | None = None) -> AtlasData:
    """The atlas of the data set behind `codes`, loaded with `data_config` (a DataConfig): its file names and its
    labels.csv found beside the folder. DataError when the images cannot be encoded (another size than the model's)."""
    from trainer.data.datasets import DataError

    dataset = codes.dataset
    names, labels, labels_note = None, None, ""
    if not data_config.is_synthetic:
        folder = Path(data_config.source)
        names = folder_image_names(folder, data_config.test_fraction, len(dataset.train), len(dataset.test))
        labels, labels_note = _labels_of(folder)
        if labels is not None and names is None:
            labels, labels_note = None, "labels.csv was found, but the images could not be matched to file names"
    try:
        data = atlas_data_from_codes(codes, names, labels, max_points, progress, should_stop)
    except RuntimeError as error:        # e.g. images of another size than the model's
        raise DataError(f"cannot encode the data set for the atlas: {error}") from None
    data.labels_note = data.labels_note or labels_note
    return data


def _labels_of(folder: Path) -> tuple[LabelTable | None, str]:
    path = find_labels_file(folder)
    if path is None:
        return None, ""
    try:
        return read_labels(path), ""
    except LabelError as error:
        return None, str(error)


# ---------------------------------------------------------------- colouring

@dataclass
class ColourValues:
    name: str
    values: np.ndarray                        # float32 (N,), NaN = unknown
    categories: tuple[str, ...] = ()          # a categorical colouring: values are codes into it


def colour_options(data: AtlasData, directions: Sequence[SliderSpec] = ()) -> list[tuple[str, str]]:
    """(key, label) of every way to colour the points: split, error, KL, factors, labels, directions (principal,
    factor and the user's own, as sliders: trainer.latent.sliders), latent dims."""
    options = [("split", "Split (test / train)"), ("error", "Reconstruction error")]
    if data.kl is not None:
        options.append(("kl", "KL per image"))
    options += [(f"factor:{name}", f"True factor: {name}") for name in (data.factor_names if data.factors is not None
                                                                           else ())]
    if data.labels is not None and data.names is not None:
        options += [(f"label:{column}", f"Label: {column}") for column in data.labels.columns]
    options += [(f"direction:{spec.key}", direction_label(spec)) for spec in directions]
    options += [(f"dim:{d}", f"Latent dim {d}") for d in range(data.latents.shape[1])]
    return options


def colouring_directions(stats: LatentStats | None, custom: Sequence[SliderSpec] = (), latent_dim: int | None = None,
                         n_pcs: int = DIRECTION_PCS) -> list[SliderSpec]:
    """The directions an atlas can be coloured along, as the sliders that move along them: the first principal
    directions and the factor directions of the statistics, then the user's own (`custom`); those of another latent
    size than `latent_dim` are left out."""
    specs = (pca_sliders(stats, n_pcs) + factor_sliders(stats)) if stats is not None else []
    specs += list(custom)
    return [spec for spec in specs if latent_dim is None or spec.direction.shape == (latent_dim,)]


def direction_label(spec: SliderSpec) -> str:
    """How a direction is listed: "Your direction: smile", "Direction: PC 1", "Direction: smile (mouth_curve)"."""
    kind = "Your direction" if spec.key.startswith("custom:") else "Direction"
    detail = f" ({spec.detail})" if spec.key.startswith("factor:") and spec.detail else ""
    return f"{kind}: {spec.label}{detail}"


def colour_values(data: AtlasData, key: str, directions: Sequence[SliderSpec] = ()) -> ColourValues:
    """One value per point for a colour_options key. A direction's value is its slider's value at the point's code
    (SliderSpec.coordinates), so the colour of a point agrees with the slider set to that face."""
    kind, _, name = key.partition(":")
    if kind == "split":
        return ColourValues("split", data.split.astype(np.float32), SPLITS)
    if kind == "error":
        return ColourValues("reconstruction error (MSE)", data.recon_error.astype(np.float32))
    if kind == "kl" and data.kl is not None:
        return ColourValues("KL per image (nats)", data.kl.astype(np.float32))
    if kind == "dim" and name.isdigit() and int(name) < data.latents.shape[1]:
        return ColourValues(f"latent dim {name}", data.latents[:, int(name)].astype(np.float32))
    spec = next((spec for spec in directions if spec.key == name), None) if kind == "direction" else None
    if spec is not None:
        return ColourValues(f"along {spec.label}", spec.coordinates(data.latents).astype(np.float32))
    if kind == "factor" and data.factors is not None and name in data.factor_names:
        return ColourValues(f"true {name}", data.factors[:, data.factor_names.index(name)].astype(np.float32))
    if kind == "label" and data.labels is not None and data.names is not None:
        column = data.labels.column_for(name, data.names)
        return ColourValues(f"label {name}", column.values, column.categories)
    raise KeyError(f"cannot colour this atlas by {key!r}")
