"""Latent tools: interpolation, directions, statistics (and their checkpoint round-trip), encoding and decoding."""

import numpy as np
import pytest
import torch
from torch import nn

from trainer.latent.codec import decode_latents, encode_images
from trainer.latent.directions import attribute_direction, axis_direction
from trainer.latent.grids import image_grid
from trainer.latent.paths import lerp, slerp, traversal
from trainer.latent.stats import LatentStats, LatentStatsError, compute_latent_stats
from trainer.models.losses import kl_per_dimension


class TinyModel(nn.Module):
    """The FaceModel interface on 4x4 images with linear maps; records the mode it was called in."""

    def __init__(self, latent_dim: int = 3, variational: bool = True, channels: int = 3):
        super().__init__()
        self.latent_dim = latent_dim
        self.is_variational = variational
        self.channels = channels
        pixels = channels * 4 * 4
        self.to_latent = nn.Linear(pixels, latent_dim * (2 if variational else 1))
        self.from_latent = nn.Linear(latent_dim, pixels)
        self.modes_seen: list[bool] = []

    def encode(self, x):
        self.modes_seen.append(self.training)
        params = self.to_latent(x.flatten(1))
        if self.is_variational:
            mean, logvar = params.chunk(2, dim=1)
            return mean, logvar
        return params, None

    def decode_logits(self, z):
        self.modes_seen.append(self.training)
        return self.from_latent(z).view(-1, self.channels, 4, 4)

    def decode(self, z):
        return torch.sigmoid(self.decode_logits(z))


def _images(n: int, channels: int = 3) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------- interpolation and directions

def test_lerp_has_exact_endpoints_and_midpoint():
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    path = lerp(z0, z1, 5)
    assert path.shape == (5, 5) and path.dtype == np.float32
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[-1], z1)
    np.testing.assert_allclose(path[2], (z0 + z1) / 2, atol=1e-6)


def test_slerp_keeps_norm_of_equal_norm_endpoints():
    rng = np.random.default_rng(1)
    z0, z1 = rng.standard_normal(8), rng.standard_normal(8)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    path = slerp(z0, z1, 7)
    np.testing.assert_array_equal(path[0], z0)          # float64 inputs stay float64, so exactly equal
    np.testing.assert_array_equal(path[-1], z1)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-9)
    # The midpoint lies on the bisector, at the endpoints' norm: longer than lerp's midpoint.
    bisector = (z0 + z1) / np.linalg.norm(z0 + z1)
    np.testing.assert_allclose(path[3], bisector * np.linalg.norm(z0), atol=1e-9)


def test_slerp_falls_back_to_lerp_for_parallel_or_zero_vectors():
    z0 = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_allclose(slerp(z0, 2 * z0, 3), lerp(z0, 2 * z0, 3))
    np.testing.assert_allclose(slerp(np.zeros(3, np.float32), z0, 3), lerp(np.zeros(3, np.float32), z0, 3))


def test_interpolation_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 steps"):
        lerp(np.zeros(3), np.ones(3), 1)
    with pytest.raises(ValueError, match="same shape"):
        slerp(np.zeros(3), np.ones(4), 5)


def test_traversal_changes_only_the_component_along_the_direction():
    rng = np.random.default_rng(2)
    z, direction = rng.standard_normal(6), rng.standard_normal(6) * 3     # not unit length on purpose
    unit = direction / np.linalg.norm(direction)
    values = np.array([-2.0, 0.0, 1.5])
    rows = traversal(z, direction, values)
    assert rows.shape == (3, 6)
    np.testing.assert_allclose(rows @ unit, values, atol=1e-5)
    orthogonal = rows - np.outer(rows @ unit, unit)
    np.testing.assert_allclose(orthogonal, np.broadcast_to(z - (z @ unit) * unit, (3, 6)), atol=1e-5)
    with pytest.raises(ValueError, match="non-zero"):
        traversal(z, np.zeros(6), values)


def test_axis_direction():
    np.testing.assert_array_equal(axis_direction(2, 4), [0, 0, 1, 0])
    with pytest.raises(IndexError, match="4 dimensions"):
        axis_direction(4, 4)


def test_attribute_direction_recovers_the_shift_between_two_clouds():
    rng = np.random.default_rng(3)
    shift = np.array([2.0, -1.0, 0.5, 0.0])
    group_a = rng.standard_normal((2000, 4))
    group_b = rng.standard_normal((3000, 4)) + shift
    np.testing.assert_allclose(attribute_direction(group_a, group_b), shift, atol=0.1)


# ---------------------------------------------------------------- statistics

def _stats_with_everything(monkeypatch) -> LatentStats:
    rng = np.random.default_rng(4)
    factors = rng.uniform(0, 1, (300, 2))
    means = np.c_[factors @ [[2.0, 0.0, 0.5], [0.0, 1.0, 0.5]], rng.standard_normal(300) * 0.01]
    logvars = rng.uniform(-2, 0, means.shape)
    return compute_latent_stats(means, logvars, factors=factors, factor_names=["size", "tone"],
                                categorical=[False, False])


