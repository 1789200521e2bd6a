"""The Explore tab (vae_gui.explorer) on tiny checkpoints, offscreen. Dialogs are replaced so nothing blocks."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.training.checkpoint import read_checkpoint, save_checkpoint, update_checkpoint
from trainer.latent.codec import decode_latents
from trainer.resources import default_checkpoint
from trainer.latent.samplers import make_sampler

from vae_gui.explorer.panel import ExplorerPanel  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from qt_doubles import RecordingDialogs  # noqa: E402

WAIT_MS = 60_000


@pytest.fixture
def panel(qtbot):
    widget = ExplorerPanel(dialogs=RecordingDialogs())
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    yield widget
    widget.shutdown()


def load_and_wait(qtbot, panel, path) -> None:
    with qtbot.waitSignal(panel.latents_ready, timeout=WAIT_MS):
        assert panel.load_checkpoint(str(path))


def face_of(panel) -> np.ndarray:
    panel.decoder.decode_now()
    return panel.decoder.face.copy()


# ---------------------------------------------------------------- loading

def test_empty_state_until_a_checkpoint_is_open(panel):
    assert panel.stack.currentWidget() is panel.empty
    assert "Train tab" in panel.empty.message.text()


def test_load_checkpoint_shows_info_face_and_statistics(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    assert panel.stack.currentWidget() is panel.splitter
    text = panel.info.text.text()
    assert "VAE" in text and "6-d latent" in text and "synthetic" in text
    assert "tied to true factors" not in text and "TC weight" not in text   # trained without either
    assert "PSNR" in text and "-ELBO" in text                # the stored evaluation
    assert panel.state.stats is not None and panel.state.stats.latent_dim == 6
    np.testing.assert_allclose(panel.state.z, panel.state.stats.mean)
    qtbot.waitUntil(lambda: panel.decoder.face is not None, timeout=WAIT_MS)
    assert panel.decoder.face.shape == (32, 32, 3)
    assert not panel.face_panel.view.image().isNull()
    assert len(panel.sliders_tab.column.rows) == 6
    assert panel.state.data.test_images is not None and panel.gallery.count() > 0
    assert panel.recent.paths()[0] == str(Path(tiny_checkpoint).resolve())


def test_bundled_checkpoint_loads(qtbot, panel, tmp_path):
    bundled = default_checkpoint()
    if bundled is None:
        pytest.skip("no bundled checkpoint in this checkout")
    copy = tmp_path / bundled.name          # a copy: loading may store statistics into the file
    shutil.copy(bundled, copy)
    assert panel.load_checkpoint(str(copy))
    assert panel.state.latent_dim > 0 and panel.state.stats is not None
    assert face_of(panel).shape[-1] == 3
    assert "dims tied to true factors" in panel.info.text.text()     # says where its slider meanings come from


@pytest.mark.slow
def test_stats_are_stored_after_the_first_load(qtbot, panel, tiny_checkpoint, tmp_path):
    copy = tmp_path / "no_stats.pt"
    shutil.copy(tiny_checkpoint, copy)
    update_checkpoint(copy, latent_stats=None)
    before = copy.read_bytes()
    assert panel.load_checkpoint(str(copy))
    assert panel.state.stats is None                       # computed in the background
    qtbot.waitUntil(lambda: panel.state.stats is not None, timeout=WAIT_MS)
    assert copy.read_bytes() == before                     # kept beside it (trainer.data.derived), not written into it
    assert "next load is instant" in panel.info.stats_line.text()

    assert panel.load_checkpoint(str(copy))
    assert panel.state.stats is not None                   # available at once: no encoding needed
    assert "stored with the checkpoint" in panel.info.stats_line.text()


def test_missing_training_data_falls_back_to_prior_samples(qtbot, panel, tiny_checkpoint, tmp_path):
    moved = tmp_path / "moved.pt"
    payload = read_checkpoint(tiny_checkpoint)
    payload["config"]["data"]["source"] = str(tmp_path / "folder_that_moved")
    payload["latent_stats"] = None
    save_checkpoint(moved, payload)
    load_and_wait(qtbot, panel, moved)
    assert panel.state.stats is not None
    assert panel.state.data.data_error and "folder_that_moved" in panel.state.data.data_error
    assert "not available" in panel.info.stats_line.text()
    assert read_checkpoint(moved)["latent_stats"] is None   # approximate statistics are not stored


# ---------------------------------------------------------------- bad files

class TouchesMarker:
    """Unpickling this would create the marker file: a stand-in for a hostile checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def make_bad_file(kind: str, good: Path, folder: Path) -> Path:
    path = folder / f"{kind}.pt"
    if kind == "random_bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "malicious_pickle":
        torch.save({"format": "vae-face-explorer-checkpoint", "format_version": 1,
                    "payload": TouchesMarker(folder / "marker")}, path)
    elif kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "format_99":
        payload = read_checkpoint(good)
        payload["format_version"] = 99
        torch.save(payload, path)
    return path


