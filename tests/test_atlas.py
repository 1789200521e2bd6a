"""The atlas: map coordinates, projections, colourings, labels.csv, and the Atlas tab (offscreen)."""
import dataclasses
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from trainer.config import DataConfig
from trainer.data.datasets import FaceDataset
from trainer.data.labels import LabelError, find_labels_file, read_labels
from trainer.data.synthetic import FACTOR_NAMES, make_synthetic_faces
from trainer.errors import Cancelled
from trainer.latent.atlas import (AtlasError, atlas_coordinates, build_atlas_map,
                                  tsne_coordinates)
from trainer.latent.atlas_data import (AtlasData, atlas_data_for_checkpoint, atlas_data_from_dataset,
                                       colour_options, colour_values)
from trainer.resources import default_checkpoint
from trainer.training.checkpoint import load_checkpoint

from imagefiles import make_split_folder
from qt_doubles import RecordingDialogs

WAIT_MS = 60_000


def synthetic_dataset(n: int = 120, size: int = 64) -> FaceDataset:
    images, factors = make_synthetic_faces(n, seed=5, image_size=size)
    k = n // 4
    return FaceDataset(train=torch.from_numpy(images[k:]), test=torch.from_numpy(images[:k]), source="synthetic",
                       train_factors=factors[k:], test_factors=factors[:k], factor_names=tuple(FACTOR_NAMES))


@pytest.fixture(scope="module")
def bundled():
    return load_checkpoint(default_checkpoint())


@pytest.fixture(scope="module")
def bundled_atlas(bundled):
    return atlas_data_from_dataset(bundled.model, synthetic_dataset())


# ---------------------------------------------------------------- coordinates and projections

def test_pca_of_points_on_a_line_lies_on_a_line():
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(12)
    t = rng.uniform(-3, 3, 200)
    latents = (np.outer(t, direction) + rng.standard_normal(12)).astype(np.float32)
    coords = atlas_coordinates(latents, "pca")
    assert coords.shape == (200, 2) and coords.dtype == np.float32
    assert np.abs(coords[:, 1]).max() < 1e-3 * np.abs(coords[:, 0]).max()
    assert abs(np.corrcoef(coords[:, 0], t)[0, 1]) > 0.9999


def test_pca_map_places_a_training_point_on_its_own_position(bundled_atlas):
    atlas_map = build_atlas_map(bundled_atlas.latents, "pca")
    assert atlas_map.coords.shape == (len(bundled_atlas), 2)
    np.testing.assert_allclose(atlas_map.project(bundled_atlas.latents[7]), atlas_map.coords[7:8], atol=1e-5)
    np.testing.assert_allclose(atlas_map.project(bundled_atlas.latents), atlas_map.coords, atol=1e-5)


def test_bad_latents_are_refused_with_a_message():
    with pytest.raises(AtlasError, match="at least 3"):
        atlas_coordinates(np.zeros((2, 4)))
    with pytest.raises(AtlasError, match="not finite"):
        atlas_coordinates(np.full((5, 4), np.nan))
    with pytest.raises(AtlasError, match="unknown atlas method"):
        atlas_coordinates(np.zeros((5, 4)), "umap")
    with pytest.raises(AtlasError, match="limited to 10 points"):
        atlas_coordinates(np.zeros((11, 4)), "tsne", max_tsne_points=10)


@pytest.mark.slow
def test_tsne_small_run_and_its_projection():
    rng = np.random.default_rng(1)
    latents = np.concatenate([rng.normal(-5, 1, (30, 6)), rng.normal(5, 1, (30, 6))]).astype(np.float32)
    atlas_map = build_atlas_map(latents, "tsne", max_tsne_points=40)
    assert atlas_map.coords.shape == (40, 2) and np.isfinite(atlas_map.coords).all()
    assert len(set(atlas_map.indices.tolist())) == 40 and "random 40 of 60" in atlas_map.note
    # a mapped latent projects onto its own position; the two clusters stay apart on the map
    np.testing.assert_allclose(atlas_map.project(latents[atlas_map.indices[3]]), atlas_map.coords[3:4], atol=1e-5)
    cluster = atlas_map.indices < 30
    gap = np.linalg.norm(atlas_map.coords[cluster].mean(0) - atlas_map.coords[~cluster].mean(0))
    assert gap > 2 * atlas_map.coords[cluster].std(0).max()


