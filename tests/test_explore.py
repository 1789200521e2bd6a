"""Qt-free explorer helpers (trainer.latent.*): decoding, slider directions, interpolation, exports, state files,
latent prep."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.training.checkpoint import load_checkpoint, read_checkpoint, update_checkpoint
from trainer.data.images import save_gif, save_png
from trainer.latent.codec import decode_latents, encode_images, hwc_to_nchw, prepare_for_inference, reconstruct
from trainer.latent.explorer_state import ExplorerSnapshot, ExplorerStateError, load_explorer_state, save_explorer_state
from trainer.latent.paths import interpolate, interpolation_path
from trainer.errors import Cancelled
from trainer.latent.prepared import prepare_latents, store_latent_stats
from trainer.latent.samplers import random_code_latent
from trainer.latent.sliders import axis_sliders, custom_slider, factor_sliders, pca_sliders, traversal_latents, visible_dims
from trainer.latent.stats import compute_latent_stats
from trainer.models.networks import build_model
from trainer.models.presets import preset_config


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    config = preset_config("default", image_size=32, base_channels=8, depth=3, latent_dim=6)
    return build_model(config).eval()


@pytest.fixture(scope="module")
def stats():
    rng = np.random.default_rng(0)
    means = rng.standard_normal((200, 6)) * np.array([2.0, 1.0, 0.5, 0.2, 0.01, 1.5]) + 0.3
    factors = np.stack([means[:, 0] + 0.1 * rng.standard_normal(200), rng.uniform(-1, 1, 200)], axis=1)
    return compute_latent_stats(means, means * 0 - 1.0, factors=factors, factor_names=["mouth_curve", "gaze_x"])


# ---------------------------------------------------------------- decoding

def test_decode_matches_one_batch_and_encode_round_trips(tiny_model):
    z = np.random.default_rng(1).standard_normal((20, 6)).astype(np.float32)
    faces = decode_latents(tiny_model, z)
    assert faces.shape == (20, 32, 32, 3) and faces.dtype == np.uint8
    with torch.no_grad():
        direct = (tiny_model.decode(torch.from_numpy(z)).clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    difference = np.abs(faces.astype(int) - direct.permute(0, 2, 3, 1).numpy().astype(int))
    # Faces may decode under bf16 autocast (CPUs with native bf16): a few levels off at most, ~0 on average.
    assert difference.max() <= 8 and difference.mean() < 1.0
    single = decode_latents(tiny_model, z[0])
    assert np.abs(single[0].astype(int) - direct[0].permute(1, 2, 0).numpy().astype(int)).max() <= 8
    exact = decode_latents(tiny_model, z, exact=True)                # metrics: fp32
    assert np.abs(exact.astype(int) - direct.permute(0, 2, 3, 1).numpy().astype(int)).max() <= 1
    means, logvars = encode_images(tiny_model, hwc_to_nchw(faces))
    assert means.shape == (20, 6) and logvars.shape == (20, 6)
    z0, reconstruction = reconstruct(tiny_model, faces[0])
    np.testing.assert_allclose(z0, means[0], atol=1e-5)
    assert reconstruction.shape == (32, 32, 3)


def test_channels_last_gives_the_same_faces(tiny_model):
    z = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    before = decode_latents(tiny_model, z)
    fast = build_model(tiny_model.config)
    fast.load_state_dict(tiny_model.state_dict())
    prepare_for_inference(fast)
    assert np.abs(decode_latents(fast, z).astype(int) - before.astype(int)).max() <= 1


# ---------------------------------------------------------------- sliders

def test_axis_slider_moves_its_dim_only(stats):
    specs = axis_sliders(stats, [0, 4], 6)
    z = np.random.default_rng(3).standard_normal(6).astype(np.float32)
    moved = specs[0].moved(z, 1.25)
    assert moved[0] == pytest.approx(1.25)
    np.testing.assert_array_equal(moved[1:], z[1:])
    assert specs[0].value(moved) == pytest.approx(1.25)
    assert (specs[0].low, specs[0].high) == pytest.approx(stats.slider_range(0))
    assert specs[0].kl == pytest.approx(float(stats.kl_per_dim[0]))
    # Active by the one definition (mean KL >= 0.01 nats), as the Train tab's KL chart counts.
    assert [s.active for s in specs] == [bool(stats.kl_per_dim[d] >= 0.01) for d in (0, 4)]


def test_axis_sliders_without_stats_span_plus_minus_three():
    spec = axis_sliders(None, [2], 6)[0]
    assert (spec.low, spec.high) == (-3.0, 3.0) and spec.kl is None


def test_visible_dims_all_up_to_32_else_top_k(stats):
    assert visible_dims(stats, 6, 2) == list(range(6))
    big = compute_latent_stats(np.random.default_rng(4).standard_normal((500, 40)) * 1.3 ** np.arange(40))
    assert visible_dims(big, 40, 3, "spread") == [39, 38, 37]


def test_pca_sliders_are_centred_on_the_mean(stats):
    specs = pca_sliders(stats, 3)
    assert [s.label for s in specs] == ["PC 1", "PC 2", "PC 3"]
    mean = np.asarray(stats.mean)
    assert specs[0].value(mean) == pytest.approx(0.0, abs=1e-5)
    assert specs[0].high == pytest.approx(3 * np.sqrt(stats.pca_variance[0]), rel=1e-5)
    moved = specs[0].moved(mean, 1.0)
    assert specs[0].value(moved) == pytest.approx(1.0, abs=1e-5)
    assert specs[1].value(moved) == pytest.approx(0.0, abs=1e-5)      # orthogonal directions stay put


def test_factor_sliders_use_friendly_labels(stats):
    specs = factor_sliders(stats)
    labels = {s.label: s for s in specs}
    assert "smile" in labels and labels["smile"].detail == "mouth_curve"
    assert np.linalg.norm(labels["smile"].direction) == pytest.approx(1.0, abs=1e-5)


def test_custom_slider_from_a_group_difference():
    spec = custom_slider("smile", np.array([3.0, 4.0, 0.0]), np.zeros(3))
    np.testing.assert_allclose(spec.direction, [0.6, 0.8, 0.0])
    assert spec.high == pytest.approx(7.5)
    with pytest.raises(ValueError, match="same mean"):
        custom_slider("none", np.zeros(3), np.zeros(3))


def test_traversal_walks_the_range(stats):
    spec = axis_sliders(stats, [1], 6)[0]
    z = np.zeros(6, np.float32)
    rows = traversal_latents(spec, z, 5)
    np.testing.assert_allclose(rows[:, 1], np.linspace(spec.low, spec.high, 5), rtol=1e-5)
    np.testing.assert_array_equal(np.delete(rows, 1, axis=1), 0)


def test_random_code_latent_follows_the_codes(stats):
    draws = np.stack([random_code_latent(stats, 6, np.random.default_rng(i)) for i in range(400)])
    np.testing.assert_allclose(draws.mean(0), stats.mean, atol=0.35)


# ---------------------------------------------------------------- interpolation

@pytest.mark.parametrize("kind", ["lerp", "slerp"])
def test_interpolation_endpoints_and_single_points_agree(kind):
    a, b = np.array([1.0, 0.0, 2.0], np.float32), np.array([0.0, 3.0, -1.0], np.float32)
    path = interpolation_path(a, b, 5, kind)
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    np.testing.assert_allclose(interpolate(a, b, 0.25, kind), path[1], atol=1e-5)
    np.testing.assert_allclose(interpolate(a, b, 1.0, kind), b, atol=1e-5)
    with pytest.raises(ValueError):
        interpolation_path(a, b, 5, "cubic")


def test_slerp_keeps_the_norm_of_equal_norm_endpoints():
    a, b = np.array([3.0, 0.0, 0.0]), np.array([0.0, 0.0, 3.0])
    assert np.linalg.norm(interpolate(a, b, 0.5, "slerp")) == pytest.approx(3.0, rel=1e-5)
    assert np.linalg.norm(interpolate(a, b, 0.5, "lerp")) < 3.0


# ---------------------------------------------------------------- exports

def test_save_gif_has_one_frame_per_image_and_loops(tmp_path):
    frames = np.stack([np.full((8, 8, 3), 30 * i, np.uint8) for i in range(5)])
    path = tmp_path / "anim.gif"
    save_gif(frames, path, frame_ms=50, scale=2)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.size == (16, 16) and gif.info.get("loop") == 0
    with pytest.raises(ValueError):
        save_gif(frames[:0], tmp_path / "empty.gif")


def test_save_png_enlarges_with_square_pixels(tmp_path):
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 0] = 255
    save_png(image, tmp_path / "x.png", scale=3)
    saved = np.asarray(Image.open(tmp_path / "x.png"))
    assert saved.shape == (6, 6, 3) and saved[:3, :3].min() == 255 and saved[3:, 3:].max() == 0


# ---------------------------------------------------------------- explorer state files

def test_state_file_round_trip(tmp_path):
    snapshot = ExplorerSnapshot("run/best.pt", "abc123", np.array([0.5, -1.25, 2.0], np.float32), "pca", [2, 0])
    path = tmp_path / "state.json"
    save_explorer_state(path, snapshot)
    loaded = load_explorer_state(path)
    np.testing.assert_array_equal(loaded.z, snapshot.z)
    assert (loaded.checkpoint_path, loaded.weights_hash, loaded.slider_mode, loaded.selected_dims) == \
        ("run/best.pt", "abc123", "pca", [2, 0])


@pytest.mark.parametrize("content, reason", [
    ("{ not json", "not a JSON file"),
    (json.dumps({"format": "other"}), "not a VAE Face Explorer state"),
    (json.dumps({"format": "vae-face-explorer-state", "version": 7, "z": [1.0]}), "version 7"),
    (json.dumps({"format": "vae-face-explorer-state", "version": 1, "z": [1.0, "x"]}), "finite numbers"),
    (json.dumps({"format": "vae-face-explorer-state", "version": 1, "z": [1.0], "slider_mode": "zigzag"}),
     "slider mode"),
])
def test_bad_state_files_name_file_and_reason(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ExplorerStateError, match=reason) as info:
        load_explorer_state(path)
    assert str(path) in str(info.value)


def test_missing_state_file(tmp_path):
    with pytest.raises(ExplorerStateError, match="cannot read"):
        load_explorer_state(tmp_path / "nope.json")


# ---------------------------------------------------------------- latents of a checkpoint's data

def test_prepare_latents_computes_and_stores_stats(tiny_checkpoint, tmp_path):
    import shutil
    copy = tmp_path / "copy.pt"
    shutil.copy(tiny_checkpoint, copy)
    update_checkpoint(copy, latent_stats=None)
    before = copy.read_bytes()
    checkpoint = load_checkpoint(copy)
    calls = []
    result = prepare_latents(checkpoint, compute_stats=True, progress=lambda *a: calls.append(a))
    assert result.stats is not None and result.stored and calls
    assert copy.read_bytes() == before, "opening a checkpoint in the explorer must not change the file"
    assert read_checkpoint(copy)["latent_stats"] is None
    assert load_checkpoint(copy).latent_stats["n_samples"] == result.stats.n_samples   # found again on the next load
    data = result.data
    assert data.train_latents.shape[1] == 6 and data.has_images
    assert len(data.test_images) == len(data.test_latents) and data.test_factors is not None


def test_prepare_latents_can_be_cancelled(tiny_checkpoint):
    with pytest.raises(Cancelled):
        prepare_latents(load_checkpoint(tiny_checkpoint), compute_stats=False, should_stop=lambda: True)


def test_stored_latent_stats_never_reach_a_file_with_other_weights(tiny_checkpoint, tiny_ae_checkpoint, tmp_path):
    import shutil
    copy = tmp_path / "replaced.pt"
    shutil.copy(tiny_checkpoint, copy)
    opened = load_checkpoint(copy)
    shutil.copy(tiny_ae_checkpoint, copy)                  # e.g. training wrote a newer best.pt meanwhile
    assert store_latent_stats(opened, {"mean": [0.0]})
    assert read_checkpoint(copy)["config"]["model"]["family"] == "ae"
    assert load_checkpoint(copy).latent_stats != {"mean": [0.0]}     # keyed by the content that was opened
