"""The Compare tab: a second model beside the first, on the same z or the same image, offscreen."""
import numpy as np
import pytest

from trainer.latent.codec import decode_latents, prepare_for_inference
from trainer.latent.samplers import make_sampler
from trainer.resources import default_checkpoint
from trainer.training.checkpoint import load_checkpoint as read_checkpoint_file

from vae_gui.explorer.compare_work import SAMPLE_COLUMNS, reencode  # noqa: E402

WAIT_MS = 60_000


def load_checkpoint(path):
    """A checkpoint prepared as the explorer prepares its models (channels-last weights)."""
    checkpoint = read_checkpoint_file(path)
    prepare_for_inference(checkpoint.model)
    return checkpoint



@pytest.fixture
def panel(explorer_panel):
    return explorer_panel


def open_pair(qtbot, panel, first, second) -> None:
    with qtbot.waitSignal(panel.latents_ready, timeout=WAIT_MS):
        assert panel.load_checkpoint(str(first))
    panel.tabs.setCurrentWidget(panel.compare)
    with qtbot.waitSignal(panel.compare.faces_shown, timeout=WAIT_MS):
        panel.dialogs.next_path = str(second)
        panel.ask_open_second()
    assert panel.compare.second is not None


def wait_for_faces(qtbot, compare, z_expected) -> None:
    """Wait until the compare row shows the faces of `z_expected` (a decode may still be on its way)."""
    qtbot.waitUntil(lambda: compare.shown_z is not None and np.array_equal(compare.shown_z, z_expected),
                    timeout=WAIT_MS)


def test_second_model_decodes_the_same_z(qtbot, panel, tiny_checkpoint, tiny_ae_checkpoint):
    open_pair(qtbot, panel, tiny_checkpoint, tiny_ae_checkpoint)
    compare = panel.compare
    assert compare.same_latent_size and "same 6-d code" in compare.note.text()
    z = np.linspace(-1.5, 1.5, 6).astype(np.float32)
    compare.sliders.set_value(0, 0.0)               # a slider of the Compare tab moves the shared z
    panel.state.set_z(z)
    wait_for_faces(qtbot, compare, z)
    second = load_checkpoint(tiny_ae_checkpoint)
    np.testing.assert_array_equal(compare.faces["b"], decode_latents(second.model, z[None])[0])
    np.testing.assert_array_equal(compare.faces["a"], decode_latents(panel.state.model, z[None])[0])
    assert not np.array_equal(compare.faces["a"], compare.faces["b"])
    compare.sliders.set_value(1, 2.0)
    assert panel.state.z[1] == pytest.approx(2.0)


@pytest.mark.slow
def test_different_latent_sizes_compare_the_same_image(qtbot, panel, tiny_checkpoint):
    bundled = default_checkpoint()
    open_pair(qtbot, panel, tiny_checkpoint, bundled)          # 6-d against the bundled 16-d model
    compare = panel.compare
    assert not compare.same_latent_size
    assert "latent sizes differ" in compare.note.text() and compare.columns["image"].isVisible()
    assert not compare.sliders.isVisible()
    z = panel.state.z.copy()
    face_a = decode_latents(panel.state.model, z[None])[0]
    np.testing.assert_array_equal(compare.faces["image"], face_a)         # no encoded image: A's face
    second = load_checkpoint(bundled)
    np.testing.assert_array_equal(compare.faces["b"], reencode(second.model, face_a)[1])

    panel.faces.start_from_test_image(3)                 # an encoded test image: that image goes through both
    image = panel.state.data.test_images[3]
    wait_for_faces(qtbot, compare, panel.state.z)
    np.testing.assert_array_equal(compare.faces["image"], image)
    np.testing.assert_array_equal(compare.faces["b"], reencode(second.model, image)[1])
    assert compare.captions["image"].text() == "Image: test image 4"


@pytest.mark.slow
def test_samples_of_both_models_share_the_seed(qtbot, panel, tiny_checkpoint, tiny_ae_checkpoint):
    open_pair(qtbot, panel, tiny_checkpoint, tiny_ae_checkpoint)
    compare = panel.compare
    panel.samples_tab.seed.setValue(7)
    assert compare.seed.value() == 7               # one seed for the Samples tab and the compared grids
    with qtbot.waitSignal(compare.samples_shown, timeout=WAIT_MS):
        compare.details.setCurrentIndex(1)
    qtbot.waitUntil(lambda: compare.samples_seed == 7, timeout=WAIT_MS)
    z = make_sampler("prior", 6).sample(SAMPLE_COLUMNS ** 2, 7)
    second = load_checkpoint(tiny_ae_checkpoint)
    np.testing.assert_array_equal(compare.sample_faces["a"], decode_latents(panel.state.model, z))
    np.testing.assert_array_equal(compare.sample_faces["b"], decode_latents(second.model, z))


def test_a_bad_second_file_is_reported_and_close_empties_the_tab(qtbot, panel, tiny_checkpoint, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(panel.latents_ready, timeout=WAIT_MS):
        panel.load_checkpoint(str(tiny_checkpoint))
    with qtbot.waitSignal(panel.error_shown, timeout=WAIT_MS) as blocker:
        panel.compare.open_second(str(bad))
    assert str(bad) in blocker.args[1] and panel.compare.second is None
    with qtbot.waitSignal(panel.compare.second_changed, timeout=WAIT_MS):
        panel.compare.open_second(str(tiny_checkpoint))
    assert panel.compare.stack.currentIndex() == 1
    panel.compare.close_second()
    assert panel.compare.second is None and panel.compare.stack.currentIndex() == 0


@pytest.mark.slow
def test_a_hidden_compare_tab_costs_the_sliders_nothing(qtbot, panel, tiny_checkpoint, tiny_ae_checkpoint):
    open_pair(qtbot, panel, tiny_checkpoint, tiny_ae_checkpoint)
    assert panel.compare.sliders.rows                  # shown: its own sliders drive both models
    started = panel.compare.decodes_started
    panel.tabs.setCurrentWidget(panel.sliders_tab)
    assert panel.compare.sliders.rows == []
    panel.sliders_tab.column.set_value(0, 1.0)
    assert panel.compare.decodes_started == started     # no decode of the second model while hidden
    with qtbot.waitSignal(panel.compare.faces_shown, timeout=WAIT_MS):
        panel.tabs.setCurrentWidget(panel.compare)     # shown again: the current z, decoded by both
    assert np.array_equal(panel.compare.shown_z, panel.state.z)
