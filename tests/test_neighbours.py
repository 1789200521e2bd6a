"""trainer.latent.neighbours: the nearest training faces equal a brute-force search, in pixels and in latents."""
import numpy as np
import pytest
import torch

from trainer.errors import Cancelled
from trainer.latent.prepared import LatentData
from trainer.latent.neighbours import (NearestFaces, block_factor, build_training_index,
                                       training_file_names)


def smooth_faces(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 3, size, size) smooth random images with a little pixel noise: face-like spectra."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randint(0, 256, (n, 3, 4, 4), generator=g).float()
    images = torch.nn.functional.interpolate(low, size=size, mode="bilinear", align_corners=False)
    return images.add_(torch.randn(n, 3, size, size, generator=g) * 8).clamp_(0, 255).to(torch.uint8)


def brute_force_rms(train: torch.Tensor, query: torch.Tensor) -> np.ndarray:
    return ((train.double() / 255 - query.double() / 255) ** 2).mean(dim=(1, 2, 3)).sqrt().numpy()


def hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()


def test_pixel_query_equals_brute_force_exactly():
    train, queries = smooth_faces(600), smooth_faces(12, seed=1)
    index = NearestFaces.build(train)
    for query in queries:
        found = index.query_pixels(hwc(query), k=5)
        reference = brute_force_rms(train, query)
        expected = np.argsort(reference, kind="stable")[:5]
        assert found.exact
        np.testing.assert_array_equal(found.indices, expected)
        np.testing.assert_allclose(found.distances, reference[expected], atol=1e-5)


def test_both_reduced_distances_are_lower_bounds_of_the_exact_one():
    train, query = smooth_faces(400), smooth_faces(1, seed=2)[0]
    index = NearestFaces.build(train)
    assert index.basis is not None and index.coarse.shape == (400, 128)     # 768 block means -> 128 components
    from trainer.latent.neighbours import _reduce
    reduced = _reduce(query[None], index.factor) - index.centre
    coarse = index._coarse_d2(reduced)[0].sqrt().numpy()
    fine = (index.reduced - reduced).square().sum(1).sqrt().numpy()
    assert np.all(coarse <= fine + 1e-5)
    assert np.all(fine <= brute_force_rms(train, query) + 1e-5)


def test_reduced_search_alone_finds_a_noisy_copy():
    """The easy case with no re-ranking at all: a training image plus noise is found first by its block means."""
    train = smooth_faces(500)
    index = NearestFaces.build(train)
    noisy = (train[123].float() + torch.randn(train[123].shape) * 10).clamp(0, 255).to(torch.uint8)
    found = index.query_pixels(hwc(noisy), k=1, max_rerank=1)
    assert found.indices[0] == 123
    assert found.distances[0] == pytest.approx(brute_force_rms(train[123:124], noisy)[0], abs=1e-5)