def test_tsne_is_cancellable():
    latents = np.random.default_rng(2).standard_normal((3000, 8)).astype(np.float32)
    asked = []

    def stop():
        asked.append(time.perf_counter())
        return len(asked) > 2

    started = time.perf_counter()
    with pytest.raises(Cancelled):
        tsne_coordinates(latents, should_stop=stop)
    assert len(asked) == 3       # it checked, then stopped at the first request (no waiting for the fit)
    assert time.perf_counter() - started < 30


# ---------------------------------------------------------------- encoded data and colours

def test_atlas_data_encodes_test_and_train(bundled_atlas):
    data = bundled_atlas
    assert len(data) == 120 and data.latents.shape == (120, 16)
    assert (data.split == 0).sum() == 30 and (data.split == 1).sum() == 90
    assert np.all(data.recon_error > 0) and data.kl is not None and np.all(data.kl > 0)
    assert data.image(0).shape == (64, 64, 3) and data.image(0).dtype == np.uint8
    assert data.name(31) == "train image 2"


@pytest.mark.slow
def test_max_points_caps_the_training_images(bundled):
    data = atlas_data_from_dataset(bundled.model, synthetic_dataset(), max_points=50)
    assert len(data) == 50 and (data.split == 0).sum() == 30
    assert "20 of 90 training images" in data.note
    assert len(data.images[0]) == 30 and len(data.images[1]) == 20      # only the mapped images are kept
    dataset = synthetic_dataset()
    np.testing.assert_array_equal(data.image(49), dataset.train[89].permute(1, 2, 0).numpy())   # the last one


def test_every_colouring_has_one_value_per_point(bundled_atlas):
    from trainer.latent.sliders import custom_slider

    directions = [custom_slider("smile", np.ones(16, np.float32), np.zeros(16, np.float32))]
    options = colour_options(bundled_atlas, directions)
    keys = [key for key, _ in options]
    assert {"split", "error", "kl", "factor:mouth_curve", "direction:custom:smile", "dim:15"} <= set(keys)
    assert dict(options)["direction:custom:smile"] == "Your direction: smile"
    for key in keys:
        values = colour_values(bundled_atlas, key, directions)
        assert values.values.shape == (len(bundled_atlas),), key
    np.testing.assert_allclose(colour_values(bundled_atlas, "dim:3").values, bundled_atlas.latents[:, 3])
    along = colour_values(bundled_atlas, "direction:custom:smile", directions).values
    np.testing.assert_allclose(along, bundled_atlas.latents.sum(1) / 4.0, rtol=1e-4, atol=1e-5)
    with pytest.raises(KeyError):
        colour_values(bundled_atlas, "label:age")


# ---------------------------------------------------------------- labels.csv

def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_label_reader_numeric_and_categorical_columns(tmp_path):
    path = write(tmp_path / "labels.csv", "file,age,mood,gender\ntest/a.png,40,happy,1\ntest/b.png,,sad,0\n"
                                          "c.png,7.5,happy,1\n")
    table = read_labels(path)
    assert table.file_column == "file" and table.columns == ("age", "mood", "gender")
    names = ["test/a.png", "test/b.png", "sub/c.png", "test/missing.png"]
    age = table.column_for("age", names)
    assert not age.is_categorical
    np.testing.assert_array_equal(age.values[[0, 2]], [40, 7.5])
    assert np.isnan(age.values[1]) and np.isnan(age.values[3])
    mood = table.column_for("mood", names)
    assert mood.categories == ("happy", "sad")
    np.testing.assert_array_equal(mood.values, [0, 1, 0, -1])
    gender = table.column_for("gender", names)            # a whole-number code is a category, not a scale
    assert gender.categories == ("0", "1")
    np.testing.assert_array_equal(gender.values, [1, 0, 1, -1])
    assert table.matched(names) == 3


