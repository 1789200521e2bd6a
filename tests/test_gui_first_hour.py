"""Issue 15, a new user's first hour: the window fits small screens, numbers agree, explanations are on the spot,
editing is precise, and the Train tab keeps its state. Offscreen; dialogs are patched so nothing blocks."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


from conftest import tiny_config  # noqa: E402
from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QAbstractScrollArea, QLabel, QMessageBox, QWidget  # noqa: E402

from trainer.training.checkpoint import FORMAT_NAME, load_checkpoint  # noqa: E402
from trainer.evaluation.association import DimLabels  # noqa: E402
from trainer.latent.sliders import FACTOR_LABEL_MIN_SCORE, axis_sliders  # noqa: E402
from trainer.latent.stats import compute_latent_stats  # noqa: E402
from vae_gui.explorer.checkpoint_text import describe_checkpoint, training_length  # noqa: E402
from vae_gui.explorer.panel import ExplorerPanel  # noqa: E402
from qt_doubles import RecordingDialogs  # noqa: E402
from vae_gui.training.kl_chart import KlChart, collapsed_colour  # noqa: E402
from vae_gui.training.panel import TrainingPanel  # noqa: E402
from vae_gui.training.run_state import RunState  # noqa: E402
from vae_gui.training.setup_form import SetupForm  # noqa: E402

WAIT_MS = 60_000


@pytest.fixture
def explorer(qtbot, tiny_checkpoint):
    panel = ExplorerPanel(dialogs=RecordingDialogs())
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    with qtbot.waitSignal(panel.latents_ready, timeout=WAIT_MS):
        assert panel.load_checkpoint(str(tiny_checkpoint))
    yield panel
    panel.shutdown()


# ---------------------------------------------------------------- a window that fits any screen

def _window_rect(widget: QWidget, window: QWidget) -> QRect:
    return QRect(QWidget.mapTo(widget, window, QPoint(0, 0)), QWidget.size(widget))   # some tabs shadow size


def _inside_scroll_area(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def layout_problems(window: QWidget) -> list[str]:
    """Buttons whose text does not fit, that stick out of a parent, or that overlap a sibling widget."""
    problems = []
    for button in window.findChildren(QAbstractButton):
        if not button.isVisibleTo(window) or button.width() == 0 or type(button).__name__ == "QTabBarCloseButton":
            continue
        if button.parentWidget() is not None and type(button.parentWidget()).__name__ in ("QTabBar", "QScrollBar"):
            continue                                   # tab-scroll arrows, scroll bar parts: Qt's own
        name = f"{type(button).__name__} {button.text()!r}"
        if button.sizeHint().width() > button.width() + 1:
            problems.append(f"{name}: text needs {button.sizeHint().width()} px, has {button.width()}")
        if not _inside_scroll_area(button):            # scrolled content may leave the viewport
            rect, parent = _window_rect(button, window), button.parentWidget()
            while parent is not None and parent is not window:
                if not _window_rect(parent, window).contains(rect):
                    problems.append(f"{name}: sticks out of {type(parent).__name__}")
                    break
                parent = parent.parentWidget()
        for sibling in button.parentWidget().children() if button.parentWidget() else []:
            if (sibling is button or not isinstance(sibling, QWidget) or not sibling.isVisibleTo(window)
                    or sibling.isWindow() or sibling.width() == 0):
                continue
            if sibling.geometry().intersects(button.geometry()):
                text = sibling.text() if isinstance(sibling, (QAbstractButton, QLabel)) else ""
                problems.append(f"{name} overlaps {type(sibling).__name__} {text!r}")
    return problems


@pytest.mark.slow
def test_every_tab_fits_1024x700_without_clipped_or_overlapping_buttons(qtbot, monkeypatch):
    from vae_gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    explorer = window.explorer_panel
    qtbot.waitUntil(lambda: explorer.state.data is not None, timeout=WAIT_MS)
    explorer.faces.randomize_from_data()               # the comparison box filled, as a user soon has it
    problems = {}
    for index in range(explorer.tabs.count()):
        window.tabs.setCurrentWidget(explorer)
        explorer.tabs.setCurrentIndex(index)
        qtbot.wait(30)
        problems[explorer.tabs.tabText(index)] = layout_problems(window)
    window.tabs.setCurrentWidget(window.training_panel)
    qtbot.wait(30)
    problems["Train"] = layout_problems(window)
    assert not any(problems.values()), problems
    training = window.training_panel
    for button in (training.start_button, training.stop_button, training.explorer_button):
        assert not _inside_scroll_area(button)          # Start never scrolls out of sight
        assert window.rect().contains(_window_rect(button, window))
    assert explorer.face_panel.view.width() >= 160
    window.resize(1920, 1080)
    window.tabs.setCurrentWidget(explorer)
    qtbot.wait(50)
    assert min(explorer.face_panel.view.width(), explorer.face_panel.view.height()) >= 480  # the face grows
    window.close()


def test_controls_do_not_move_after_the_first_random_data(qtbot, explorer):
    watched = list(explorer.face_panel.buttons.values()) + [explorer.face_panel.smooth, explorer.face_panel.view]
    qtbot.wait(50)                               # the layout after loading settles first
    before = [(w.mapTo(explorer, QPoint(0, 0)), w.size()) for w in watched]
    assert not explorer.face_panel.has_encoded
    explorer.faces.randomize_from_data()
    qtbot.wait(20)
    assert explorer.face_panel.has_encoded
    after = [(w.mapTo(explorer, QPoint(0, 0)), w.size()) for w in watched]
    assert after == before
    explorer.faces.randomize_from_prior()              # and back: nothing moves either
    qtbot.wait(20)
    assert [(w.mapTo(explorer, QPoint(0, 0)), w.size()) for w in watched] == before


# ---------------------------------------------------------------- numbers that agree

def test_epoch_label_counts_completed_epochs(tiny_checkpoint):
    checkpoint = load_checkpoint(tiny_checkpoint)       # 2 epochs of 8 steps (128 train faces, batch 16)
    assert training_length(checkpoint) == "16 steps, 2 epochs"
    assert "Trained 16 steps, 2 epochs" in describe_checkpoint(checkpoint)
    checkpoint.payload.update(step=6, epoch=0)           # stopped in the first epoch
    assert training_length(checkpoint) == "6 steps, 0.8 epochs"
    checkpoint.payload.update(step=8, epoch=1)
    assert training_length(checkpoint) == "8 steps, 1 epoch"


def test_the_info_panel_names_where_a_checkpoint_comes_from(tiny_checkpoint, tmp_path):
    """The bundled model says so (not the package's install folder); a user's folder is shown escaped."""
    import shutil

    from trainer.resources import default_checkpoint
    bundled = describe_checkpoint(load_checkpoint(default_checkpoint()))
    assert "bundled with the app" in bundled and str(default_checkpoint().parent) not in bundled
    odd = tmp_path / "a<b>&c"
    odd.mkdir()
    text = describe_checkpoint(load_checkpoint(shutil.copy(tiny_checkpoint, odd / "best.pt")))
    assert "a&lt;b&gt;&amp;c" in text and "bundled" not in text


def test_active_dimensions_agree_between_train_and_explore_tabs(qtbot, explorer):
    """A dim whose encoder mean barely varies but whose KL is 2 nats is active in both tabs; one with KL 0.005
    is inactive in both: one definition (mean KL >= 0.01 nats)."""
    rng = np.random.default_rng(0)
    n = 400
    spread = [0.05, 1.0, 0.02, 0.8, 1.2, 0.9]                    # dim 0: tiny spread of the mean...
    logvar = [-4.0, -1.0, -0.01, -1.0, -1.0, -1.0]               # ...but a narrow posterior: KL ~ 1.5 nats
    means = rng.normal(0, 1, (n, 6)) * spread
    logvars = np.tile(logvar, (n, 1))
    stats = compute_latent_stats(means, logvars)
    assert stats.kl_per_dim[0] > 1.0 and stats.kl_per_dim[2] < 0.01
    explorer.state.set_stats(stats, "test")
    rows = explorer.sliders_tab.column.rows
    explore_inactive = [row.spec.label for row in rows if not row.spec.active]
    assert explore_inactive == ["dim 2"]
    assert "inactive" in rows[2].detail.text() and "inactive" not in rows[0].detail.text()
    assert "0.01 nats" in rows[2].name.toolTip()
    assert "5 of 6 dims active (KL >= 0.01 nats)" in explorer.sliders_tab.summary.text()
    assert "0.01 nats" in explorer.sliders_tab.summary.toolTip()

    run = RunState()
    chart = KlChart(run)
    qtbot.addWidget(chart)
    run.kl_per_dim = np.asarray(stats.kl_per_dim, np.float64)
    run.kl_changed.emit()
    assert "5 of 6 active" in chart.title.text()
    colours = chart.bar_colours()
    assert [i for i, c in enumerate(colours) if c == collapsed_colour()] == [2]
    assert "0.01 nats" in chart.toolTip()


# ---------------------------------------------------------------- explanations on the spot

def _tested(names, scores, significant):
    return DimLabels(names=names, scores=scores, significant=significant, threshold=0.05, n_images=200, shuffles=100)


def test_factor_labels_hidden_below_the_score_threshold_or_by_chance():
    rng = np.random.default_rng(1)
    stats = compute_latent_stats(rng.normal(size=(200, 4)))
    stats.dim_labels = _tested(["glasses", "background_hue", "smile", "hair_style"],
                               [1.0, FACTOR_LABEL_MIN_SCORE - 0.01, FACTOR_LABEL_MIN_SCORE, 0.9],
                               [True, True, True, False])
    details = [spec.detail for spec in axis_sliders(stats, [0, 1, 2, 3], 4)]
    assert details == ["~ glasses 1.00", "", f"~ smile {FACTOR_LABEL_MIN_SCORE:.2f}", ""]


def test_untested_factor_scores_of_older_files_need_many_images():
    rng = np.random.default_rng(1)
    stats = compute_latent_stats(rng.normal(size=(200, 2)))
    stats.dim_factors = [("glasses", 0.9), ("smile", 0.3)]            # stored before the shuffled test
    assert [spec.detail for spec in axis_sliders(stats, [0, 1], 2)] == ["", ""]
    stats.n_samples = 2000
    assert [spec.detail for spec in axis_sliders(stats, [0, 1], 2)] == ["~ glasses 0.90", ""]


def test_factor_label_tooltip_states_the_threshold(qtbot, explorer):
    rng = np.random.default_rng(1)
    stats = compute_latent_stats(rng.normal(size=(200, 6)), rng.normal(-1, 0.1, (200, 6)))
    stats.dim_labels = _tested(["glasses"] + ["background_hue"] * 5, [0.9] + [0.4] * 5, [True] + [False] * 5)
    explorer.state.set_stats(stats, "test")
    rows = explorer.sliders_tab.column.rows
    assert "~ glasses 0.90" in rows[0].detail.text() and "background_hue" not in rows[1].detail.text()
    assert "shuffled" in rows[0].name.toolTip() and f"from {FACTOR_LABEL_MIN_SCORE:g}" in rows[0].name.toolTip()
    assert "KL" in rows[0].name.toolTip()


def test_info_panel_explains_its_numbers(explorer):
    tip = explorer.info.text.toolTip()
    for word in ("PSNR", "SSIM", "KL", "active dims", "0.01 nats"):
        assert word in tip, tip


def test_help_guide_and_about(qtbot, monkeypatch):
    from vae_gui.help import about_text, app_version
    from vae_gui.main_window import MainWindow

    monkeypatch.setattr("vae_gui.main_window.default_checkpoint", lambda: None)
    window = MainWindow()
    qtbot.addWidget(window)
    guide = window.show_guide()
    text = guide.browser.toPlainText()
    for phrase in ("variational autoencoder", "Explore", "Train", "KL", "MIG", "ELBO", "PSNR", "SSIM",
                   "Active dimension", "Ctrl+Z"):
        assert phrase in text, phrase
    guide.close()
    from trainer.package import __version__
    assert app_version() == __version__ and re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)
    from trainer.training.checkpoint import FORMAT_VERSION
    assert __version__ in about_text() and f"format version {FORMAT_VERSION}" in about_text()
    window.close()


# ---------------------------------------------------------------- every error is our sentence

def test_hostile_checkpoint_message_in_the_explorer_never_teaches_the_bypass(explorer, tmp_path):
    class CreatesFile:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    path = tmp_path / "hostile.pt"
    torch.save({"format": FORMAT_NAME, "format_version": 1, "config": {}, "model_state": {},
                "payload": CreatesFile()}, path)
    assert not explorer.load_checkpoint(str(path))
    title, text = explorer.dialogs.errors[-1]
    assert str(path) in text and "code that could run" in text
    assert "weights_only" not in text and "torch.load" not in text
    assert not (tmp_path / "pwned").exists()


def test_encoding_a_bad_image_file_names_it_in_our_words(explorer, tmp_path):
    junk = tmp_path / "holiday.png"
    junk.write_bytes(b"not really a picture" * 20)
    assert not explorer.start_from_file(str(junk))
    title, text = explorer.dialogs.errors[-1]
    assert str(junk) in text and "not an image" in text
    assert "UnidentifiedImageError" not in text and "cannot identify" not in text


# ---------------------------------------------------------------- precise editing

def test_slider_steps_typed_values_and_double_click_reset(qtbot, explorer):
    row = explorer.sliders_tab.column.rows[1]
    span = row.spec.high - row.spec.low
    assert row.slider.singleStep() == 10 and row.slider.pageStep() == 100        # 1% and 10% of the range
    row.spin.setValue(round(row.spec.low + 0.25 * span, 2))                     # typed, Enter pressed
    assert explorer.state.z[1] == pytest.approx(round(row.spec.low + 0.25 * span, 2), abs=1e-4)
    row.slider.setFocus()
    before = row.slider.value()
    qtbot.keyClick(row.slider, Qt.Key.Key_PageUp)
    assert row.slider.value() == before + 100
    qtbot.mouseDClick(row.slider, Qt.MouseButton.LeftButton)
    assert explorer.state.z[1] == pytest.approx(explorer.state.mean_latent()[1], abs=1e-4)


def test_click_on_the_track_jumps_there(qtbot, explorer):
    row = explorer.sliders_tab.column.rows[0]
    row.slider.resize(400, row.slider.height())
    qtbot.mouseClick(row.slider, Qt.MouseButton.LeftButton, pos=QPoint(int(row.slider.width() * 0.9),
                                                                        row.slider.height() // 2))
    assert row.slider.value() > 800


def test_undo_and_redo_face_edits_a_drag_is_one_step(qtbot, explorer):
    state = explorer.state
    start = state.z.copy()
    row = explorer.sliders_tab.column.rows[0]
    row.slider.sliderPressed.emit()                      # a drag: press, many moves, release
    for position in (100, 200, 300, 400):
        row.slider.setValue(position)
    row.slider.sliderReleased.emit()
    after_drag = state.z.copy()
    explorer.sliders_tab.column.set_value(3, 0.5)        # a typed value: another step
    assert state.can_undo
    explorer.faces.undo()
    np.testing.assert_array_equal(state.z, after_drag)
    explorer.faces.undo()
    np.testing.assert_array_equal(state.z, start)
    assert not state.can_undo
    explorer.faces.redo()
    np.testing.assert_array_equal(state.z, after_drag)


def test_undo_shortcuts_in_the_edit_menu(qtbot, monkeypatch, tiny_checkpoint):
    from vae_gui.main_window import MainWindow

    monkeypatch.setattr("vae_gui.main_window.default_checkpoint", lambda: None)
    window = MainWindow(checkpoint=Path(tiny_checkpoint))
    qtbot.addWidget(window)
    panel = window.explorer_panel
    assert panel.menus.undo_action.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [s.toString() for s in panel.menus.redo_action.shortcuts()]
    assert not panel.menus.undo_action.isEnabled()
    panel.faces.randomize_from_prior()
    assert panel.menus.undo_action.isEnabled()
    panel.menus.undo_action.trigger()
    assert panel.menus.redo_action.isEnabled()
    window.close()


def test_save_face_at_a_chosen_size(explorer, tmp_path):
    path = tmp_path / "face.png"
    explorer.dialogs.next_path, explorer.dialogs.next_size = str(path), 256
    explorer.faces.ask_save_face()
    with Image.open(path) as image:
        assert image.size == (256, 256)


def test_save_gif_reports_in_the_status_bar(qtbot, explorer, tmp_path):
    messages = []
    explorer.status_message.connect(messages.append)
    explorer.dialogs.next_path = str(tmp_path / "morph.gif")
    explorer.morph_tab._ask_save_gif()
    assert (tmp_path / "morph.gif").is_file() and messages[-1] == f"Saved {tmp_path / 'morph.gif'}"


# ---------------------------------------------------------------- the Train tab keeps its state

def test_form_is_remembered_between_launches(qtbot, tmp_path):
    form = SetupForm()
    qtbot.addWidget(form)
    form.set_config(tiny_config(tmp_path / "runs", epochs=7))
    form.time_budget.setValue(3.0)
    form.beta.setValue(0.25)
    again = SetupForm()                                   # the next launch (QSettings isolated by conftest)
    qtbot.addWidget(again)
    assert again.epochs.value() == 7 and again.time_budget.value() == 3.0 and again.beta.value() == 0.25
    assert again.runs_dir.text() == str(tmp_path / "runs")
    assert again.config().train.time_budget_minutes == 3.0


def test_time_budget_maps_to_the_config_and_the_remaining_time_is_shown(qtbot, tmp_path):
    from trainer.training.events import RunStarted, StepMetrics
    from vae_gui.training.run_texts import progress_bar
    from vae_gui.training.updates import TrainingUpdate

    form = SetupForm()
    qtbot.addWidget(form)
    assert form.config().train.time_budget_minutes == 0.0 and form.time_budget.text() == "off"
    form.time_budget.setValue(10.0)
    assert form.config().train.time_budget_minutes == 10.0
    state = RunState(clock=lambda: 0.0)
    state.begin("loading data…")
    config = {"train": {"epochs": 5, "time_budget_minutes": 10.0}}
    state.apply(TrainingUpdate(started=RunStarted(run_dir="r", config=config, total_steps=500, start_step=0,
                                                  n_train=100, n_test=10, param_count=1, device="cpu",
                                                  precision="fp32")))
    state.apply(TrainingUpdate(latest=StepMetrics(step=10, epoch=0, total_steps=100, loss=1.0, recon=1.0, kl=0.0,
                                                  beta=1.0, lr=1e-3, images_per_s=50.0, eta_s=125.0)))
    assert "2:05 left of the 10 min budget" in progress_bar(state).format
    state.request_pause()
    state.apply(TrainingUpdate(paused=True))
    assert "paused" in progress_bar(state).format and "2:05" not in progress_bar(state).format


def test_start_is_unavailable_for_an_empty_folder_and_the_banner_clears(qtbot, tmp_path):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(panel.setup_form._scanner.summary_ready, timeout=10_000):
        panel.setup_form.set_data_folder(str(empty))
    qtbot.waitUntil(lambda: not panel.start_button.isEnabled(), timeout=5_000)
    assert str(empty) in panel.setup_form.validation_label.text()
    panel.show_error("Training failed: something about the old folder")
    panel.state.set_status("failed", "x")
    panel.setup_form.synthetic_radio.setChecked(True)            # a valid choice
    assert panel.start_button.isEnabled()
    assert panel.error_banner.message == ""
    panel.shutdown()


def test_open_in_explorer_falls_back_to_last_checkpoint(qtbot, tmp_path, tiny_checkpoint):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert not panel.explorer_button.isEnabled()
    last = tmp_path / "last.pt"
    last.write_bytes(Path(tiny_checkpoint).read_bytes())
    panel.state.last_checkpoint = str(last)             # stopped before the first validation: no best.pt
    panel.state.set_status("stopped", "stopped")
    assert panel.explorer_button.isEnabled()
    with qtbot.waitSignal(panel.open_in_explorer) as opened:
        panel.explorer_button.click()
    assert opened.args == [str(last)]


def test_a_new_start_clears_the_previous_progress(qtbot):
    from trainer.training.events import RunStarted, StepMetrics
    from vae_gui.training.progress_view import ProgressView
    from vae_gui.training.updates import TrainingUpdate

    state = RunState()
    view = ProgressView(state)
    qtbot.addWidget(view)
    state.begin("loading data…")
    state.apply(TrainingUpdate(started=RunStarted(run_dir="r", config={"train": {"epochs": 2}}, total_steps=100,
                                                  start_step=0, n_train=10, n_test=2, param_count=1, device="cpu",
                                                  precision="fp32", steps_per_epoch=50)))
    state.apply(TrainingUpdate(latest=StepMetrics(step=100, epoch=1, total_steps=100, loss=1.0, recon=1.0, kl=0.0,
                                                  beta=1.0, lr=1e-3, images_per_s=50.0, eta_s=0.0)))
    assert "epoch 2/2" in view.bar.format()
    state.begin("loading data…")
    assert "epoch" not in view.bar.format() and view.bar.value() == 0


def _answer_close(monkeypatch, button):
    asked = []

    def exec_(box):
        asked.append(box.text())
        return button

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return asked


def test_closing_during_a_run_asks_first(qtbot, tmp_path, monkeypatch):
    from vae_gui.main_window import MainWindow

    monkeypatch.setattr("vae_gui.main_window.default_checkpoint", lambda: None)
    window = MainWindow(start_on_training=True)
    qtbot.addWidget(window)
    window.show()
    panel = window.training_panel
    panel.setup_form.set_config(tiny_config(tmp_path / "runs", epochs=1000, final_eval=False))
    assert panel.start_training()
    qtbot.waitUntil(lambda: panel.state.latest is not None, timeout=WAIT_MS)

    asked = _answer_close(monkeypatch, QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert asked and "Stop it and quit" in asked[0]
    assert panel.is_training and window.isVisible()

    _answer_close(monkeypatch, QMessageBox.StandardButton.Save)
    assert window.close()
    assert not panel.is_training
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "last.pt").is_file()


# ---------------------------------------------------------------- the training thread policy

def test_training_threads_follow_the_gui(monkeypatch):
    from vae_gui.training import worker

    monkeypatch.setattr(worker, "available_cores", lambda: 2)
    assert worker.gui_torch_threads() == 2                 # an idle window: every core, as the CLI
    policy = worker.default_thread_policy()
    assert (policy.full, policy.busy) == (2, 1)
    before = torch.get_num_threads()
    try:
        policy.apply()
        assert torch.get_num_threads() == 2
        policy.note_gui_busy()                             # the user drags a slider
        policy.apply()
        assert torch.get_num_threads() == 1
        policy._busy_until = 0.0                           # ... and stops
        policy.apply()
        assert torch.get_num_threads() == 2 and policy.switches == 3
    finally:
        torch.set_num_threads(before)


def test_kl_chart_follows_the_history_scrubber(qtbot):
    state = RunState()
    chart = KlChart(state)
    qtbot.addWidget(chart)
    state.kl_history = [(10, np.array([0.5, 0.001, 0.2])), (20, np.array([0.9, 0.3, 0.002]))]
    state.kl_per_dim = state.kl_history[-1][1]
    state.kl_changed.emit()
    assert "2 of 3 active" in chart.title.text() and "at step" not in chart.title.text()
    state.set_shown_step(15)                               # scrubbed back to a snapshot at step 15
    assert "at step 10" in chart.title.text()
    assert [c == collapsed_colour() for c in chart.bar_colours()] == [False, True, False]
    state.set_shown_step(None)
    assert [c == collapsed_colour() for c in chart.bar_colours()] == [False, False, True]


def test_first_window_fits_a_small_screen():
    from PySide6.QtCore import QSize

    from vae_gui.main_window import initial_size

    preferred = initial_size(None)
    for screen in (QSize(1366, 728), QSize(1024, 700), QSize(1280, 1024)):      # laptops' free areas (Xvfb's too)
        size = initial_size(screen)
        assert size.width() < screen.width() and size.height() < screen.height()       # fits, with room to spare
        assert size.width() >= 0.9 * min(screen.width(), preferred.width())           # and uses most of it
        assert size.height() >= 0.9 * min(screen.height(), preferred.height())
    assert initial_size(QSize(2560, 1400)) == preferred             # a large screen: the preferred size


def test_gui_runs_log_every_step_so_a_resume_redraws_finely(tmp_path):
    from vae_gui.training.panel import gui_run_config

    assert tiny_config(tmp_path).train.log_every_steps == 10
    assert gui_run_config(tiny_config(tmp_path)).train.log_every_steps == 1


def test_libraries_for_background_work_are_imported_at_start_up(monkeypatch):
    """Importing scikit-learn in a worker froze the GUI (an import holds the GIL); the app imports it at start-up,
    on a thread started once its window is shown (tests/test_gui_main_window.py checks the order)."""
    import sys

    from vae_gui import app as app_module

    assert {"sklearn.metrics", "sklearn.mixture", "scipy.spatial"} <= set(app_module.LATER_IMPORTS)
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    app_module.start_preloading(("colorsys", "no_such_module_here")).join(timeout=30)
    assert "colorsys" in sys.modules                      # imported; the missing one is left for its user


def test_small_machines_keep_qt_painting_in_the_gui_thread(monkeypatch):
    """On 2 cores Qt's paint thread pool made the GUI thread wait for its helpers (a slider move up to twice as long)."""
    from vae_gui import app as app_module

    monkeypatch.delenv("QT_NO_GUI_THREADPOOL", raising=False)
    assert not app_module.configure_qt_threads(cores=16) and "QT_NO_GUI_THREADPOOL" not in os.environ
    assert app_module.configure_qt_threads(cores=2) and os.environ["QT_NO_GUI_THREADPOOL"] == "1"
    monkeypatch.setenv("QT_NO_GUI_THREADPOOL", "")                  # the user's own setting wins
    assert not app_module.configure_qt_threads(cores=2) and os.environ["QT_NO_GUI_THREADPOOL"] == ""
