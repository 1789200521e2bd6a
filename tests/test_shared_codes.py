"""One encoding of the data set per checkpoint (trainer.latent.data_codes), shared by the explorer's background
encoding, the atlas and the nearest-faces strip; and the user's own directions as atlas colourings."""
import threading
from collections import Counter

import numpy as np
import pytest

from trainer.latent.atlas_data import atlas_data_from_codes, colour_values
from trainer.latent.codec import encode_images
from trainer.latent.data_codes import DataCodes
from trainer.latent.neighbours import build_training_index
from trainer.latent.prepared import prepare_latents
from trainer.models.networks import FaceModel
from trainer.training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint

WAIT_MS = 60_000
N_TEST, N_TRAIN = 32, 128          # the tiny checkpoint's synthetic data set (tests/conftest.py)


@pytest.fixture
def encoder_calls(monkeypatch):
    """Images encoded, per model object: every path to the encoder goes through FaceModel.encode."""
    counts = Counter()
    original = FaceModel.encode

    def counting(self, x):
        counts[id(self)] += len(x)
        return original(self, x)

    monkeypatch.setattr(FaceModel, "encode", counting)
    return counts


def changed_checkpoint(source, target):
    """A copy of `source` with other weights (as a run's next checkpoint): the same shape and data set."""
    payload = read_checkpoint(source)
    name = next(k for k in payload["model_state"] if k.startswith("to_latent.") and k.endswith("weight"))
    payload["model_state"][name] = payload["model_state"][name] * 1.5      # the encoder's last layer
    save_checkpoint(target, payload)
    return target


# ---------------------------------------------------------------- the core