@pytest.mark.parametrize("kind, says", [("random_bytes", "not a PyTorch checkpoint"), ("malicious_pickle", "code that could run"),
                                        ("truncated", "truncated"), ("format_99", "version 99")])
def test_bad_checkpoint_shows_error_and_keeps_the_current_one(qtbot, panel, tiny_checkpoint, tmp_path, kind, says):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    z_before = panel.state.z.copy()
    errors = []
    panel.error_shown.connect(lambda title, text: errors.append(text))
    bad = make_bad_file(kind, Path(tiny_checkpoint), tmp_path)
    assert not panel.load_checkpoint(str(bad))
    assert len(errors) == 1 and str(bad) in errors[0]
    assert panel.dialogs.errors and str(bad) in panel.dialogs.errors[0][1]
    assert panel.state.checkpoint.path == Path(tiny_checkpoint)
    np.testing.assert_array_equal(panel.state.z, z_before)
    assert not (tmp_path / "marker").exists()
    assert says in errors[0]


# ---------------------------------------------------------------- sliders and the face

def test_moving_a_slider_changes_that_dim_only_and_the_face(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    z_before, face_before = panel.state.z.copy(), face_of(panel)
    row = panel.sliders_tab.column.rows[2]
    target = 950 if row.slider.value() < 500 else 50
    with qtbot.waitSignal(panel.decoder.face_ready, timeout=WAIT_MS):
        row.slider.setValue(target)
    changed = np.flatnonzero(panel.state.z != z_before)
    assert changed.tolist() == [2]
    assert panel.state.z[2] == pytest.approx(row.value_at(target), abs=1e-5)
    assert row.spin.value() == pytest.approx(panel.state.z[2], abs=0.005)
    assert np.abs(panel.decoder.face.astype(int) - face_before.astype(int)).max() > 0


def test_large_latents_show_the_top_k_dims(qtbot, panel, tmp_path):
    from trainer.training.checkpoint import make_payload
    from trainer.config import DataConfig, RunConfig
    from trainer.models.networks import build_model
    from trainer.models.presets import preset_config
    model_config = preset_config("default", image_size=32, base_channels=4, depth=3, latent_dim=40)
    config = RunConfig(model=model_config, data=DataConfig(image_size=32, synthetic_count=60,
                                                           cache_dir=str(tmp_path / "cache")))
    path = tmp_path / "wide.pt"
    save_checkpoint(path, make_payload(config, build_model(model_config), step=0))
    load_and_wait(qtbot, panel, path)
    tab = panel.sliders_tab
    assert len(tab.column.rows) == 16 and tab.k.isVisible() and tab.ranking.isVisible()
    tab.k.setValue(5)
    tab.ranking.setCurrentIndex(tab.ranking.findData("spread"))
    expected = [int(d) for d in panel.state.stats.ranked_dims("spread")[:5]]
    assert [row.spec.key for row in tab.column.rows] == [f"dim:{d}" for d in expected]
    assert panel.state.selected_dims == expected


def test_many_slider_moves_decode_once_per_frame(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    panel.decoder.decode_now()
    count = panel.decoder.decode_count
    row = panel.sliders_tab.column.rows[0]
    for position in range(0, 1000, 50):              # one burst, no event processing in between
        row.slider.setValue(position)
    qtbot.waitUntil(lambda: panel.decoder.decode_count > count, timeout=WAIT_MS)
    qtbot.wait(50)
    assert panel.decoder.decode_count == count + 1     # coalesced, and the latest value won
    np.testing.assert_array_equal(panel.decoder.face, decode_latents(panel.state.model, panel.state.z)[0])


def test_reset_and_randomize(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    panel.faces.randomize_from_prior()
    assert not np.allclose(panel.state.z, panel.state.stats.mean)
    panel.state.reset_to_mean()
    np.testing.assert_allclose(panel.state.z, panel.state.stats.mean)
    panel.faces.randomize_from_data()
    matches = np.all(panel.state.data.test_latents == panel.state.z, axis=1)
    assert matches.any()
    assert not panel.face_panel.encoded_box.isHidden()


def test_start_from_an_image_file(qtbot, panel, tiny_checkpoint, tmp_path):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    image = panel.state.data.test_images[3]
    path = tmp_path / "face.png"
    Image.fromarray(image).resize((96, 80)).save(path)     # not square: centre-cropped like training data
    assert panel.start_from_file(str(path))
    assert not panel.face_panel.encoded_box.isHidden()
    assert panel.face_panel.original_view.image().width() == 32
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    assert not panel.start_from_file(str(bad))
    assert str(bad) in panel.dialogs.errors[-1][1]


def test_a_photo_encoded_into_a_model_of_the_built_in_faces_says_why_it_comes_back_a_cartoon(qtbot, panel,
                                                                                             tiny_checkpoint,
                                                                                             tmp_path):
    from vae_gui.explorer.face_actions import SYNTHETIC_MODEL_HINT

    load_and_wait(qtbot, panel, tiny_checkpoint)                 # trained on the built-in synthetic faces
    assert panel.state.checkpoint.config.data.source == "synthetic"
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)).save(path)
    assert panel.start_from_file(str(path))
    caption = panel.face_panel.encoded_caption.text()
    assert caption.startswith("Original photo.png") and caption.endswith(SYNTHETIC_MODEL_HINT)
    assert "\n" not in SYNTHETIC_MODEL_HINT and "cartoon" in SYNTHETIC_MODEL_HINT
    panel.faces.start_from_test_image(2)                        # one of its own faces: no hint
    assert SYNTHETIC_MODEL_HINT not in panel.face_panel.encoded_caption.text()


def test_save_and_copy_face(qtbot, panel, tiny_checkpoint, tmp_path):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    path = tmp_path / "face.png"
    panel.faces.save_face(str(path))
    saved = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(saved, face_of(panel))
    panel.faces.copy_face()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().image().width() == 32


# ---------------------------------------------------------------- samples

def test_ae_samples_from_fitted_sources(qtbot, panel, tiny_ae_checkpoint):
    load_and_wait(qtbot, panel, tiny_ae_checkpoint)
    samples = panel.samples_tab
    panel.tabs.setCurrentWidget(samples)
    assert samples.source_kind != "prior"                   # an AE starts on a fitted source
    samples.set_source("gaussian")
    samples.size.setValue(4)
    qtbot.waitUntil(lambda: "main" in samples.latents and len(samples.latents["main"]) == 16, timeout=WAIT_MS)
    train = panel.state.data.train_latents
    expected = make_sampler("gaussian", 6, train).sample(16, samples.seed.value())
    np.testing.assert_allclose(samples.latents["main"], expected, rtol=1e-5, atol=1e-5)
    assert len(samples.grid.images) == 16

    samples.components.setValue(2)
    samples.set_source("mixture")
    qtbot.waitUntil(lambda: "Fitted to" in samples.note.text(), timeout=WAIT_MS)
    expected = make_sampler("mixture", 6, train, n_components=2, seed=0).sample(16, samples.seed.value())
    np.testing.assert_allclose(samples.latents["main"], expected, rtol=1e-5, atol=1e-5)

    samples.load_sample("main", 5)
    np.testing.assert_array_equal(panel.state.z, samples.latents["main"][5])


def test_compare_shows_prior_and_fitted_grids_and_saves(qtbot, panel, tiny_checkpoint, tmp_path):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    samples = panel.samples_tab
    panel.tabs.setCurrentWidget(samples)
    samples.size.setValue(3)
    samples.compare.setChecked(True)
    qtbot.waitUntil(lambda: "main" in samples.latents and "prior" in samples.latents, timeout=WAIT_MS)
    assert samples.source_kind != "prior" and samples.prior_column.isVisible()
    seed = samples.seed.value()
    samples.resample()
    assert samples.seed.value() == seed + 1
    np.testing.assert_allclose(samples.latents["prior"], make_sampler("prior", 6).sample(9, seed + 1))
    path = tmp_path / "grid.png"
    samples.save_grid(str(path))
    assert Image.open(path).width > Image.open(path).height     # two grids side by side


# ---------------------------------------------------------------- morphing and traversals

@pytest.mark.parametrize("kind", ["lerp", "slerp"])
def test_strip_endpoints_decode_to_the_endpoint_faces(qtbot, panel, tiny_checkpoint, kind):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    morph = panel.morph_tab
    a, b = panel.state.data.test_latents[0], panel.state.data.test_latents[4]
    panel.state.morph.set_endpoint("A", a, "a")
    panel.state.morph.set_endpoint("B", b, "b")
    panel.state.morph.set_interpolation(kind, 5)
    assert morph.kind.currentData() == kind and morph.steps.value() == 5     # the tab mirrors the model's morph
    assert len(morph.strip_images) == 5
    np.testing.assert_allclose(morph.strip_latents[0], a, atol=1e-6)
    np.testing.assert_allclose(morph.strip_latents[-1], b, atol=1e-6)
    for image, z in ((morph.strip_images[0], a), (morph.strip_images[-1], b)):
        expected = decode_latents(panel.state.model, z)[0]
        assert np.abs(image.astype(int) - expected.astype(int)).max() <= 1
    morph.morph_slider.setValue(1000)
    morph._decode_morph()
    np.testing.assert_allclose(morph.morph_latent, b, atol=1e-5)


def test_gif_export_has_one_frame_per_step(qtbot, panel, tiny_checkpoint, tmp_path):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    morph = panel.morph_tab
    panel.state.morph.set_endpoint("A", panel.state.data.test_latents[0], "a")
    panel.state.morph.set_endpoint("B", panel.state.data.test_latents[1], "b")
    morph.steps.setValue(6)                                   # the tab writes its controls to the model
    assert panel.state.morph.steps == 6 and len(panel.state.morph_path) == 6
    path = tmp_path / "morph.gif"
    morph.save_gif(str(path))
    with Image.open(path) as gif:
        assert gif.n_frames == 6
    strip = tmp_path / "strip.png"
    morph.save_strip(str(strip))
    assert Image.open(strip).width > 6 * 32


def test_sample_menu_sets_morph_endpoints(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    samples = panel.samples_tab
    samples.set_source("prior")
    samples.redraw()
    samples.use_as_morph_endpoint("B", "main", 0)
    np.testing.assert_array_equal(panel.state.morph.z_of("B"), samples.latents["main"][0])
    assert panel.morph_tab.boxes["B"].description.text() == f"sample 1 (seed {samples.seed.value()})"


def test_traversal_grid(qtbot, panel, tiny_checkpoint, tmp_path):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    tab = panel.traversals_tab
    panel.tabs.setCurrentWidget(tab)
    tab.row_count.setValue(3)
    tab.columns.setValue(5)
    tab.redraw()
    assert tab.latents.shape == (15, 6) and len(tab.grid.images) == 15
    top_dim = int(panel.state.stats.ranked_dims("kl")[0])
    row = tab.latents[:5]
    assert np.all(np.diff(row[:, top_dim]) > 0)            # the first row walks the top dim
    others = np.delete(row, top_dim, axis=1)
    np.testing.assert_allclose(others, np.broadcast_to(np.delete(panel.state.z, top_dim), others.shape))
    path = tmp_path / "traversal.png"
    assert tab.save_png(str(path))
    assert Image.open(path).height >= 3 * 64
    tab.dialogs.errors.clear()
    assert not tab.save_png(str(tmp_path / "no such folder" / "traversal.png"))     # refused, in our words
    assert tab.dialogs.errors and "could not be written" in tab.dialogs.errors[-1][1]


def test_traversal_rows_can_walk_the_sefa_directions(qtbot, panel, tiny_checkpoint):
    from trainer.latent.directions import model_sefa_directions

    load_and_wait(qtbot, panel, tiny_checkpoint)
    tab = panel.traversals_tab
    panel.tabs.setCurrentWidget(tab)
    tab.row_count.setValue(2)
    tab.columns.setValue(5)
    tab.rows_source.setCurrentIndex(tab.rows_source.findData("sefa"))
    tab.redraw()
    first = model_sefa_directions(panel.state.model).directions[0]
    steps = np.diff(tab.latents[:5], axis=0)
    cosine = steps @ first / (np.linalg.norm(steps, axis=1) * np.linalg.norm(first))
    np.testing.assert_allclose(np.abs(cosine), 1.0, atol=1e-5)     # the first row moves along SeFa direction 1


# ---------------------------------------------------------------- directions

def test_directions_from_groups_and_factors(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    tab = panel.directions_tab
    data = panel.state.data
    tab.add_to_group("A", data.test_latents[:2], data.test_images[:2])
    tab.add_to_group("B", data.test_latents[2:4], data.test_images[2:4])
    spec = tab.create_direction("wider smile")
    expected = data.test_latents[2:4].mean(0) - data.test_latents[:2].mean(0)
    np.testing.assert_allclose(spec.direction, expected / np.linalg.norm(expected), atol=1e-5)
    assert len(tab.custom_sliders.rows) == 1
    z_before = panel.state.z.copy()
    tab.custom_sliders.set_value(0, spec.high)
    moved = panel.state.z - z_before
    np.testing.assert_allclose(moved / np.linalg.norm(moved), spec.direction, atol=1e-4)
    assert panel.state.stats.factor_directions              # synthetic faces: the true factors are known
    assert "smile" in [row.spec.label for row in tab.factor_sliders.rows]


def test_gallery_selection_feeds_groups_and_morph(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    panel.gallery.select_indices([1, 2, 5])
    assert panel.state.selection.indices == [1, 2, 5]
    panel.directions_tab.groups["A"].findChildren(QPushButton)[0].click()        # "Add selected"
    assert len(panel.directions_tab.groups["A"].latents) == 3
    assert panel.directions_tab.groups["A"].thumbs.count() == 3
    panel.gallery.item(7).setSelected(True)
    panel.gallery.item(1).setSelected(False)
    assert panel.state.selection.indices == [2, 5, 7]             # a click in the gallery reaches the model
    panel.state.selection.select([7])
    assert panel.gallery.selected_indices() == [7]                # and the gallery mirrors the model
    panel.morph_tab.boxes["A"].buttons[1].click()                 # "Test image"
    np.testing.assert_array_equal(panel.state.morph.z_of("A"), panel.state.data.test_latents[7])
    assert panel.morph_tab.boxes["A"].description.text() == "test image 8"


def test_the_samples_tab_shows_and_writes_the_sessions_sampler(qtbot, panel, tiny_checkpoint):
    from trainer.latent.samplers import SamplerChoice

    load_and_wait(qtbot, panel, tiny_checkpoint)
    samples, session = panel.samples_tab, panel.state.session
    samples.source.setCurrentIndex(samples.source.findData("mixture"))        # the user picks in the box
    assert session.sampler == "mixture" and samples.components.isEnabled()
    session.set_sampler("gaussian")
    assert samples.source.currentData() == "gaussian" and not samples.components.isEnabled()
    session.set_sampler(session.fallback_sampler)
    session.set_computed_choice(SamplerChoice("mixture", {"prior": -9.0, "mixture": -5.0}, 10))
    assert samples.source.currentData() == "mixture"
    assert samples.source.currentText().endswith("(default for this model)")


def test_gallery_menu_reaches_the_morph_and_directions_tabs_through_the_model(qtbot, panel, tiny_checkpoint):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    latents = panel.state.data.test_latents
    panel.gallery.action_requested.emit("B", [3])                 # "Set as morph B"
    assert panel.tabs.currentWidget() is panel.morph_tab
    np.testing.assert_array_equal(panel.state.morph.z_of("B"), latents[3])
    assert panel.morph_tab.boxes["B"].description.text() == "test image 4"
    np.testing.assert_allclose(panel.morph_tab.strip_latents[-1], latents[3], atol=1e-6)
    panel.gallery.action_requested.emit("group_b", [0, 1])          # "Add to direction group B"
    assert panel.tabs.currentWidget() is panel.directions_tab
    assert panel.directions_tab.groups["B"].thumbs.count() == 2
    panel.directions_tab.groups["B"].findChildren(QPushButton)[2].click()       # "Clear"
    assert panel.state.directions.group_size("B") == 0 and panel.directions_tab.groups["B"].thumbs.count() == 0


# ---------------------------------------------------------------- explorer state files

def test_explorer_state_round_trips(qtbot, panel, tiny_checkpoint, tiny_ae_checkpoint, tmp_path):
    load_and_wait(qtbot, panel, tiny_checkpoint)
    panel.faces.randomize_from_prior()
    panel.state.set_slider_mode("pca")
    saved_z = panel.state.z.copy()
    path = tmp_path / "state.json"
    panel.state_files.save(str(path))
    panel.state.reset_to_mean()
    panel.state.set_slider_mode("axes")
    assert panel.state_files.load(str(path))
    np.testing.assert_allclose(panel.state.z, saved_z, rtol=1e-6)
    assert panel.state.slider_mode == "pca"
    assert len(panel.sliders_tab.column.rows) > 0 and panel.sliders_tab.column.rows[0].spec.key == "pc:0"
    assert panel.dialogs.warnings == []

    load_and_wait(qtbot, panel, tiny_ae_checkpoint)          # other weights: warn (same size, so applied)
    assert panel.state_files.load(str(path))
    assert len(panel.dialogs.warnings) == 1 and "different weights" in panel.dialogs.warnings[0][1]

    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    assert not panel.state_files.load(str(broken))
    assert str(broken) in panel.dialogs.errors[-1][1]


def test_file_menu_lists_recent_checkpoints(qtbot, panel, tiny_checkpoint):
    from PySide6.QtWidgets import QMenu
    menu = QMenu()
    panel.build_file_menu(menu)
    texts = [action.text() for action in menu.actions()]
    assert any("Open checkpoint" in t for t in texts) and any("Open &Recent" in t for t in texts)
    assert any("explorer &state" in t for t in texts)
    load_and_wait(qtbot, panel, tiny_checkpoint)
    panel.menus.fill_recent_menu()
    recent = [a.toolTip() for a in panel.menus.recent_menu.actions() if a.toolTip()]
    assert str(Path(tiny_checkpoint).resolve()) in recent


def test_samples_start_on_the_sampler_the_evaluation_chose_and_say_so(qtbot, panel, tiny_checkpoint, tmp_path):
    path = tmp_path / "chosen.pt"
    shutil.copy(tiny_checkpoint, path)
    payload = read_checkpoint(path)
    choice = {"default": "mixture", "log_likelihood": {"prior": -20.0, "gaussian": -12.0, "mixture": -9.0},
              "n_fit": 128}
    update_checkpoint(path, eval={**payload.get("eval", {}), "sampler": choice})
    load_and_wait(qtbot, panel, path)
    samples = panel.samples_tab
    panel.tabs.setCurrentWidget(samples)
    assert samples.source_kind == "mixture"
    assert "(default for this model)" in samples.source.currentText()
    qtbot.waitUntil(lambda: "main" in samples.latents, timeout=WAIT_MS)
    assert samples.note.text().startswith("Default: the mixture fitted to 128 encoded training images")
    samples.set_source("prior")                                  # the prior stays one click away
    qtbot.waitUntil(lambda: "Not the default" in samples.note.text(), timeout=WAIT_MS)


def test_a_checkpoint_without_a_sampler_choice_gets_one_on_opening_and_says_which(qtbot, panel, tiny_checkpoint,
                                                                                 tmp_path):
    """Like the bundled model, a checkpoint whose evaluation stored no sampler choice: the explorer chooses the best
    fitted one from the codes it encoded, starts the grid on it and the note says which sampler is in use."""
    path = tmp_path / "no-choice.pt"
    shutil.copy(tiny_checkpoint, path)
    payload = read_checkpoint(path)
    update_checkpoint(path, eval={key: value for key, value in payload.get("eval", {}).items() if key != "sampler"})
    assert "sampler" not in read_checkpoint(path)["eval"]
    load_and_wait(qtbot, panel, path)
    samples = panel.samples_tab
    panel.tabs.setCurrentWidget(samples)
    qtbot.waitUntil(lambda: samples.choice is not None, timeout=WAIT_MS)
    scores = samples.choice.log_likelihood              # every candidate scored on the held-out codes
    assert {"prior", "gaussian"} <= set(scores) and samples.choice.default == max(scores, key=scores.get)
    assert samples.choice.n_fit == len(panel.state.data.train_latents)
    assert samples.source_kind == samples.choice.default
    assert "(default for this model)" in samples.source.currentText()
    qtbot.waitUntil(lambda: "main" in samples.latents, timeout=WAIT_MS)
    assert samples.note.text().startswith("Default, chosen on opening (the checkpoint stores none): the ")
    chosen = samples.choice
    load_and_wait(qtbot, panel, tiny_checkpoint)                 # another model, then this one again: the choice
    load_and_wait(qtbot, panel, path)                            # made on the first opening is remembered
    assert not panel.state.session.needs_sampler_choice and samples.choice == chosen
    assert "sampler" not in read_checkpoint(path)["eval"]        # in the derived results; the file is untouched


def test_the_flow_the_evaluation_stored_draws_the_samples_without_refitting(qtbot, panel, tiny_checkpoint,
                                                                              tmp_path):
    from trainer.latent.flow import FlowSampler
    from trainer.latent.stats import compute_latent_stats

    path = tmp_path / "flow.pt"
    shutil.copy(tiny_checkpoint, path)
    payload = read_checkpoint(path)
    codes = np.random.default_rng(0).standard_normal((100, 6))
    flow = FlowSampler.fit(codes)
    stats = compute_latent_stats(codes)
    stats.flow = flow.to_dict()
    choice = {"default": "flow", "log_likelihood": {"prior": -9.0, "gaussian": -8.5, "flow": -8.0}, "n_fit": 100}
    update_checkpoint(path, eval={**payload.get("eval", {}), "sampler": choice}, latent_stats=stats.to_dict())
    load_and_wait(qtbot, panel, path)
    samples = panel.samples_tab
    panel.tabs.setCurrentWidget(samples)
    assert samples.source_kind == "flow" and "Learned flow" in samples.source.currentText()
    samples.size.setValue(3)
    qtbot.waitUntil(lambda: "main" in samples.latents and len(samples.latents["main"]) == 9, timeout=WAIT_MS)
    np.testing.assert_allclose(samples.latents["main"], flow.sample(9, samples.seed.value()), atol=1e-6)
    assert "the flow fitted to 100" in samples.note.text() and "evaluation trained" in samples.note.text()


def test_a_hidden_morph_tab_decodes_nothing_until_it_is_shown(qtbot, panel, tiny_checkpoint, monkeypatch):
    """A reload (follow mode) or new data must not decode a hidden strip on the GUI thread."""
    import vae_gui.explorer.morph_tab as morph_module

    load_and_wait(qtbot, panel, tiny_checkpoint)
    panel.show()
    panel.tabs.setCurrentWidget(panel.sliders_tab)
    decoded: list[int] = []
    real = morph_module.decode_latents

    def counting_decode(model, z, **kwargs):
        decoded.append(len(z))
        return real(model, z, **kwargs)

    monkeypatch.setattr(morph_module, "decode_latents", counting_decode)
    morph = panel.morph_tab
    panel.state.morph.set_endpoint("A", panel.state.data.test_latents[2], "a")
    panel.state.morph.set_endpoint("B", panel.state.data.test_latents[3], "b")
    assert decoded == [] and len(panel.state.morph_path) == morph.steps.value()   # the atlas still gets the path
    panel.tabs.setCurrentWidget(morph)
    assert sum(decoded) >= morph.steps.value() + 2         # shown: both endpoints and the strip
    assert len(morph.strip.images) == morph.steps.value()