def test_stats_round_trip_through_a_weights_only_checkpoint(tmp_path, monkeypatch):
    stats = _stats_with_everything(monkeypatch)
    assert stats.dim_factors is not None and stats.factor_directions is not None
    torch.save({"latent_stats": stats.to_dict()}, tmp_path / "ck.pt")
    loaded = LatentStats.from_dict(torch.load(tmp_path / "ck.pt", weights_only=True)["latent_stats"])
    for field in ("mean", "std", "kl_per_dim", "active", "pca_components", "pca_variance"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(stats, field))
    assert loaded.active.dtype == bool
    assert loaded.dim_factors == stats.dim_factors
    assert loaded.dim_labels == stats.dim_labels
    assert [loaded.dim_factors[d][0] for d in (0, 1)] == ["size", "tone"]
    assert loaded.dim_labels.significant == [True, True, True, False] and loaded.dim_labels.n_images == 300
    assert loaded.factor_directions.keys() == stats.factor_directions.keys()
    for name, direction in stats.factor_directions.items():
        np.testing.assert_array_equal(loaded.factor_directions[name], direction)
    assert loaded.factor_spans == pytest.approx(stats.factor_spans)
    assert loaded.n_samples == 300


def test_stats_from_dict_names_a_missing_field():
    d = compute_latent_stats(np.random.default_rng(0).standard_normal((10, 2))).to_dict()
    del d["std"]
    with pytest.raises(LatentStatsError, match="'std'"):
        LatentStats.from_dict(d)


def test_basic_stats_kl_and_active_mask():
    rng = np.random.default_rng(5)
    means = rng.standard_normal((4000, 3)) * [1.0, 0.3, 0.05] + [0.0, 2.0, -1.0]
    logvars = rng.uniform(-3, 0, means.shape)
    stats = compute_latent_stats(means, logvars)
    np.testing.assert_allclose(stats.mean, [0.0, 2.0, -1.0], atol=0.05)
    np.testing.assert_allclose(stats.std, [1.0, 0.3, 0.05], rtol=0.05)
    expected_kl = kl_per_dimension(torch.from_numpy(means), torch.from_numpy(logvars)).mean(0).numpy()
    np.testing.assert_allclose(stats.kl_per_dim, expected_kl, rtol=1e-5)
    np.testing.assert_array_equal(stats.active, expected_kl >= 0.01)     # a VAE: by KL, whatever the spread
    ae = compute_latent_stats(means)
    assert ae.kl_per_dim is None
    np.testing.assert_array_equal(ae.active, [True, True, False])       # an AE: var 0.0025 < 0.01


def test_slider_range_uses_mean_and_std_with_a_floor():
    stats = compute_latent_stats(np.c_[np.arange(10.0), np.full(10, 4.0)])
    low, high = stats.slider_range(0, spread=2.0)
    assert (low + high) / 2 == pytest.approx(4.5)
    assert high - low == pytest.approx(4 * np.std(np.arange(10.0)))
    low, high = stats.slider_range(1)          # a collapsed dim still gets a usable range around its mean
    assert low < 4.0 < high and high - low > 0.1


def test_ranked_dims_orders_by_kl_then_std():
    rng = np.random.default_rng(6)
    means = rng.standard_normal((500, 4)) * [0.1, 3.0, 1.0, 2.0]
    logvars = np.log(np.full((500, 4), [0.01, 1.0, 0.5, 1.0]))     # KL differs from the spread order
    stats = compute_latent_stats(means, logvars)
    np.testing.assert_array_equal(stats.ranked_dims("kl"), np.argsort(-stats.kl_per_dim))
    np.testing.assert_array_equal(stats.ranked_dims("std"), [1, 3, 2, 0])
    np.testing.assert_array_equal(compute_latent_stats(means).ranked_dims("kl"), [1, 3, 2, 0])   # AE: by std
    with pytest.raises(ValueError, match="unknown ranking"):
        stats.ranked_dims("alphabet")


def test_pca_finds_the_stretched_direction():
    rng = np.random.default_rng(7)
    axis = np.array([1.0, 1.0, 0.0, 0.0]) / np.sqrt(2)
    means = rng.standard_normal((3000, 4)) * 0.1 + np.outer(rng.standard_normal(3000) * 2.0, axis)
    stats = compute_latent_stats(means)
    assert stats.pca_components.shape == (4, 4) and stats.pca_variance.shape == (4,)
    np.testing.assert_allclose(np.linalg.norm(stats.pca_components, axis=1), 1.0, rtol=1e-5)
    assert abs(stats.pca_components[0] @ axis) > 0.999
    assert stats.pca_variance[0] == pytest.approx(4.0, rel=0.1)
    assert np.all(np.diff(stats.pca_variance) <= 0)