def test_label_reader_finds_a_file_column_by_its_values(tmp_path):
    table = read_labels(write(tmp_path / "l.csv", "picture,score\nx.jpg,1\ny.png,2\n"))
    assert table.file_column == "picture"


def test_label_reader_errors_name_the_file_and_the_problem(tmp_path):
    table = read_labels(write(tmp_path / "labels.csv", "file,age\na.png,1\n"))
    with pytest.raises(LabelError, match="no column 'gender'.*age"):
        table.column_for("gender", ["a.png"])
    cases = {"short.csv": ("file,age\na.png,1,2\n", "line 2 has 3 cells"),
             "nofile.csv": ("who,age\nbob,1\n", "no column names the image files"),
             "twice.csv": ("file,age\na.png,1\na.png,2\n", "listed twice"),
             "header.csv": ("file\na.png\n", "at least two columns")}
    for name, (text, message) in cases.items():
        with pytest.raises(LabelError, match=message) as caught:
            read_labels(write(tmp_path / name, text))
        assert name in str(caught.value)
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(LabelError, match="not a readable CSV"):
        read_labels(tmp_path / "binary.csv")
    with pytest.raises(LabelError, match="cannot read"):
        read_labels(tmp_path / "absent.csv")


def test_folder_data_set_gets_file_names_and_labels(tmp_path, tiny_checkpoint):
    folder = make_split_folder(tmp_path / "faces", n_train=12, n_test=4)
    rows = [f"train/img_{i:04d}.png,{i},{'ab'[i % 2]}" for i in range(12)]
    write(folder / "labels.csv", "file,age,group\n" + "\n".join(rows) + "\n")
    assert find_labels_file(folder) == folder / "labels.csv"
    loaded = load_checkpoint(tiny_checkpoint)
    data_config = DataConfig(source=str(folder), image_size=32, cache_dir=str(tmp_path / "cache"))
    checkpoint = SimpleNamespace(model=loaded.model, config=dataclasses.replace(loaded.config, data=data_config))
    data = atlas_data_for_checkpoint(checkpoint)
    assert len(data) == 16 and data.names[0] == "test/img_1000.png" and data.names[4] == "train/img_0000.png"
    assert "Labels of 12 images" in data.labels_note
    age = colour_values(data, "label:age").values
    assert np.isnan(age[:4]).all()                           # the test images have no row
    np.testing.assert_array_equal(age[4:], np.arange(12))
    assert colour_values(data, "label:group").categories == ("a", "b")


# ---------------------------------------------------------------- the Atlas tab

@pytest.fixture
def atlas_view(qtbot, bundled, bundled_atlas, tmp_path):
    from vae_gui.explorer.atlas_view import AtlasView
    from vae_gui.explorer.state import ExplorerState

    state = ExplorerState()
    dialogs = RecordingDialogs()
    dialogs.next_path = str(tmp_path / "atlas.png")
    view = AtlasView(state, dialogs)
    qtbot.addWidget(view)
    state.set_checkpoint(bundled)
    view.set_atlas(bundled_atlas, build_atlas_map(bundled_atlas.latents))
    view.resize(900, 650)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.shutdown()


def scene_position(view, index):
    from PySide6.QtCore import QPointF

    row = int(np.flatnonzero(view.plot.ids == index)[0])
    x, y = view.plot.coords[row]
    return view.plot.plotItem.vb.mapViewToScene(QPointF(float(x), float(y)))


def test_atlas_tab_renders_with_the_bundled_model(qtbot, atlas_view, tmp_path):
    image = atlas_view.grab().toImage()
    assert image.width() == 900 and not image.isNull()
    assert len(atlas_view.plot.coords) == 120
    assert atlas_view.plot.drawn_points == 120 and (atlas_view.plot.points.image[..., 3] > 0).sum() > 120
    assert "Colour: reconstruction error" in atlas_view.legend.text()
    assert atlas_view.save_png(str(tmp_path / "atlas.png")) and (tmp_path / "atlas.png").stat().st_size > 1000


