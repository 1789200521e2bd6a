"""Factor names beside latent dimensions only beyond chance (trainer.evaluation.association)."""
import numpy as np
import pytest

from trainer.evaluation.association import dim_labels, information_matrix
from trainer.latent.factor_information import _factor_codes, discretize, mutual_information_matrix
from trainer.latent.sliders import FACTOR_LABEL_MIN_SCORE, axis_sliders
from trainer.latent.stats import compute_latent_stats

NAMES = [f"factor_{k}" for k in range(16)]


def test_information_matrix_is_the_plug_in_estimate_of_every_pair():
    rng = np.random.default_rng(0)
    latents, factors = rng.normal(size=(300, 5)), rng.integers(0, 3, (300, 4)).astype(float)
    categorical = [True, True, False, False]
    expected = mutual_information_matrix(latents, factors, categorical=categorical)
    found = information_matrix(discretize(latents), _factor_codes(factors, 20, categorical))
    np.testing.assert_allclose(found, expected, atol=1e-12)


@pytest.mark.parametrize("n_images", [60, 200, 2000])
def test_random_latents_get_no_factor_names_at_any_test_set_size(n_images):
    rng = np.random.default_rng(n_images)
    latents, factors = rng.normal(size=(n_images, 16)), rng.uniform(size=(n_images, 16))
    stats = compute_latent_stats(latents, factors=factors, factor_names=NAMES)
    assert stats.dim_labels.n_images == n_images
    assert not any(stats.dim_labels.significant)
    assert [spec.detail for spec in axis_sliders(stats, list(range(16)), 16)] == [""] * 16


def test_a_factor_the_latent_encodes_is_named_and_noise_dims_are_not():
    rng = np.random.default_rng(1)
    factors = rng.uniform(size=(2000, 3))
    latents = np.c_[factors[:, [2, 0]] + 0.02 * rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))]
    found = dim_labels(latents, factors, ["a", "b", "c"])
    assert found.significant == [True, True, False, False]
    assert found.names[:2] == ["c", "a"]
    assert all(found.shown(d, FACTOR_LABEL_MIN_SCORE) for d in (0, 1))


def test_a_category_is_named_on_few_images_when_the_latent_separates_it():
    rng = np.random.default_rng(2)
    glasses = rng.integers(0, 2, 60).astype(float)
    latents = np.c_[glasses * 3 + 0.1 * rng.normal(size=60), rng.normal(size=60)]
    found = dim_labels(latents, glasses[:, None], ["glasses"], categorical=[True])
    assert found.significant == [True, False] and found.scores[0] > 0.5
