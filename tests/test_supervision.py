"""Weak factor supervision: Gaussianized targets, the labeled subset, refusals, the loss, and a run that uses it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config
from trainer.training.checkpoint import load_checkpoint
from trainer.config import ConfigError
from trainer.data.datasets import FaceDataset, load_dataset
from trainer.latent.codec import encode_images
from trainer.training.loop import train
from trainer.models.supervision import (SupervisionError, check_supervisable, factor_alignment_loss, gaussianized_targets,
                                 labeled_mask)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values))


def test_uniform_factor_becomes_standard_normal_and_keeps_its_order() -> None:
    uniform = np.random.default_rng(0).uniform(-1, 1, size=(5000, 1))
    targets = gaussianized_targets(uniform)[:, 0]
    assert targets.dtype == np.float32
    assert abs(targets.mean()) < 0.02 and abs(targets.std() - 1.0) < 0.03
    assert np.array_equal(_ranks(targets), _ranks(uniform[:, 0]))


def test_categorical_factor_levels_share_one_target_each() -> None:
    levels = np.array([[0.0], [1.0]] * 50)                    # a 50/50 binary factor
    targets = gaussianized_targets(levels)[:, 0]
    assert sorted(set(np.round(targets, 5))) == pytest.approx([-0.67449, 0.67449], abs=1e-4)


def test_targets_refuse_an_empty_array() -> None:
    with pytest.raises(SupervisionError, match="non-empty"):
        gaussianized_targets(np.zeros((0, 3)))


def test_labeled_mask_takes_the_asked_share_fixed_by_seed() -> None:
    mask = labeled_mask(1000, 0.1, seed=3)
    assert mask.sum() == 100
    assert np.array_equal(mask, labeled_mask(1000, 0.1, seed=3))
    assert not np.array_equal(mask, labeled_mask(1000, 0.1, seed=4))
    assert labeled_mask(10, 1.0, seed=0).all() and not labeled_mask(10, 0.0, seed=0).any()
    with pytest.raises(SupervisionError, match="between 0 and 1"):
        labeled_mask(10, 1.5, seed=0)


def test_refusals_name_the_problem() -> None:
    with pytest.raises(SupervisionError, match="only synthetic data has.*'/photos'"):
        check_supervisable(0, 16, "/photos")
    with pytest.raises(SupervisionError, match="at least 16"):
        check_supervisable(16, 8, "synthetic")
    with pytest.raises(SupervisionError, match="horizontal flips"):
        check_supervisable(16, 16, "synthetic", hflip=True)
    check_supervisable(16, 20, "synthetic")                   # enough dims, no flips: fine


def test_alignment_loss_counts_only_labeled_rows_and_supervised_dims() -> None:
    targets = torch.tensor([[1.0, -1.0], [0.5, 0.5]])
    mean = torch.tensor([[1.0, -1.0, 7.0], [0.5, 0.5, -3.0]])   # the free third dim is not supervised
    both = torch.tensor([True, True])
    assert factor_alignment_loss(mean, targets, both).item() == 0.0
    off = mean.clone()
    off[0, 0] += 2.0                                              # squared error 4 on a labeled row
    assert factor_alignment_loss(off, targets, both).item() == pytest.approx(4.0 / 2)
    assert factor_alignment_loss(off, targets, torch.tensor([False, True])).item() == 0.0


def test_config_refuses_a_negative_weight_and_a_fraction_above_one() -> None:
    config = tiny_config("runs", factor_supervision=-1.0)
    with pytest.raises(ConfigError, match="factor_supervision"):
        config.validate()
    with pytest.raises(ConfigError, match="label_fraction"):
        tiny_config("runs", label_fraction=2.0).validate()


def test_a_run_on_data_without_factors_is_refused(tmp_path: Path) -> None:
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    photos = FaceDataset(train=images, test=images[:2], source="/photos")
    config = tiny_config(tmp_path / "runs", factor_supervision=1.0)
    config.model.latent_dim = 16
    with pytest.raises(SupervisionError, match="'/photos' has none"):
        train(config, dataset=photos)


def _factor_correlation(checkpoint: Path) -> float:
    """Mean |rank correlation| between latent dim k and factor k on the test split."""
    loaded = load_checkpoint(checkpoint)
    data = load_dataset(loaded.config.data)
    means, _ = encode_images(loaded.model, data.test, device="cpu")
    means = np.asarray(means)
    factors = data.test_factors
    values = [abs(np.corrcoef(_ranks(means[:, k]), _ranks(factors[:, k]))[0, 1]) for k in range(factors.shape[1])]
    return float(np.nanmean(values))


@pytest.mark.slow
def test_supervision_ties_each_latent_dim_to_its_factor(tmp_path: Path) -> None:
    correlations = {}
    for weight in (0.0, 5.0):
        config = tiny_config(tmp_path / "runs", cache_dir=tmp_path / "cache", run_name=f"w{weight}",
                             factor_supervision=weight, epochs=4, final_eval=False)
        config.model.latent_dim = 16
        result = train(config)
        assert result.status == "completed", result.message
        correlations[weight] = _factor_correlation(result.best_checkpoint)
    assert correlations[5.0] > 0.3
    assert correlations[5.0] > 2 * correlations[0.0]