def test_click_loads_that_image_code_into_the_state(qtbot, atlas_view):
    from PySide6.QtCore import Qt

    scene = scene_position(atlas_view, 17)
    widget_pos = atlas_view.plot.mapFromScene(scene)
    with qtbot.waitSignal(atlas_view.state.z_changed, timeout=5000):
        qtbot.mouseClick(atlas_view.plot.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    picked = int(np.argmin(np.linalg.norm(atlas_view.data.latents - atlas_view.state.z, axis=1)))
    np.testing.assert_array_equal(atlas_view.state.z, atlas_view.data.latents[picked])
    assert np.linalg.norm(atlas_view.map.coords[picked] - atlas_view.map.coords[17]) < \
        8 * max(atlas_view.plot.plotItem.vb.viewPixelSize())


def test_hover_shows_the_image_and_the_marker_follows_z(qtbot, atlas_view):
    atlas_view.plot._on_mouse_moved(scene_position(atlas_view, 40))
    assert atlas_view.hovered_index >= 0 and atlas_view.preview_name.text().startswith(("train", "test"))
    assert not atlas_view.preview.image().isNull()
    atlas_view.state.set_z(atlas_view.data.latents[3])
    qtbot.waitUntil(lambda: atlas_view.plot.marker.position is not None and
                    abs(atlas_view.plot.marker.position[0] - atlas_view.map.coords[3, 0]) < 1e-5, timeout=2000)
    atlas_view.state.set_z(atlas_view.data.latents[5])          # a drag: the marker catches up within a frame
    atlas_view.state.set_z(atlas_view.data.latents[6])
    qtbot.waitUntil(lambda: abs(atlas_view.plot.marker.position[0] - atlas_view.map.coords[6, 0]) < 1e-5,
                    timeout=2000)


def test_split_filter_samples_and_morph_path(qtbot, atlas_view):
    atlas_view.split.setCurrentIndex(atlas_view.split.findData("test"))
    assert len(atlas_view.plot.coords) == 30
    atlas_view.samples.setChecked(True)
    assert len(atlas_view.plot.samples.data) == 500
    morph = atlas_view.state.morph
    morph.set_interpolation("lerp", 5)
    morph.set_endpoint("A", atlas_view.data.latents[0], "a")
    morph.set_endpoint("B", atlas_view.data.latents[4], "b")
    xs, _ = atlas_view.plot.path.getData()
    assert len(xs) == 5
    np.testing.assert_allclose(xs[[0, -1]], atlas_view.map.coords[[0, 4], 0], atol=1e-5)


def test_zooming_in_turns_points_into_thumbnails(qtbot, atlas_view):
    from vae_gui.explorer.atlas_plot import MAX_THUMBNAILS

    atlas_view.plot.update_thumbnails()             # the whole map in view: its 120 points are few enough for images
    assert len(atlas_view.plot.coords) == 120 < MAX_THUMBNAILS and atlas_view.plot.thumbnail_count == 120
    x, y = atlas_view.map.coords[0]
    atlas_view.plot.setRange(xRange=(float(x) - 0.2, float(x) + 0.2), yRange=(float(y) - 0.2, float(y) + 0.2),
                             padding=0)
    with qtbot.waitSignal(atlas_view.plot.view_changed, timeout=5000):
        pass
    assert 1 <= atlas_view.plot.thumbnail_count < 120                      # only the points in the zoomed view
    assert sum(item.isVisible() for item in atlas_view.plot._thumbnails) == atlas_view.plot.thumbnail_count


@pytest.mark.slow
def test_tab_maps_the_shared_codes_in_the_background_when_shown(qtbot, tiny_checkpoint):
    from trainer.latent.prepared import prepare_latents
    from vae_gui.explorer.atlas_view import AtlasView
    from vae_gui.explorer.state import ExplorerState

    state = ExplorerState()
    view = AtlasView(state, RecordingDialogs())
    qtbot.addWidget(view)
    checkpoint = load_checkpoint(tiny_checkpoint)
    state.set_checkpoint(checkpoint)
    view.show()
    assert "Waiting for the data set to be encoded" in view.note.text() and view.map is None
    with qtbot.waitSignal(view.atlas_ready, timeout=WAIT_MS):         # the explorer's encoding arrives
        state.set_data(prepare_latents(checkpoint, compute_stats=False).data)
    assert isinstance(view.data, AtlasData) and len(view.plot.coords) == 160
    assert view.map.method == "pca" and "PCA of 160 images" in view.note.text()
    view.method.setCurrentIndex(view.method.findData("tsne"))
    assert view.progress.isVisible()
    view.cancel_work()                                  # the t-SNE stops; the PCA map stays
    assert view.map.method == "pca" and view.method.currentData() == "pca"
    view.method.setCurrentIndex(view.method.findData("tsne"))
    view.method.setCurrentIndex(view.method.findData("pca"))        # changed their mind: the t-SNE stops too
    assert not view.progress.isVisible() and not view.tasks.is_busy("atlas-map")
    view.shutdown()


@pytest.mark.slow
def test_missing_data_set_is_reported_in_the_tab(qtbot, tiny_checkpoint, tmp_path):
    from trainer.latent.prepared import prepare_latents
    from vae_gui.explorer.atlas_view import AtlasView
    from vae_gui.explorer.state import ExplorerState

    loaded = load_checkpoint(tiny_checkpoint)
    gone = DataConfig(source=str(tmp_path / "gone"), image_size=32, cache_dir=str(tmp_path / "cache"))
    loaded = dataclasses.replace(loaded, config=dataclasses.replace(loaded.config, data=gone))
    state = ExplorerState()
    view = AtlasView(state, RecordingDialogs())
    qtbot.addWidget(view)
    state.set_checkpoint(loaded)
    state.set_data(prepare_latents(loaded, compute_stats=False).data)     # stand-ins: the data set is gone
    view.show()
    assert "Could not make the atlas" in view.note.text() and "gone" in view.note.text()
    assert view.map is None and not view.progress.isVisible()
    view.shutdown()


def test_directions_of_statistics_that_arrive_later_become_colourings(qtbot, atlas_view, bundled):
    from trainer.latent.stats import LatentStats

    keys = [atlas_view.colour.itemData(i) for i in range(atlas_view.colour.count())]
    assert "direction:pc:0" not in keys
    atlas_view.colour.setCurrentIndex(atlas_view.colour.findData("dim:2"))
    atlas_view.state.set_stats(LatentStats.from_dict(bundled.payload["latent_stats"]))
    keys = [atlas_view.colour.itemData(i) for i in range(atlas_view.colour.count())]
    assert "direction:pc:0" in keys and "direction:factor:mouth_curve" in keys
    assert atlas_view.colour.currentData() == "dim:2"            # the chosen colouring stays


def test_points_are_rasterized_where_the_view_puts_them():
    from vae_gui.explorer.atlas_raster import disc_offsets, rasterize

    coords = np.array([[0.0, 0.0], [0.9, -0.9], [5.0, 5.0]], np.float32)     # centre, lower right, outside
    colours = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]], np.uint8)
    image = rasterize(coords, colours, ((-1.0, 1.0), (-1.0, 1.0)), 100, 80, disc_offsets(5))
    assert image.shape == (80, 100, 4)
    np.testing.assert_array_equal(image[40, 50], [255, 0, 0, 255])
    np.testing.assert_array_equal(image[4, 95], [0, 255, 0, 255])             # row 0 is the bottom (y = -1)
    assert not (image[..., 2] > 0).any()                                      # the point outside is not drawn
    assert (image[..., 3] > 0).sum() == 2 * len(disc_offsets(5))