def _mixed_latents(n: int = 4000):
    """Latents z = A f + noise with a non-orthogonal mix A, plus one collapsed (near-constant) dim."""
    rng = np.random.default_rng(8)
    factors = np.c_[rng.uniform(0, 1, n), rng.uniform(-1, 1, n), rng.integers(0, 2, n)]
    mix = np.array([[1.0, 0.8, 0.0], [0.0, 1.0, 0.5], [0.3, 0.0, 1.0], [0.5, 0.5, 0.5]])   # (D=4, F=3)
    latents = factors @ mix.T + rng.standard_normal((n, 4)) * 0.05
    latents = np.c_[latents, rng.standard_normal(n) * 1e-4]
    return latents, factors, np.r_[mix, np.zeros((1, 3))]


def test_factor_directions_follow_and_steer_their_factor():
    latents, factors, mix = _mixed_latents()
    stats = compute_latent_stats(latents, factors=factors, factor_names=["a", "b", "glasses"],
                                 categorical=[False, False, True])
    readout = np.linalg.pinv(mix)              # recovers the factors from a latent
    for k, name in enumerate(["a", "b", "glasses"]):
        direction = stats.factor_directions[name]
        assert np.linalg.norm(direction) == pytest.approx(1.0, rel=1e-5)
        assert abs(direction[4]) < 0.01                    # the collapsed dim plays no part
        projection = latents @ direction
        assert np.corrcoef(projection, factors[:, k])[0, 1] > 0.5
        # Stepping along the direction by the factor's span moves that factor across its range, no other factor.
        change = readout @ (direction * stats.factor_spans[name])
        value_range = np.ptp(factors[:, k])
        assert change[k] == pytest.approx(value_range, rel=0.05)
        assert np.all(np.abs(np.delete(change, k)) < 0.05 * value_range)


def test_constant_factor_gets_no_direction():
    rng = np.random.default_rng(9)
    factors = np.c_[rng.uniform(size=100), np.ones(100)]
    stats = compute_latent_stats(np.c_[factors[:, 0], rng.standard_normal(100)], factors=factors,
                                 factor_names=["varies", "constant"])
    assert set(stats.factor_directions) == {"varies"}


def test_compute_latent_stats_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        compute_latent_stats(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        compute_latent_stats(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="factor names"):
        compute_latent_stats(np.zeros((4, 2)), factors=np.zeros((4, 2)), factor_names=["only_one"])


# ---------------------------------------------------------------- encoding, decoding, grids

@pytest.mark.parametrize("variational", [True, False])
def test_encode_images_batches_in_eval_mode_and_restores_training(variational):
    torch.manual_seed(0)
    model = TinyModel(latent_dim=3, variational=variational).train()
    images = _images(10)
    means, logvars = encode_images(model, images, batch_size=4)
    assert means.shape == (10, 3) and means.dtype == np.float32
    assert (logvars is not None) == variational and (logvars is None or logvars.shape == (10, 3))
    assert model.modes_seen == [False, False, False]       # three batches, all in eval mode
    assert model.training
    expected, _ = model.encode(images.float() / 255)
    np.testing.assert_allclose(means, expected.detach().numpy(), atol=1e-6)


def test_decode_latents_gives_uint8_rgb_images():
    torch.manual_seed(0)
    model = TinyModel(latent_dim=3).train()
    z = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    images = decode_latents(model, z, batch_size=2, exact=True)
    assert images.shape == (5, 4, 4, 3) and images.dtype == np.uint8
    expected = torch.sigmoid(model.from_latent(torch.from_numpy(z))).view(5, 3, 4, 4).permute(0, 2, 3, 1)
    np.testing.assert_allclose(images, expected.detach().numpy() * 255, atol=0.51)
    assert model.training and not any(model.modes_seen[:3])
    assert decode_latents(model, z[0]).shape == (1, 4, 4, 3)           # one latent (D,)


def test_decode_latents_repeats_a_grey_channel():
    model = TinyModel(latent_dim=2, channels=1)
    images = decode_latents(model, torch.zeros(2, 2))
    assert images.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(images[..., 0], images[..., 2])


def test_image_grid_shape_and_padding():
    images = np.zeros((5, 8, 6, 3), np.uint8)
    grid = image_grid(images, nrow=3, padding=2)
    assert grid.shape == (2 + 2 * (8 + 2), 2 + 3 * (6 + 2), 3) and grid.dtype == np.uint8
    assert grid[0, 0].tolist() == [255, 255, 255] and grid[2, 2].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="non-empty"):
        image_grid(np.zeros((0, 8, 8, 3), np.uint8), nrow=3)


def test_the_active_rule_is_worded_once_and_the_readme_says_it():
    """The README, the help and the report quote trainer.latent.stats.active_definition word for word."""
    import re
    from pathlib import Path

    from trainer.latent.stats import active_definition
    from trainer.study.report_tables import explanation

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    report = " ".join(explanation([]))
    for variational in (True, False):
        sentence = active_definition(variational)
        assert sentence in readme and sentence in report
        assert re.search(r"0\.01", sentence)
