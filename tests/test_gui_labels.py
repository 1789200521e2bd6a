"""The "Your labels" slider mode, the live readout of the current face's labels and the info panel's probe line."""
import numpy as np
import pytest

from trainer.data.labels import LabelColumn
from trainer.evaluation.label_probes import label_dim_labels
from trainer.latent.label_directions import fit_label_models
from vae_gui.explorer.checkpoint_text import describe_checkpoint


def _store_labels(checkpoint, latent_dim: int) -> None:
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(300, latent_dim))
    age = (40 + 10 * latents[:, 0]).astype(np.float32)
    gender = (latents[:, 1] + 0.5 * latents[:, 0] > 0).astype(np.float32)
    columns = [LabelColumn("age", age), LabelColumn("gender", gender, ("female", "male"))]
    test_columns = [LabelColumn(c.name, c.values[200:], c.categories) for c in columns]
    models = fit_label_models(latents[:200], [LabelColumn(c.name, c.values[:200], c.categories) for c in columns],
                              latents[200:], test_columns)
    checkpoint.payload.setdefault("eval", {})["labels"] = {
        **models.to_dict(), "file": "labels.csv", "n_train": 200, "n_test": 100,
        "dim_labels": label_dim_labels(latents[200:], test_columns).to_dict()}


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
    assert keys == ["label:age", "label:gender=male"]     # two categories: one slider
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


def test_a_dimension_that_holds_a_label_carries_its_name_and_the_images_tested(labelled_panel):
    tab = labelled_panel.sliders_tab
    labelled_panel.state.set_slider_mode("axes")
    details = {row.spec.key: row.detail.text() for row in tab.column.rows}
    assert "~ age " in details["dim:0"] and "~ gender " in details["dim:1"] and "~ " not in details["dim:2"]
    assert "; 2 named after a label (only where it beats the same 100 test images with their labels " \
           "shuffled)" in tab.summary.text()
    text = describe_checkpoint(labelled_panel.state.checkpoint)
    assert "Label names beside sliders: tested against shuffled labels on 100 test images" in text


def test_the_age_slider_shows_years_over_the_training_faces_range(labelled_panel):
    tab, state = labelled_panel.sliders_tab, labelled_panel.state
    state.set_slider_mode("labels")
    row = next(row for row in tab.column.rows if row.spec.key == "label:age")
    assert row.spec.unit == "years" and "years · training faces " in row.detail.text()
    assert 10 < row.spec.low < 30 and 50 < row.spec.high < 70          # age is 40 + 10 z: +- 2.3 spreads
    tab.column.set_value(tab.column.rows.index(row), 55.0)
    assert row.spin.value() == pytest.approx(55.0, abs=0.01) and row.spin.text() == "55.0"
    assert "age ≈ 55 years" in tab.readout.text.text()