def test_giving_up_early_says_the_answer_may_not_be_exact():
    """Pure noise images defeat the block-mean bound: with few candidates allowed the query says so."""
    noise = torch.randint(0, 256, (400, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    index = NearestFaces.build(noise[1:])
    assert not index.query_pixels(noise[0], k=3, max_rerank=4).exact
    exact = index.query_pixels(noise[0], k=3, max_rerank=len(index))
    assert exact.exact
    np.testing.assert_array_equal(exact.indices, np.argsort(brute_force_rms(noise[1:], noise[0]))[:3])


def test_many_queries_match_one_at_a_time():
    train, queries = smooth_faces(300), smooth_faces(20, seed=4)
    index = NearestFaces.build(train)
    nearest, distances, exact = index.nearest_in_pixels(queries, chunk=7)
    assert exact.all()
    for row, query in enumerate(queries):
        reference = brute_force_rms(train, query)
        assert nearest[row] == int(np.argmin(reference))
        assert distances[row] == pytest.approx(reference.min(), abs=1e-5)


def test_latent_query_equals_brute_force():
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((1000, 16)).astype(np.float32)
    index = NearestFaces.build(smooth_faces(1000, size=16), latents)
    z = rng.standard_normal(16).astype(np.float32)
    found = index.query_latent(z, k=6)
    reference = np.linalg.norm(latents - z, axis=1)
    np.testing.assert_array_equal(found.indices, np.argsort(reference)[:6])
    np.testing.assert_allclose(found.distances, np.sort(reference)[:6], rtol=1e-4)
    with pytest.raises(ValueError, match="16"):
        index.query_latent(np.zeros(5, np.float32))


def test_block_factor_never_overlaps_blocks():
    assert block_factor(64) == 4 and block_factor(32) == 2 and block_factor(16) == 1
    assert 28 % block_factor(28) == 0 and 28 // block_factor(28) <= 16


def test_wrong_query_size_is_a_clear_error():
    index = NearestFaces.build(smooth_faces(10))
    with pytest.raises(ValueError, match="training images are"):
        index.query_pixels(np.zeros((16, 16, 3), np.uint8))


def test_build_reports_progress_and_can_be_cancelled():
    train = smooth_faces(50)
    seen = []
    NearestFaces.build(train, progress=lambda done, total, what: seen.append((done, total)))
    assert seen[-1] == (50, 50)
    with pytest.raises(Cancelled):
        NearestFaces.build(train, should_stop=lambda: True)


def test_index_of_the_explorer_data_encodes_every_training_image(tiny_checkpoint):
    from trainer.training.checkpoint import load_checkpoint
    from trainer.latent.prepared import prepare_latents

    checkpoint = load_checkpoint(tiny_checkpoint)
    data = prepare_latents(checkpoint, compute_stats=False, max_train=20).data
    assert isinstance(data, LatentData) and len(data.codes.images("train")) == 128
    encoded = data.codes.encoded                      # the test images and 20 training images
    index = build_training_index(data.codes)
    assert len(index) == 128 and index.has_latents
    assert data.codes.encoded == encoded + 108        # the 20 already encoded are reused
    np.testing.assert_allclose(index.latents.numpy()[data.train_picks], data.train_latents, atol=1e-5)
    z = index.latents.numpy()[17]
    assert index.query_latent(z, k=1).indices[0] == 17
    assert index.name(17) == "training image #18"


def test_file_names_follow_the_folder_split(tmp_path):
    from PIL import Image
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    for name in ("x.png", "y.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / "train" / name)
    Image.new("RGB", (8, 8)).save(tmp_path / "test" / "z.png")
    assert training_file_names(str(tmp_path), 0.1, 2, 1) == ["train/x.png", "train/y.png"]
    assert training_file_names(str(tmp_path), 0.1, 5, 1) is None       # the folder changed since it was cached
    assert training_file_names("synthetic", 0.1, 2, 1) is None


# ---------------------------------------------------------------- the explorer's strip (Qt)

def strip_on_checkpoint(qtbot, path):
    """A shown strip (with its live decoder) over an explorer state that has the checkpoint at `path` open."""
    from trainer.latent.codec import prepare_for_inference
    from trainer.training.checkpoint import load_checkpoint
    from vae_gui.explorer.live_decoder import LiveDecoder
    from vae_gui.explorer.neighbours_strip import NeighboursStrip
    from vae_gui.explorer.state import ExplorerState

    state = ExplorerState()
    strip = NeighboursStrip(state, LiveDecoder(state))
    qtbot.addWidget(strip)
    strip.show()
    checkpoint = load_checkpoint(path)
    prepare_for_inference(checkpoint.model)
    state.set_checkpoint(checkpoint)
    return state, strip, checkpoint


def test_strip_shows_k_thumbnails_and_a_click_makes_that_face_current(qtbot, tiny_checkpoint):
    from trainer.latent.prepared import prepare_latents
    from vae_gui.explorer.neighbours_strip import K

    state, strip, checkpoint = strip_on_checkpoint(qtbot, tiny_checkpoint)
    strip.set_space("both")
    state.set_data(prepare_latents(checkpoint, compute_stats=False).data)
    qtbot.waitUntil(lambda: strip.ready and strip.query_count >= 1, timeout=60_000)
    for row in strip.rows.values():
        qtbot.waitUntil(lambda: len(row.indices) == K, timeout=10_000)
        assert all(not b.face().isNull() and b.accessibleName() and b.isEnabled() for b in row.buttons)
        assert "training image #" in row.buttons[0].toolTip()

    picked = strip.rows["pixels"].indices[3]
    queries = strip.query_count
    strip.rows["pixels"].buttons[3].click()
    np.testing.assert_allclose(state.z, strip.index.latents[picked].numpy())
    qtbot.waitUntil(lambda: strip.query_count > queries and strip.rows["latent"].indices[:1] == [picked],
                    timeout=10_000)
    assert strip.rows["latent"].buttons[0].accessibleName() == "0.00"       # the code's own training face, at distance 0

    before = list(strip.rows["latent"].indices)
    queries = strip.query_count
    state.set_z(np.full(state.latent_dim, 3.0, np.float32))           # far away: other neighbours
    qtbot.waitUntil(lambda: strip.query_count > queries and strip.rows["latent"].indices != before, timeout=10_000)

    strip.enabled.setChecked(False)                                  # hidden: no rows, no more queries
    assert not any(row.isVisible() for row in strip.rows.values())
    queries = strip.query_count
    state.set_z(np.zeros(state.latent_dim, np.float32))
    qtbot.wait(200)
    assert strip.query_count == queries
    strip.shutdown()


def test_strip_says_why_without_training_images(qtbot, tiny_checkpoint):
    state, strip, _ = strip_on_checkpoint(qtbot, tiny_checkpoint)
    state.set_data(LatentData(train_latents=np.zeros((3, state.latent_dim), np.float32), data_error="folder gone"))
    assert "not available (folder gone)" in strip.note.text() and strip.note.isVisible()
    assert not strip.ready and not any(row.isVisible() for row in strip.rows.values())
    strip.shutdown()
