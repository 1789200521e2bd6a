"""The explorer's SeFa slider mode, the Directions tab's "hold fixed" and the Variations tab, on a tiny checkpoint."""
import numpy as np
import pytest

from trainer.latent.directions import model_sefa_directions


@pytest.fixture
def panel(loaded_explorer_panel):
    return loaded_explorer_panel


def test_sefa_mode_shows_a_slider_per_closed_form_direction(panel):
    tab = panel.sliders_tab
    tab.k.setValue(3)
    panel.state.set_slider_mode("sefa")
    rows = tab.column.rows
    assert [row.spec.label for row in rows] == ["SeFa 1", "SeFa 2", "SeFa 3"]
    expected = model_sefa_directions(panel.state.model, k=3).directions
    np.testing.assert_allclose(np.stack([row.spec.direction for row in rows]), expected, atol=1e-6)
    assert "W^T W" in tab.summary.text()
    z_before = panel.state.z.copy()
    tab.column.set_value(0, rows[0].spec.high)
    step = panel.state.z - z_before
    np.testing.assert_allclose(step / np.linalg.norm(step), expected[0], atol=1e-4)


def _two_directions(panel):
    """Directions "first" and "second" made in the Directions tab from different groups of test images."""
    tab, data = panel.directions_tab, panel.state.data
    tab.add_to_group("A", data.test_latents[:3], data.test_images[:3])
    tab.add_to_group("B", data.test_latents[3:6], data.test_images[3:6])
    first = tab.create_direction("first")
    tab.add_to_group("B", data.test_latents[6:9], data.test_images[6:9])
    return first, tab.create_direction("second")


def test_holding_a_direction_fixed_keeps_it_while_another_moves(panel):
    tab = panel.directions_tab
    first, second = _two_directions(panel)
    tab.hold_fixed(first.key)
    row = tab.custom_sliders.rows[1]
    assert "first held fixed" in row.spec.detail
    before = first.value(panel.state.z)
    tab.custom_sliders.set_value(1, row.spec.high)
    assert first.value(panel.state.z) == pytest.approx(before, abs=1e-4)
    assert second.value(panel.state.z) != pytest.approx(second.value(panel.state.mean_latent()), abs=1e-3)
    tab.hold_fixed("")
    np.testing.assert_allclose(tab.custom_sliders.rows[1].spec.direction, second.direction)


def test_one_direction_can_be_removed_and_the_others_stay(panel):
    tab = panel.directions_tab
    first, second = _two_directions(panel)
    tab.hold_fixed(first.key)
    tab.remove_menu.aboutToShow.emit()                  # as opening the "Remove" menu does
    actions = tab.remove_menu.actions()
    assert [action.text() for action in actions] == ["first", "second"]
    actions[0].trigger()
    assert [spec.key for spec in panel.state.custom_directions] == [second.key]
    assert [row.spec.label for row in tab.custom_sliders.rows] == ["second"]
    assert tab.held_spec() is None                       # the held direction went with it
    held_choices = [tab.hold.itemData(i) for i in range(tab.hold.count())]
    assert second.key in held_choices and first.key not in held_choices
    tab.remove_menu.aboutToShow.emit()
    tab.remove_menu.actions()[0].trigger()
    assert panel.state.custom_directions == [] and tab.custom_box.isHidden()


def test_clicking_a_variation_makes_it_the_current_face(qtbot, panel):
    tab = panel.variations_tab
    panel.tabs.setCurrentWidget(tab)
    tab.side.setCurrentIndex(tab.side.findData(3))
    tab.redraw()
    assert len(tab.latents) == 9 and tab.centre == 4 and tab.grid.highlighted == {4}
    np.testing.assert_array_equal(tab.latents[4], panel.state.z)
    picked = tab.latents[0].copy()
    seed = tab.seed.value()
    tab.pick(0)
    np.testing.assert_array_equal(panel.state.z, picked)
    assert tab.seed.value() == seed + 1
    qtbot.waitUntil(lambda: np.array_equal(tab.latents[4], picked), timeout=5000)    # new ones around it
    shown = tab.latents.copy()
    tab.roll()
    assert not np.array_equal(tab.latents, shown)
    np.testing.assert_array_equal(tab.latents[4], picked)
    tab.strength.setValue(0.0)
    assert (tab.latents == picked).all()


def test_create_direction_twice_is_refused_with_a_message(panel):
    """The same groups make the same vector: the second press says so instead of adding a silent copy."""
    tab, data = panel.directions_tab, panel.state.data
    tab.add_to_group("A", data.test_latents[:3], data.test_images[:3])
    tab.add_to_group("B", data.test_latents[3:6], data.test_images[3:6])
    tab.name_edit.setText("smile")
    tab._create_from_groups()
    tab.name_edit.setText("smile")
    tab._create_from_groups()
    assert [spec.label for spec in panel.state.custom_directions] == ["smile"]
    assert "'smile' already goes this way" in tab.maker_note.text()