def test_every_view_of_the_data_reuses_the_codes_encoded_before(tiny_checkpoint, encoder_calls):
    checkpoint = load_checkpoint(tiny_checkpoint)
    data = prepare_latents(checkpoint, compute_stats=False, max_train=20).data
    assert encoder_calls[id(checkpoint.model)] == N_TEST + 20
    index = build_training_index(data.codes)
    atlas = atlas_data_from_codes(data.codes)
    assert encoder_calls[id(checkpoint.model)] == N_TEST + N_TRAIN == data.codes.encoded     # each image once
    train = data.codes.images("train")
    expected, _ = encode_images(checkpoint.model, train)
    np.testing.assert_allclose(index.latents.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(atlas.latents[atlas.split == 1], expected[atlas.rows[atlas.split == 1]], atol=1e-5)
    np.testing.assert_allclose(data.train_latents, expected[data.train_picks], atol=1e-5)


def test_a_stopped_encoding_keeps_what_it_encoded(tiny_checkpoint):
    checkpoint = load_checkpoint(tiny_checkpoint)
    dataset = prepare_latents(checkpoint, compute_stats=False, max_train=1).data.codes.dataset
    codes = DataCodes(checkpoint.model, dataset)

    def stop_after_first_chunk(done):
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        codes.codes("train", np.tile(np.arange(N_TRAIN), 3), on_chunk=stop_after_first_chunk)   # 384 rows: 2 chunks
    assert codes.encoded == N_TRAIN      # the first chunk (256 rows) held every training image
    codes.codes("train")
    assert codes.encoded == N_TRAIN and codes.made_with(checkpoint.model) and not codes.made_with(None)
    with pytest.raises(ValueError, match="unknown split"):
        codes.images("validation")


def test_two_tasks_asking_at_once_encode_each_image_once(tiny_checkpoint, encoder_calls):
    checkpoint = load_checkpoint(tiny_checkpoint)
    dataset = prepare_latents(checkpoint, compute_stats=False, max_train=1).data.codes.dataset
    codes = DataCodes(checkpoint.model, dataset)
    before = encoder_calls[id(checkpoint.model)]
    results = []
    threads = [threading.Thread(target=lambda: results.append(codes.codes("train")[0])) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert encoder_calls[id(checkpoint.model)] - before == N_TRAIN
    np.testing.assert_array_equal(results[0], results[1])


# ---------------------------------------------------------------- the explorer

@pytest.fixture
def panel(explorer_panel):
    return explorer_panel


def open_with_atlas_and_strip(qtbot, panel, path):
    """Open a checkpoint with the Atlas tab shown and the strip on; wait until both are ready."""
    panel.tabs.setCurrentWidget(panel.atlas_tab)
    with qtbot.waitSignal(panel.atlas_tab.atlas_ready, timeout=WAIT_MS):
        assert panel.load_checkpoint(str(path))
    qtbot.waitUntil(lambda: panel.neighbours_strip.ready, timeout=WAIT_MS)


@pytest.mark.slow
def test_atlas_and_strip_share_one_encoding_and_a_new_checkpoint_re_encodes(qtbot, panel, tiny_checkpoint,
                                                                             tmp_path, encoder_calls):
    open_with_atlas_and_strip(qtbot, panel, tiny_checkpoint)
    first = panel.state.model
    assert encoder_calls[id(first)] == N_TEST + N_TRAIN          # the background encoding, atlas and strip: once
    assert len(panel.atlas_tab.data) == N_TEST + N_TRAIN and len(panel.neighbours_strip.index) == N_TRAIN

    open_with_atlas_and_strip(qtbot, panel, changed_checkpoint(tiny_checkpoint, tmp_path / "other.pt"))
    second = panel.state.model
    assert second is not first and encoder_calls[id(second)] == N_TEST + N_TRAIN
    assert encoder_calls[id(first)] == N_TEST + N_TRAIN          # nothing more from the old weights
    train = panel.state.codes.images("train")
    expected, _ = encode_images(second, train)
    old, _ = encode_images(first, train)
    assert np.abs(expected - old).max() > 1e-3                   # the new weights give other codes ...
    np.testing.assert_allclose(panel.neighbours_strip.index.latents.numpy(), expected, atol=1e-5)    # ... used
    atlas = panel.atlas_tab.data
    np.testing.assert_allclose(atlas.latents[atlas.split == 1], expected[atlas.rows[atlas.split == 1]], atol=1e-5)


def test_a_replaced_model_waits_for_its_own_codes(qtbot, panel, tiny_checkpoint, tmp_path):
    """A followed run's next checkpoint (ExplorerState.replace_model): the old weights' codes are not handed out."""
    open_with_atlas_and_strip(qtbot, panel, tiny_checkpoint)
    old_codes = panel.state.codes
    new = load_checkpoint(changed_checkpoint(tiny_checkpoint, tmp_path / "next.pt"))
    panel.state.replace_model(new, "next")
    assert panel.state.data.codes is old_codes and panel.state.codes is None


def test_your_directions_become_atlas_colourings(qtbot, panel, tiny_checkpoint):
    open_with_atlas_and_strip(qtbot, panel, tiny_checkpoint)
    atlas, directions = panel.atlas_tab, panel.directions_tab
    data = panel.state.data
    directions.add_to_group("A", data.test_latents[:4], data.test_images[:4])
    directions.add_to_group("B", data.test_latents[4:8], data.test_images[4:8])
    spec = directions.create_direction("smile")
    directions.add_to_group("A", data.test_latents[8:10], data.test_images[8:10])   # other groups, the same name:
    again = directions.create_direction("smile")                 # two directions, two colourings
    assert again.label == "smile (2)"
    keys = [atlas.colour.itemData(i) for i in range(atlas.colour.count())]
    assert "direction:custom:smile" in keys and "direction:custom:smile (2)" in keys
    assert atlas.colour.itemText(keys.index("direction:custom:smile")) == "Your direction: smile"

    atlas.colour.setCurrentIndex(atlas.colour.findData("direction:custom:smile"))
    values = atlas._colour_values.values
    np.testing.assert_allclose(values, spec.coordinates(atlas.data.latents), rtol=1e-5, atol=1e-5)
    unit = spec.direction / np.linalg.norm(spec.direction)
    np.testing.assert_allclose(values, (atlas.data.latents - spec.origin) @ unit, rtol=1e-4, atol=1e-4)
    panel.state.set_z(atlas.data.latents[5])                     # the slider shows the colour's value
    assert directions.custom_sliders.rows[0].spec.value(panel.state.z) == pytest.approx(float(values[5]), abs=1e-5)
    assert "Colour: along smile" in atlas.legend.text()

    directions.clear_custom()                                    # removed: the colouring goes, and the map with it
    keys = [atlas.colour.itemData(i) for i in range(atlas.colour.count())]
    assert not any(key.startswith("direction:custom:") for key in keys)
    assert atlas.colour.currentData() == "split" and "Colour: split" in atlas.legend.text()
    np.testing.assert_array_equal(colour_values(atlas.data, "split").values, atlas._colour_values.values)


def test_the_final_evaluation_encodes_each_image_once(tiny_checkpoint, tmp_path, encoder_calls):
    """Metrics, sampler choice, memorisation samples and latent statistics all share one DataCodes."""
    import shutil

    from trainer.data.datasets import load_dataset
    from trainer.evaluation.evaluate import evaluate_checkpoint_file

    path = shutil.copy(tiny_checkpoint, tmp_path / "best.pt")
    dataset = load_dataset(load_checkpoint(path).config.data)
    report = evaluate_checkpoint_file(path, dataset, memorisation_png=tmp_path / "memorisation.png")
    assert report["n_images"] == len(dataset.test) and "sampler" in report and "memorisation" in report
    assert sum(encoder_calls.values()) == len(dataset.test) + len(dataset.train)
