"""The "Your labels" slider mode, the live readout of the current face's labels and the info panel's probe line."""
import numpy as np
import pytest

from trainer.data.labels import LabelColumn
from trainer.latent.label_directions import fit_label_models
from vae_gui.explorer.checkpoint_text import describe_checkpoint


def _store_labels(checkpoint, latent_dim: int) -> None:
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(300, latent_dim))
    age = (40 + 10 * latents[:, 0]).astype(np.float32)
    gender = (latents[:, 1] + 0.5 * latents[:, 0] > 0).astype(np.float32)
    columns = [LabelColumn("age", age), LabelColumn("gender", gender, ("female", "male"))]
    models = fit_label_models(latents[:200], [LabelColumn(c.name, c.values[:200], c.categories) for c in columns],
                              latents[200:], [LabelColumn(c.name, c.values[200:], c.categories) for c in columns])
    checkpoint.payload.setdefault("eval", {})["labels"] = {**models.to_dict(), "file": "labels.csv",
                                                           "n_train": 200, "n_test": 100}


@pytest.fixture
def labelled_panel(loaded_explorer_panel):
    panel = loaded_explorer_panel
    state = panel.state
    _store_labels(state.checkpoint, state.latent_dim)
    state.set_checkpoint(state.checkpoint, state.stats)
    return panel


def test_your_labels_mode_moves_age_and_holding_gender_keeps_it(labelled_panel, qtbot):
    panel = labelled_panel
    tab, state = panel.sliders_tab, panel.state
    readout = tab.readout
    assert readout.isVisible() and readout.text.text().startswith("Predicted: age ≈ ")
    state.set_slider_mode("labels")
    keys = [row.spec.key for row in tab.column.rows]
    assert keys == ["label:age", "label:gender=female", "label:gender=male"]
    readout.held.setCurrentIndex(readout.held.findData("gender"))
    age_row = next(row for row in tab.column.rows if row.spec.key == "label:age")
    assert "gender held fixed" in age_row.spec.detail
    gender = readout.models.probe("gender")
    before = gender.predict(state.z)[0, 1]
    state.set_z(age_row.spec.moved(state.z, age_row.spec.high))
    assert abs(gender.predict(state.z)[0, 1] - before) < 1e-6
    assert readout.text.text() == "Predicted: " + readout.models.readout(state.z)    # followed the move


def test_without_labels_the_mode_is_off_and_the_readout_hidden(loaded_explorer_panel):
    tab = loaded_explorer_panel.sliders_tab
    assert not tab.readout.isVisible()
    assert not tab.mode.model().item(tab.mode.findData("labels")).isEnabled()


def test_info_panel_gives_each_labels_probe_quality_and_the_images_used(labelled_panel):
    text = describe_checkpoint(labelled_panel.state.checkpoint)
    assert "Labels (100 test images): age R² 1.00 · gender " in text and "(chance 0.50)" in text