def test_zoomed_hover_and_click_pick_the_thumbnail_drawn_on_top(qtbot):
    """Two thumbnails overlap; under the cursor the later one is drawn on top although the cursor is nearer the
    other point's centre: hover and click pick the one the user sees."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor

    from vae_gui.explorer.atlas_plot import AtlasPlot

    plot = AtlasPlot()
    qtbot.addWidget(plot)
    plot.resize(600, 600)
    plot.show()
    qtbot.waitExposed(plot)
    plot.thumbnail_source = lambda index: np.full((8, 8, 3), 20 * index, np.uint8)
    plot.set_points(np.array([[0.0, 0.0], [0.3, 0.0]]), np.array([7, 9]), np.array([0, 0]), [QColor("red")])
    plot.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)
    plot.update_thumbnails()
    assert plot.thumbnail_count == 2
    first, second = (item.mapRectToView(item.boundingRect()) for item in plot._thumbnails[:2])
    assert first.right() > second.left()                        # they overlap, the second (id 9) on top
    cursor_x = (first.right() + second.left()) / 2 - 0.2 * (first.right() - second.left())   # nearer id 7's centre
    assert abs(cursor_x - 0.0) < abs(cursor_x - 0.3)
    scene = plot.plotItem.vb.mapViewToScene(QPointF(cursor_x, 0.05))
    hovered = []
    plot.hovered.connect(hovered.append)
    plot._on_mouse_moved(scene)
    assert hovered == [9]
    assert plot.point_at(scene) == 1
    outside = plot.plotItem.vb.mapViewToScene(QPointF(-0.8, 0.8))     # on no thumbnail: nothing
    assert plot.point_at(outside) == -1


def test_a_model_switch_clears_the_previous_models_preview(qtbot, atlas_view, tiny_checkpoint):
    atlas_view.plot._on_mouse_moved(scene_position(atlas_view, 40))
    assert not atlas_view.preview.image().isNull() and atlas_view.preview_name.text()
    atlas_view.state.set_checkpoint(load_checkpoint(tiny_checkpoint))
    assert atlas_view.preview.image().isNull()
    assert atlas_view.preview_name.text() == atlas_view.preview_value.text() == ""
    assert atlas_view.hovered_index == -1


# ---------------------------------------------------------------- CelebA's attribute list

CELEBA_TEXT = ("3\n5_o_Clock_Shadow Smiling Young\n000001.jpg -1  1  1\n000002.jpg  1 -1  1\n"
               "000003.jpg -1 -1 -1\n")


def test_celeba_attribute_list_reads_as_yes_no_categories(tmp_path):
    table = read_labels(write(tmp_path / "list_attr_celeba.txt", CELEBA_TEXT))
    assert table.columns == ("5_o_Clock_Shadow", "Smiling", "Young")
    assert table.kind("Smiling") == "category"
    smiling = table.column_for("Smiling", ["img/000001.jpg", "000002.png", "000004.jpg"])   # a png keeps its stem
    assert smiling.categories == ("no", "yes")
    np.testing.assert_array_equal(smiling.values, [1, 0, -1])


def test_celeba_attribute_list_is_found_in_an_anno_folder_beside_the_images(tmp_path):
    folder = tmp_path / "celeba" / "img"
    folder.mkdir(parents=True)
    (tmp_path / "celeba" / "Anno").mkdir()
    path = write(tmp_path / "celeba" / "Anno" / "list_attr_celeba.txt", CELEBA_TEXT)
    assert find_labels_file(folder) == path
    write(folder / "labels.csv", "file,age\na.png,1\n")
    assert find_labels_file(folder) == folder / "labels.csv"        # the user's own CSV comes first


def test_celeba_attribute_list_refusals_name_file_line_and_column(tmp_path):
    cases = {"count": ("x\nA B\n", "line 1 must be the number of images"),
             "value": ("1\nA Smiling\n1.jpg 1 2\n", "line 3, column Smiling: '2' is not -1 or 1"),
             "fields": ("1\nA B\n1.jpg 1\n", "line 3 has 2 fields"),
             "total": ("5\nA\n1.jpg 1\n", "announces 5 images but the file lists 1"),
             "twice": ("2\nA\n1.jpg 1\n1.jpg -1\n", "line 4: the file '1.jpg' is listed twice")}
    for name, (text, message) in cases.items():
        (tmp_path / name).mkdir()
        path = write(tmp_path / name / "list_attr_celeba.txt", text)
        with pytest.raises(LabelError, match=message) as caught:
            read_labels(path)
        assert str(path) in str(caught.value)


def test_labels_csv_columns_are_typed(tmp_path):
    table = read_labels(write(tmp_path / "labels.csv", "file,age,gender,mood\na.png,40,0,calm\nb.png,3.5,1,sad\n"))
    assert [table.kind(c) for c in table.columns] == ["number", "category", "category"]
