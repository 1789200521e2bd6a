"""The Train tab states what a time budget buys before Start (from the shipped curve and this computer's speed) and,
after a run, how the run compares; with no curve it states nothing."""
from __future__ import annotations

import pytest

from test_budget_curve import curve, photo_config, write_run
from tests.imagefiles import write_images
from trainer.training.events import RunFinished, RunStarted
from vae_gui.training import setup_form as setup_form_module
from vae_gui.training.panel import TrainingPanel
from vae_gui.training.setup_form import SetupForm
from vae_gui.training.updates import TrainingUpdate

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore("propagateSizeHints")]


@pytest.fixture
def folder_config(tmp_path):
    write_images(tmp_path / "faces", 6)
    return photo_config(tmp_path, minutes=10, source=str(tmp_path / "faces"))


def make_form(qtbot, monkeypatch, shipped) -> SetupForm:
    monkeypatch.setattr(setup_form_module, "shipped_budget_curve", lambda: shipped)
    form = SetupForm()
    qtbot.addWidget(form)
    return form


def shown(form: SetupForm) -> str:
    return form.expectation_label.text() if not form.expectation_label.isHidden() else ""


def test_without_a_curve_the_form_states_no_expectation(qtbot, monkeypatch, folder_config):
    form = make_form(qtbot, monkeypatch, None)
    form.set_config(folder_config)
    assert shown(form) == ""


def test_with_a_curve_the_form_states_what_the_budget_buys(qtbot, monkeypatch, folder_config):
    form = make_form(qtbot, monkeypatch, curve())
    form.set_config(folder_config)
    assert shown(form).startswith("10 min ≈ 2,000 steps at the speed of the machine the curve was measured on")
    form.time_budget.setValue(20.0)
    assert shown(form).startswith("20 min ≈ 4,000 steps")
    form.time_budget.setValue(0.0)
    assert shown(form) == ""


def test_on_a_faster_computer_the_form_uses_its_measured_speed(qtbot, monkeypatch, folder_config, tmp_path):
    write_run(tmp_path / "runs", "photo-earlier", "photo", [800.0, 800.0])
    form = make_form(qtbot, monkeypatch, curve())
    form.set_config(folder_config)
    assert shown(form).startswith("10 min ≈ 4,000 steps at this computer's speed (800 images/s in run photo-earlier)")


def test_after_a_run_the_panel_compares_it_with_the_curve(qtbot, monkeypatch, folder_config):
    monkeypatch.setattr(setup_form_module, "shipped_budget_curve", lambda: curve())
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    started = RunStarted(run_dir="r", config=folder_config.to_dict(), total_steps=2000, start_step=0, n_train=6,
                         n_test=2, param_count=1, device="cpu", precision="fp32")
    panel.state.apply(TrainingUpdate(started=started))
    panel.state.run_finished.emit(RunFinished(status="completed", message="finished", step=2000, run_dir="r",
                                              best_checkpoint=None, last_checkpoint=None,
                                              final_eval={"psnr": 24.12, "ssim": 0.741}))
    assert shown(panel.setup_form) == (
        "This run: PSNR 24.1 dB, expected ≈ 23.0 at 2,000 steps; SSIM 0.741, expected ≈ 0.700.")
    panel.shutdown(timeout_s=5.0)
