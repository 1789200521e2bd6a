"""The Train tab: real tiny training runs on a worker thread, observed through signals (offscreen Qt)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import tiny_config
from PySide6.QtCore import Qt

from trainer.training.checkpoint import load_checkpoint
from trainer.training.events import EvalMetrics, Preview, RunFinished, RunStarted, StepMetrics
from vae_gui.training.kl_chart import KlChart, collapsed_colour
from vae_gui.training.panel import TrainingPanel
from vae_gui.training.run_state import RunState
from vae_gui.training.smoothing import EmaSeries
from vae_gui.training.snapshots import PreviewGrids, SnapshotStore
from vae_gui.training.updates import EventBatcher

# Qt warnings fail a test (e.g. "QThread: Destroyed while thread is still running"); the offscreen platform's
# note about size hints is harmless.
pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore("propagateSizeHints")]

RUN_TIMEOUT_MS = 60_000
LONG_EPOCHS = 1000          # runs that a test pauses or stops long before they end


@pytest.fixture
def panel(qtbot):
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()                      # the loss plot draws only while it is on screen
    yield widget
    widget.shutdown(timeout_s=10.0)


def configure(panel, runs_dir, **train_overrides):
    settings = dict(final_eval=False)
    settings.update(train_overrides)
    config = tiny_config(runs_dir, **settings)
    panel.setup_form.set_config(config)
    return config


def run_to_end(qtbot, panel) -> RunFinished:
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)
    return finished.args[0]


def start_and_wait_for_steps(qtbot, panel, min_step: int = 2) -> None:
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.state.latest is not None and panel.state.latest.step >= min_step,
                    timeout=RUN_TIMEOUT_MS)


# ---------------------------------------------------------------- a whole run

def test_short_run_fills_plot_images_and_writes_a_loadable_checkpoint(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=2)
    assert panel.start_button.isEnabled()
    assert panel.image_history.reconstructions.image is None

    finished = run_to_end(qtbot, panel)

    assert finished.status == "completed", finished.message
    assert panel.state.status == "completed"
    steps = len(panel.state.current.steps)
    assert steps == finished.step > 0                     # every step reached the plot, none dropped
    panel.loss_plot.refresh()
    assert panel.loss_plot.point_count() == steps
    readout = panel.loss_plot.readout_text(steps)
    assert f"step {steps}" in readout and "total" in readout and "validation" in readout
    assert len(panel.state.current.evals) == 2            # one validation point per epoch
    assert panel.image_history.reconstructions.image is not None
    assert panel.image_history.samples.image is not None
    loaded = load_checkpoint(finished.best_checkpoint)
    assert loaded.config.model.latent_dim == 6
    assert len(panel.kl_chart.bar_colours()) == 6
    assert "best validation loss" in panel.progress_view.status.text()
    assert panel.explorer_button.isEnabled()
    with qtbot.waitSignal(panel.open_in_explorer, timeout=1000) as opened:
        qtbot.mouseClick(panel.explorer_button, Qt.MouseButton.LeftButton)
    assert opened.args == [finished.best_checkpoint]


def test_history_slider_scrubs_back_to_an_earlier_snapshot(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=3)
    run_to_end(qtbot, panel)
    store = panel.state.snapshots
    assert len(store) >= 3                                # every evaluation's snapshot is kept
    history = panel.image_history
    latest = history.reconstructions.image.copy()

    history.slider.setValue(0)

    assert history.shown_index == 0
    assert not history.follow.isChecked()
    first = store[0]
    assert history.reconstructions.image != latest
    assert history.reconstructions.image.width() == first.reconstructions.shape[1]
    assert f"step {store.step(0):,}" in history.position_label.text()
    history.follow.setChecked(True)
    assert history.shown_index == len(store) - 1
    assert history.reconstructions.image == latest


def test_two_runs_in_a_row_keep_the_first_for_comparison(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=1, run_name="first")
    run_to_end(qtbot, panel)
    configure(panel, tmp_path / "runs", epochs=1, run_name="second")
    second = run_to_end(qtbot, panel)

    assert second.status == "completed"
    assert [run.name for run in panel.state.runs] == ["first", "second"]
    assert panel.run_list.list.count() == 2
    assert len(panel.loss_plot._overlays) == 1            # the first run drawn behind the second
    panel.run_list.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not panel.state.runs[0].visible
    assert len(panel.loss_plot._overlays) == 0
    assert panel.load_runs(tmp_path / "runs") == 0        # both already listed


def test_load_runs_overlays_curves_from_disk_and_refuses_other_folders(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=1, run_name="old")
    run_to_end(qtbot, panel)
    other = TrainingPanel()
    qtbot.addWidget(other)

    assert other.load_runs(tmp_path / "runs") == 1
    assert other.state.runs[0].name == "old"
    assert len(other.state.runs[0].steps) > 0
    assert len(other.loss_plot._overlays) == 1
    with qtbot.waitSignal(other.error_shown, timeout=1000) as error:
        assert other.load_runs(tmp_path) == 0
    assert "no training run" in error.args[0]


# ---------------------------------------------------------------- controls

def test_pause_holds_the_loop_and_resume_continues(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=LONG_EPOCHS)
    start_and_wait_for_steps(qtbot, panel)
    with qtbot.waitSignal(panel.state.loop_paused, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.state.status == "paused"
    assert panel.pause_button.text() == "Resume"
    paused_at = panel.state.latest.step
    qtbot.wait(300)                                       # the loop must not move while paused
    assert panel.state.latest.step == paused_at

    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.state.latest.step > paused_at, timeout=RUN_TIMEOUT_MS)
    assert panel.state.status == "running"
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)


def test_stop_mid_run_saves_last_checkpoint(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=LONG_EPOCHS)
    start_and_wait_for_steps(qtbot, panel, min_step=3)
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)

    result = finished.args[0]
    assert result.status == "stopped"
    assert panel.state.status == "stopped"
    assert load_checkpoint(result.last_checkpoint).step == result.step >= 3
    assert panel.start_button.isEnabled()


def test_resume_continues_a_stopped_run_with_its_earlier_curve(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=LONG_EPOCHS, log_every_steps=1)
    start_and_wait_for_steps(qtbot, panel, min_step=3)
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as stopped:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)
    stopped_at = stopped.args[0].step

    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as resumed:
        assert panel.resume_run(stopped.args[0].run_dir, epochs=2)
    qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)

    assert resumed.args[0].status == "completed"
    steps = panel.state.current.steps.column(0)
    assert steps[0] < stopped_at < steps[-1]              # the part trained before the stop is shown too
    assert panel.state.started.resumed


def test_closing_mid_run_stops_the_thread_and_writes_the_checkpoint(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs", epochs=LONG_EPOCHS)
    start_and_wait_for_steps(qtbot, panel)
    thread = panel.runner._thread

    panel.shutdown(timeout_s=3.0)

    assert thread.isFinished()
    assert not panel.is_training
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "last.pt").is_file()


def test_stop_while_data_loads_ends_at_once(qtbot, panel, tmp_path, monkeypatch):
    import threading
    import time
    from trainer.errors import Cancelled
    release = threading.Event()
    loads = []

    def slow_load(config, should_stop, progress):
        """A huge folder still decoding: reports progress and stops when asked, as load_dataset() does."""
        loads.append(config)
        for done in range(3000):
            if should_stop():
                raise Cancelled("decoding images")
            progress(done, 3000, "decoding images")
            if release.wait(0.01):
                break
        raise RuntimeError("the test released the loader")

    monkeypatch.setattr("vae_gui.training.worker.load_dataset", slow_load)
    configure(panel, tmp_path / "runs", epochs=1)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.state.status == "starting"
    qtbot.waitUntil(lambda: panel.state.loading is not None and panel.state.loading.done > 0, timeout=10_000)
    assert "decoding images" in panel.progress_view.bar.text()          # the load's progress is shown
    try:
        started = time.monotonic()
        with qtbot.waitSignal(panel.run_finished, timeout=10_000) as finished:
            qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)
        assert time.monotonic() - started < 2.0
    finally:
        release.set()
    assert len(loads) == 1
    assert finished.args[0].status == "stopped"
    assert panel.state.status == "stopped"
    assert panel.start_button.isEnabled()


def test_main_window_close_mid_run_exits_cleanly(qtbot, tmp_path, monkeypatch):
    from vae_gui.main_window import MainWindow

    monkeypatch.setattr("vae_gui.main_window.default_checkpoint", lambda: None)
    window = MainWindow(start_on_training=True)
    qtbot.addWidget(window)
    panel = window.training_panel
    configure(panel, tmp_path / "runs", epochs=LONG_EPOCHS)
    start_and_wait_for_steps(qtbot, panel)
    thread = panel.runner._thread
    from PySide6.QtWidgets import QMessageBox       # the close confirmation: "Stop, save and quit"
    monkeypatch.setattr(QMessageBox, "exec", lambda box: QMessageBox.StandardButton.Save)

    window.close()

    assert thread.isFinished()
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "last.pt").is_file()


# ---------------------------------------------------------------- errors

def test_unreadable_folder_shows_an_error_and_a_second_run_works(qtbot, panel, tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    for index in range(4):
        (junk / f"face{index}.png").write_bytes(b"this is not a png " * 10)
    config = configure(panel, tmp_path / "runs", epochs=1)
    panel.setup_form.set_data_folder(str(junk))
    assert panel.start_button.isEnabled()

    with qtbot.waitSignal(panel.error_shown, timeout=RUN_TIMEOUT_MS) as error:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)

    assert str(junk) in error.args[0]
    assert panel.error_banner.message == error.args[0]
    assert panel.state.status == "failed"
    panel.setup_form.set_config(config)
    finished = run_to_end(qtbot, panel)
    assert finished.status == "completed"
    assert panel.error_banner.message == ""


def test_non_finite_loss_fails_the_run_with_a_message(qtbot, panel, tmp_path, monkeypatch):
    def nan_loss(logits, target, kind="mse"):
        return torch.full((len(logits),), float("nan"))

    monkeypatch.setattr("trainer.models.objective.reconstruction_loss", nan_loss)
    configure(panel, tmp_path / "runs", epochs=1)
    with qtbot.waitSignal(panel.error_shown, timeout=RUN_TIMEOUT_MS) as error:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)

    assert "nan" in error.args[0].lower()
    assert panel.state.status == "failed"
    assert panel.start_button.isEnabled()


def test_form_refuses_invalid_values_with_a_reason(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs")
    panel.setup_form.lr.setText("fast")
    assert "learning rate" in panel.setup_form.validation_label.text()
    assert not panel.start_button.isEnabled()
    panel.setup_form.lr.setText("0.001")
    panel.setup_form.run_name.setText("a/b")
    assert "plain folder name" in panel.setup_form.validation_label.text()
    assert not panel.start_button.isEnabled()
    panel.setup_form.run_name.setText("ok")
    assert panel.start_button.isEnabled()
    assert panel.setup_form.config().train.lr == 0.001


def test_factor_supervision_field_is_checked_against_data_and_latent_size(qtbot, panel, tmp_path):
    configure(panel, tmp_path / "runs")
    form = panel.setup_form
    assert form.factor_supervision.isEnabled()
    form.factor_supervision.setValue(5.0)
    assert "latent has only 6" in form.validation_label.text()       # tiny config: 6 latent dims for 16 factors
    assert not panel.start_button.isEnabled()
    form.latent_dim.setValue(16)
    assert panel.start_button.isEnabled()
    assert form.config().train.factor_supervision == 5.0
    form.folder_radio.setChecked(True)
    assert not form.factor_supervision.isEnabled()
    form.set_data_folder(str(tmp_path))
    assert form.config().train.factor_supervision == 0.0              # folders have no factors: off, not an error
    form.synthetic_radio.setChecked(True)
    assert form.config().train.factor_supervision == 5.0


def test_default_form_is_ready_to_start(qtbot, panel):
    from trainer.settings import run_config_from_settings

    config = panel.setup_form.config()
    assert config.data.source == "synthetic"
    assert config.model.preset == "default"
    # the same defaults as `vae-train train` and the experiments file (20 epochs)
    assert config == run_config_from_settings({"runs_dir": config.train.runs_dir})
    assert panel.start_button.isEnabled()


def test_folder_summary_counts_images_off_the_gui_thread(qtbot, panel, tmp_path):
    from PIL import Image
    folder = tmp_path / "faces"
    folder.mkdir()
    for index in range(5):
        Image.new("RGB", (40, 40), (index * 40, 90, 200)).save(folder / f"{index}.png")
    with qtbot.waitSignal(panel.setup_form._scanner.summary_ready, timeout=10_000):
        panel.setup_form.set_data_folder(str(folder))
    summary = panel.setup_form.folder_summary
    assert summary.image_count == 5
    assert len(summary.thumbnails) == 5
    assert "5 images" in panel.setup_form.folder_info.text()


def test_a_photo_folder_trains_the_photo_recipe_and_synthetic_faces_the_default(qtbot, panel, tmp_path):
    from PIL import Image
    folder = tmp_path / "faces"
    folder.mkdir()
    for index in range(4):
        Image.new("RGB", (40, 40), (index * 50, 90, 200)).save(folder / f"{index}.png")
    form = panel.setup_form
    assert form.config().model.preset == "default"
    with qtbot.waitSignal(form._scanner.summary_ready, timeout=10_000):
        form.set_data_folder(str(folder))
    config = form.config()
    assert config.model.preset == "photo" and config.model.latent_dim == 256
    assert (config.train.recon_loss, config.train.beta, config.data.hflip) == ("gaussian", 1.0, True)
    form.synthetic_radio.setChecked(True)
    config = form.config()
    assert (config.model.preset, config.train.recon_loss, config.data.hflip) == ("default", "mse", False)


# ---------------------------------------------------------------- pieces

def test_kl_chart_greys_out_collapsed_dimensions(qtbot):
    state = RunState()
    chart = KlChart(state)
    qtbot.addWidget(chart)
    state.kl_per_dim = np.array([0.8, 0.001, 0.3])
    state.kl_changed.emit()
    colours = chart.bar_colours()
    assert colours[1] == collapsed_colour()
    assert colours[0] != collapsed_colour() and colours[2] != collapsed_colour()
    assert "2 of 3 active" in chart.title.text()


def test_batcher_sends_every_step_eval_and_preview_but_few_updates():
    now = [0.0]
    batcher = EventBatcher(interval_s=0.1, clock=lambda: now[0])
    image = np.zeros((2, 8, 8, 3), np.uint8)
    started = RunStarted(run_dir="r", config={}, total_steps=100, start_step=0, n_train=1, n_test=1,
                         param_count=1, device="cpu", precision="fp32")
    updates = [batcher.add(started)]
    for step in range(1, 101):
        now[0] += 0.001
        event = StepMetrics(step=step, epoch=0, total_steps=100, loss=1.0, recon=1.0, kl=None, beta=1.0,
                            lr=1e-3, images_per_s=1.0, eta_s=1.0)
        updates.append(batcher.add(event))
        if step % 10 == 0:
            preview = Preview(step=step, originals=image, reconstructions=image, samples=image)
            updates.append(batcher.add(EvalMetrics(step=step, epoch=0, val_loss=1.0, val_recon=1.0, val_kl=None,
                                                   kl_per_dim=None, is_best=False, preview=preview)))
    updates.append(batcher.flush())
    sent = [u for u in updates if u is not None]

    assert len(sent) <= 3                                 # 0.1 s of events: start, at most one timed, final
    assert sum(len(u.steps) for u in sent) == 100
    assert sum(len(u.evals) for u in sent) == 10
    assert sum(len(u.previews) for u in sent) == 10
    assert np.isnan(sent[-1].steps[:, 3]).all()           # an AE has no KL


def test_snapshot_store_thins_live_snapshots_but_keeps_span_newest_and_validations():
    tiny = np.zeros((2, 2, 3), dtype=np.uint8)
    store = SnapshotStore(max_live=4)
    for i in range(20):
        store.append(PreviewGrids(step=i, reconstructions=tiny, samples=tiny + i, from_eval=i % 5 == 4))
        live = [store.step(k) for k in range(len(store)) if not store.is_eval(k)]
        assert len(live) <= 4
        assert store.step(len(store) - 1) == i                  # the newest is always there, and last
    steps = [store.step(k) for k in range(len(store))]
    assert steps == sorted(steps) and steps[0] == 0            # in order, and the run's start is kept
    assert [s for s in steps if s % 5 == 4] == [4, 9, 14, 19]  # every validation snapshot survives
    assert store[len(store) - 1].samples[0, 0, 0] == 19
    assert store[1].samples[0, 0, 0] == store.step(1)          # thinned entries still decode to their own images


def test_snapshot_store_keeps_every_snapshot_losslessly():
    rng = np.random.default_rng(0)
    grids = [PreviewGrids(step=10 * i, reconstructions=rng.integers(0, 256, (20, 36, 3), dtype=np.uint8),
                          samples=rng.integers(0, 256, (18, 18, 3), dtype=np.uint8), from_eval=i % 2 == 0)
             for i in range(4)]
    store = SnapshotStore()
    for g in grids:
        store.append(g)
    assert len(store) == 4
    for index, g in enumerate(grids):
        assert np.array_equal(store[index].reconstructions, g.reconstructions)
        assert np.array_equal(store[index].samples, g.samples)
        assert store.step(index) == g.step and store.is_eval(index) == g.from_eval


def test_ema_smoothing_is_bias_corrected_and_incremental():
    values = np.array([10.0, 10.0, 10.0, 0.0])
    ema = EmaSeries(0.5)
    ema.extend(values[:2])
    ema.extend(values)
    assert np.allclose(ema.values[:3], 10.0)             # no pull towards 0 at the start
    assert 0.0 < ema.values[3] < 10.0
    ema.reset(0.0)
    ema.extend(values)
    assert np.array_equal(ema.values, values)


def test_a_dropped_folder_becomes_the_data_except_while_a_run_trains(qtbot, panel, tmp_path, monkeypatch):
    folder = tmp_path / "dropped"
    folder.mkdir()
    assert panel.use_data_folder(folder)
    assert panel.setup_form.folder_radio.isChecked()
    assert panel.setup_form.config().data.source == str(folder)
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setattr(type(panel.runner), "is_running", property(lambda runner: True))
    assert not panel.use_data_folder(other)
    assert panel.setup_form.config().data.source == str(folder)


# ---------------------------------------------------------------- what the progress view says, in a real run

def shown_texts(panel) -> tuple[str, str]:
    bar = panel.progress_view.bar
    return bar.text(), panel.progress_view.status.text()


@pytest.mark.slow
def test_a_budgeted_run_with_a_pause_says_only_true_things(qtbot, panel, tmp_path):
    """Every text the bar and the status line show during a real run with a time budget, paused once: the time
    left never exceeds the budget, a pause shows no countdown, 'resumed' does not linger, and the end is 100%."""
    import re

    from trainer.evaluation.evaluate import import_evaluation_modules

    import_evaluation_modules()          # not what this test is about; a first import ate a small budget under load
    budget_min = 0.3                     # the form's one decimal
    configure(panel, tmp_path / "runs", epochs=10_000, time_budget_minutes=budget_min, final_eval=True)
    seen: list[tuple[str, str, str]] = []

    def record(*_):
        seen.append((panel.state.status, *shown_texts(panel)))

    panel.state.progress_changed.connect(record)
    panel.state.status_changed.connect(record)
    start_and_wait_for_steps(qtbot, panel, min_step=8)
    with qtbot.waitSignal(panel.state.loop_paused, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    bar, status = shown_texts(panel)
    assert bar.endswith("· paused") and "left" not in bar and "press Resume" in status
    qtbot.wait(1500)
    assert shown_texts(panel) == (bar, status)                       # frozen while paused
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert shown_texts(panel)[1].startswith("<b>Training</b> tiny") and "resumed" not in shown_texts(panel)[1]
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        pass
    qtbot.waitUntil(lambda: not panel.is_training, timeout=10_000)
    assert finished.args[0].status == "completed"

    statuses = [status for status, _, _ in seen]
    assert "evaluating" in statuses and statuses[-1] == "completed"
    for status, bar, line in seen:
        for minutes, seconds in re.findall(r"(\d+):(\d\d) left", bar):
            assert int(minutes) * 60 + int(seconds) <= budget_min * 60, bar
        assert "resumed" not in line
        if status in ("paused", "pausing", "stopping", "completed"):
            assert "left" not in bar, (status, bar)
    bar, status = shown_texts(panel)
    assert bar.startswith("done") and panel.progress_view.bar.value() == panel.progress_view.bar.maximum()
    assert status.startswith("<b>Finished</b>")


def test_negative_losses_are_explained_where_the_losses_are_shown(qtbot):
    from trainer.models.losses import NEGATIVE_LOSS_EXPLAINED
    from vae_gui.help import GUIDE_HTML
    from vae_gui.training.loss_plot import LossPlot
    from vae_gui.training.run_state import RunCurves
    from vae_gui.training.updates import TrainingUpdate

    state = RunState()
    plot = LossPlot(state)
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    plot.refresh()
    assert not plot.negative_note.isVisible()
    assert "negative log-likelihood" in NEGATIVE_LOSS_EXPLAINED and "Lower is still better" in NEGATIVE_LOSS_EXPLAINED
    assert NEGATIVE_LOSS_EXPLAINED in plot.plot.toolTip() and NEGATIVE_LOSS_EXPLAINED == plot.negative_note.toolTip()
    assert "Below zero?" in GUIDE_HTML

    config = {"model": {"family": "vae"}, "train": {"recon_loss": "gaussian", "epochs": 1}}
    state.begin("loading data…")
    state.apply(TrainingUpdate(started=RunStarted(run_dir=str("photo-run"), config=config, total_steps=10,
                                                  start_step=0, n_train=10, n_test=2, param_count=1,
                                                  device="cpu", precision="fp32")))
    plot.refresh()
    assert plot.negative_note.isVisible()                            # the photo preset's loss

    other = RunState()
    other_plot = LossPlot(other)
    qtbot.addWidget(other_plot)
    other_plot.show()
    qtbot.waitExposed(other_plot)
    earlier = RunCurves(name="earlier photo run")
    earlier.steps.append(np.array([[1, -50.0, -60.0, 10.0]]))
    other.add_run(earlier)                                           # a loaded run whose curve is below zero
    other_plot.refresh()
    assert other_plot.negative_note.isVisible()


def test_the_resume_dialog_offers_the_budget_left_or_a_new_one(qtbot):
    from dataclasses import replace

    from trainer.training.resume import ResumePoint
    from vae_gui.training.resume_dialog import ResumeChoice, ResumeDialog, describe

    point = ResumePoint(name="demo", step=120, epoch=3, epochs=80_000, time_budget_minutes=3.0, budget_left_s=84.0)
    assert describe(point) == "demo has trained 3 epochs (120 steps); 1.4 min of its 3 min time budget are left."
    dialog = ResumeDialog(point)
    qtbot.addWidget(dialog)
    assert dialog.use_left.isChecked() and not dialog.budget.isEnabled()
    assert dialog.choice() == ResumeChoice()                          # what is left of the budget
    dialog.use_new.setChecked(True)
    dialog.budget.setValue(5.0)
    assert dialog.budget.isEnabled() and dialog.choice() == ResumeChoice(time_budget_minutes=5.0)

    used = ResumeDialog(replace(point, budget_left_s=0.0))          # a completed run: only a new budget
    qtbot.addWidget(used)
    assert not used.use_left.isEnabled() and used.use_new.isChecked()
    assert used.choice() == ResumeChoice(time_budget_minutes=3.0)
    assert "has used its 3 min time budget" in describe(used.point)

    plain = ResumeDialog(ResumePoint(name="demo", step=16, epoch=2, epochs=4, time_budget_minutes=0.0,
                                     budget_left_s=None))
    qtbot.addWidget(plain)
    assert plain.choice() == ResumeChoice(epochs=4)


def test_resume_passes_the_chosen_budget_to_the_run(qtbot, panel, tmp_path, monkeypatch):
    from trainer.training.control import TrainingControl
    from trainer.training.loop import train

    control = TrainingControl()
    config = tiny_config(tmp_path / "runs", epochs=10_000, time_budget_minutes=0.5, final_eval=False)
    stopped = train(config, events=lambda e: isinstance(e, StepMetrics) and e.step == 3 and control.stop(),
                    control=control)
    started: list = []
    monkeypatch.setattr(panel.runner, "start", lambda config, resume=None: started.append(config))
    assert panel.resume_run(stopped.run_dir)
    assert 0 < started[-1].train.time_budget_minutes < 0.5             # what is left of it
    assert panel.resume_run(stopped.run_dir, time_budget_minutes=2.0)
    assert started[-1].train.time_budget_minutes == 2.0
