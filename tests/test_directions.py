"""Closed-form (SeFa) directions, conditional directions and variations (trainer.latent.directions / variations)."""
import numpy as np
import pytest
import torch

from trainer.latent.directions import (conditional_direction, decoder_first_layer, model_sefa_directions,
                                       sefa_directions)
from trainer.latent.sliders import SliderSpec, holding_fixed, sefa_sliders
from trainer.latent.stats import compute_latent_stats
from trainer.latent.variations import place_in_centre, variation_latents
from trainer.models.networks import build_model
from trainer.models.presets import preset_config


def _tiny_model(latent_fc: bool = False):
    torch.manual_seed(0)
    config = preset_config("default", image_size=32, base_channels=8, depth=3, latent_dim=4)
    config.latent_fc = latent_fc
    return build_model(config)


def _orthogonal_columns(rows: int, norms: list[float]) -> np.ndarray:
    """A weight (rows, D) whose columns are orthogonal with the given lengths, so W^T W = diag(norms^2)."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((rows, len(norms))))
    return q * np.asarray(norms)


# ---------------------------------------------------------------- SeFa

def test_sefa_of_a_known_first_layer_gives_the_axes_in_order_of_gain():
    model = _tiny_model()
    weight = _orthogonal_columns(model.from_latent.out_features, [1.0, 3.0, 0.5, 2.0])
    with torch.no_grad():
        model.from_latent.weight.copy_(torch.from_numpy(weight).float())
    sefa = model_sefa_directions(model)
    np.testing.assert_allclose(sefa.eigenvalues, [9.0, 4.0, 1.0, 0.25], rtol=1e-4)
    np.testing.assert_allclose(np.abs(sefa.directions), np.eye(4)[[1, 3, 0, 2]], atol=1e-5)
    assert (sefa.directions.max(axis=1) > 0).all()                     # signs fixed: largest entry positive
    assert "from_latent" in sefa.layer
    assert sefa.share(0) == pytest.approx(9.0 / 14.25, rel=1e-4)


def test_sefa_directions_are_orthonormal_and_k_limits_them():
    weight = np.random.default_rng(1).standard_normal((50, 6))
    sefa = sefa_directions(weight, k=3)
    assert sefa.directions.shape == (3, 6)
    np.testing.assert_allclose(sefa.directions @ sefa.directions.T, np.eye(3), atol=1e-5)
    assert list(sefa.eigenvalues) == sorted(sefa.eigenvalues, reverse=True)
    with pytest.raises(ValueError, match="weight matrix"):
        sefa_directions(np.zeros(5))


def test_first_layer_is_latent_fc_when_the_model_has_one():
    model = _tiny_model(latent_fc=True)
    weight, layer = decoder_first_layer(model)
    assert weight.shape == (4, 4) and layer.startswith("latent_fc")
    np.testing.assert_array_equal(weight, model.latent_fc[0].weight.detach().numpy())


def test_a_transposed_conv_first_layer_is_flattened_per_latent_dim():
    model = torch.nn.Module()
    model.from_latent = torch.nn.ConvTranspose2d(3, 5, 4)             # z as a 1x1 image with 3 channels
    weight, layer = decoder_first_layer(model)
    assert weight.shape == (5 * 4 * 4, 3) and "ConvTranspose2d" in layer
    z = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)
    with torch.no_grad():
        response = model.from_latent(z) - model.from_latent(torch.zeros_like(z))
    np.testing.assert_allclose(weight[:, 1], response.flatten().numpy(), atol=1e-6)


def test_sefa_sliders_range_from_the_data_and_move_along_their_direction():
    rng = np.random.default_rng(2)
    means = rng.standard_normal((300, 4)) * np.array([2.0, 1.0, 0.5, 0.1])
    stats = compute_latent_stats(means)
    sefa = sefa_directions(np.diag([1.0, 4.0, 2.0, 3.0]))             # order: dims 1, 3, 2, 0
    specs = sefa_sliders(sefa, stats, k=2)
    assert [s.label for s in specs] == ["SeFa 1", "SeFa 2"]
    assert specs[0].high == pytest.approx(3 * stats.std[1], rel=1e-4)
    z = np.zeros(4, np.float32)
    moved = specs[0].moved(z, 0.7)
    assert specs[0].value(moved) == pytest.approx(0.7, abs=1e-5)
    np.testing.assert_allclose(np.delete(moved - stats.mean, 1), np.delete(z - stats.mean, 1), atol=1e-5)
    assert sefa_sliders(sefa, None, k=4)[0].high == pytest.approx(3.0)


# ---------------------------------------------------------------- conditional directions

def test_conditional_direction_is_unit_and_orthogonal_to_the_held_ones():
    rng = np.random.default_rng(3)
    direction, held = rng.standard_normal(8), [rng.standard_normal(8) * 5, rng.standard_normal(8)]
    result = conditional_direction(direction, held)
    assert result.dtype == np.float32
    assert np.linalg.norm(result) == pytest.approx(1.0, abs=1e-6)
    for h in held:
        assert abs(float(result @ h)) < 1e-5
    assert float(result @ direction) > 0                              # still points the same way


def test_conditional_direction_ignores_repeated_held_directions_and_rejects_a_held_one():
    direction = np.array([1.0, 1.0, 0.0])
    held = np.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(conditional_direction(direction, [held, 2 * held]), [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(conditional_direction(direction, []), direction / np.sqrt(2), atol=1e-6)
    with pytest.raises(ValueError, match="nothing is left"):
        conditional_direction(3 * held, [held])
    with pytest.raises(ValueError, match="values"):
        conditional_direction(direction, [np.ones(4)])


def test_holding_a_slider_fixed_keeps_its_value_while_others_move():
    d = 3
    origin = np.zeros(d, np.float32)
    smile = SliderSpec("factor:smile", "smile", np.array([1, 0, 0], np.float32), origin, -1, 1)
    age = SliderSpec("factor:age", "age", np.array([0.6, 0.8, 0], np.float32), origin, -1, 1)
    again = SliderSpec("custom:smile2", "smile 2", np.array([2, 0, 0], np.float32), origin, -1, 1)
    held = holding_fixed([smile, age, again], smile)
    assert held[0] is smile
    z = np.array([0.3, -0.2, 0.5], np.float32)
    moved = held[1].moved(z, 0.9)
    assert smile.value(moved) == pytest.approx(smile.value(z), abs=1e-6)
    assert held[1].value(moved) == pytest.approx(0.9, abs=1e-6)
    assert "smile held fixed" in held[1].detail
    assert not held[2].active and "parallel" in held[2].detail


# ---------------------------------------------------------------- variations

def test_variations_count_centre_strength_and_seed():
    z = np.array([1.0, -2.0, 0.5], np.float32)
    scale = np.array([1.0, 0.5, 0.0])
    many = variation_latents(z, 4000, 0.8, np.random.default_rng(0), scale=scale)
    assert many.shape == (4000, 3) and many.dtype == np.float32
    np.testing.assert_allclose(many.mean(axis=0), z, atol=0.05)
    np.testing.assert_allclose(many.std(axis=0), 0.8 * scale, atol=0.03)
    np.testing.assert_array_equal(variation_latents(z, 5, 0.0, np.random.default_rng(1)), np.tile(z, (5, 1)))
    first = variation_latents(z, 8, 0.5, np.random.default_rng(7))
    np.testing.assert_array_equal(first, variation_latents(z, 8, 0.5, np.random.default_rng(7)))
    assert not np.array_equal(first, variation_latents(z, 8, 0.5, np.random.default_rng(8)))
    with pytest.raises(ValueError, match="strength"):
        variation_latents(z, 3, -1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="scale"):
        variation_latents(z, 3, 1.0, np.random.default_rng(0), scale=np.ones(2))


@pytest.mark.parametrize("side, centre", [(3, 4), (4, 5), (5, 12)])
def test_grid_puts_the_current_face_in_the_middle(side, centre):
    z = np.full(2, 9.0, np.float32)
    steps = np.zeros((side * side - 1, 2), np.float32)
    latents, index = place_in_centre(z, steps, side)
    assert index == centre and len(latents) == side * side
    np.testing.assert_array_equal(latents[index], z)
    assert (latents[np.arange(len(latents)) != index] == 0).all()
    with pytest.raises(ValueError, match="needs"):
        place_in_centre(z, steps[:-1], side)


def test_a_saved_state_keeps_the_sefa_slider_mode(tmp_path):
    from trainer.latent.explorer_state import ExplorerSnapshot, load_explorer_state, save_explorer_state

    path = tmp_path / "state.json"
    save_explorer_state(path, ExplorerSnapshot("model.pt", "abc", np.zeros(4, np.float32), slider_mode="sefa"))
    assert load_explorer_state(path).slider_mode == "sefa"
