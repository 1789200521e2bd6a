"""The slider column's cheap paths: new statistics update rows in place, a move touches only the rows whose value
changed, and a column on a hidden tab catches up when shown."""
from dataclasses import replace

import pytest

from vae_gui import theme


@pytest.fixture
def panel(loaded_explorer_panel):
    return loaded_explorer_panel


def test_new_statistics_update_the_same_rows_in_place(panel):
    column = panel.sliders_tab.column
    rows = list(column.rows)
    specs = [replace(row.spec, low=row.spec.low - 1.0, high=row.spec.high + 1.0, kl=0.001, active=False)
             for row in rows]
    column.set_specs(specs)
    assert column.rows == rows                                # the same widgets, not a rebuilt column
    first = column.rows[0]
    assert first.spin.minimum() == pytest.approx(specs[0].low - (specs[0].high - specs[0].low), abs=0.01)
    assert "inactive" in first.detail.text() and "KL 0.00" in first.detail.text()
    assert theme.tone_of(first.name) is theme.Tone.MUTED
    assert first.name.palette().color(first.name.foregroundRole()) == theme.current().muted
    assert first.slider.value() == first.position_of(first.spec.value(panel.state.z))


def test_other_specs_rebuild_the_column(panel):
    column = panel.sliders_tab.column
    rows = list(column.rows)
    column.set_specs([replace(row.spec, key=row.spec.key + "-other") for row in rows[:2]])
    assert len(column.rows) == 2 and column.rows[0] is not rows[0]


def test_a_move_touches_only_the_row_that_changed(panel, monkeypatch):
    column = panel.sliders_tab.column
    calls = []
    for index, row in enumerate(column.rows):
        original = row.spin.setValue
        monkeypatch.setattr(row.spin, "setValue", lambda value, i=index, f=original: (calls.append(i), f(value)))
    column.set_value(1, column.rows[1].spec.value(panel.state.z) + 0.5)
    assert calls == [1]
    assert column.rows[1].spin.value() == pytest.approx(column.rows[1].spec.value(panel.state.z), abs=0.005)


def test_a_column_on_a_hidden_tab_catches_up_when_shown(qtbot, panel):
    panel.tabs.setCurrentWidget(panel.samples_tab)
    column = panel.sliders_tab.column
    qtbot.waitUntil(lambda: not column.isVisible())
    z = panel.state.z.copy()
    z[0] = column.rows[0].spec.high
    panel.state.set_z(z)
    assert column.rows[0].slider.value() != column.rows[0].position_of(z[0])     # not touched while hidden
    panel.tabs.setCurrentWidget(panel.sliders_tab)
    qtbot.waitUntil(column.isVisible)
    assert column.rows[0].slider.value() == column.rows[0].position_of(z[0])
    assert column.rows[0].spin.value() == pytest.approx(z[0], abs=0.005)


def test_a_double_click_on_the_groove_is_one_undo_step(qtbot, panel):
    """Qt sends press (the slider jumps to the click), release, double-click (reset): one edit, one undo."""
    from PySide6.QtCore import QPoint, Qt

    row = panel.sliders_tab.column.rows[0]
    row.slider.resize(400, max(row.slider.height(), 20))
    z = panel.state.z.copy()
    z[0] = row.spec.low + 0.1 * (row.spec.high - row.spec.low)
    panel.state.set_z(z)
    before = panel.state.z.copy()
    far = QPoint(int(row.slider.width() * 0.9), row.slider.height() // 2)
    # A real double-click is press, release, double-click, release; QTest.mouseDClick sends only the double-click.
    qtbot.mouseClick(row.slider, Qt.MouseButton.LeftButton, pos=far)
    qtbot.mouseDClick(row.slider, Qt.MouseButton.LeftButton, pos=far)
    assert panel.state.z[0] == pytest.approx(panel.state.mean_latent()[0], abs=1e-3)
    assert panel.state.undo()
    assert panel.state.z == pytest.approx(before, abs=1e-6)
