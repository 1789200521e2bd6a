"""The whole window under a dark desktop palette and under the default light one: every page's texts reach WCAG AA
contrast against what is behind them, and the plots (loss, KL, atlas) follow the palette, also when it changes
while the app runs. The colours checked are the ones on screen (tests/window_tour.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from palettes import application_palette, dark_palette
from PySide6.QtWidgets import QApplication

from qt_doubles import RecordingDialogs
from trainer.resources import default_checkpoint
from trainer.training.events import EvalMetrics, RunStarted, StepMetrics
from vae_gui import theme
from vae_gui.explorer.atlas_plot import AtlasPlot
from vae_gui.training.updates import TrainingUpdate
from window_tour import pages, plot_contrasts, text_contrasts, visible_plots

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints"),
              pytest.mark.skipif(default_checkpoint() is None, reason="the bundled checkpoint is not present")]
WAIT_MS = 180_000            # the first window renders the bundled model's faces


def light_palette():
    QApplication.instance().setStyle("Fusion")
    return QApplication.style().standardPalette()


def feed_a_run(state) -> None:
    """A finished-looking run in the Train tab: loss curves, a validation, KL per dimension (no training)."""
    config = {"model": {"family": "vae"}, "train": {"epochs": 4, "recon_loss": "mse"}}
    state.begin("loading data…")
    state.apply(TrainingUpdate(started=RunStarted(run_dir="/runs/demo", config=config, total_steps=40,
                                                  start_step=0, n_train=100, n_test=20, param_count=1,
                                                  device="cpu", precision="fp32", steps_per_epoch=10)))
    steps = np.arange(1, 41, dtype=np.float64)
    losses = 900 / np.sqrt(steps)
    state.apply(TrainingUpdate(
        steps=np.stack([steps, losses, losses * 0.95, losses * 0.05], axis=1),
        latest=StepMetrics(step=40, epoch=3, total_steps=40, loss=float(losses[-1]), recon=1.0, kl=1.0, beta=1.0,
                           lr=1e-3, images_per_s=100.0, eta_s=3.0),
        evals=[EvalMetrics(step=40, epoch=3, val_loss=150.0, val_recon=140.0, val_kl=10.0,
                           kl_per_dim=[1.2, 0.001, 0.6, 0.9, 0.002, 0.4], is_best=True)]))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for this module's windows: the bundled model's faces are rendered once, not per test."""
    return tmp_path_factory.mktemp("theme-cache")


@pytest.fixture(autouse=True)
def use_shared_cache(shared_cache, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(shared_cache))


def open_window(qtbot):
    from vae_gui.main_window import MainWindow

    window = MainWindow(dialogs=RecordingDialogs())
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.explorer_panel.state.data is not None, timeout=WAIT_MS)
    feed_a_run(window.training_panel.state)
    return window


def fill_atlas(window) -> None:
    """The Atlas tab with points on it: what its background task delivers, for 120 faces (encoding the whole
    bundled data set takes minutes on a busy machine and is not what this test looks at)."""
    from trainer.data.datasets import FaceDataset
    from trainer.data.synthetic import FACTOR_NAMES, make_synthetic_faces
    from trainer.latent.atlas import build_atlas_map
    from trainer.latent.atlas_data import atlas_data_from_dataset
    from vae_gui.explorer.atlas_view import AtlasView

    view = window.findChild(AtlasView)
    if view is None or not view.isVisible() or view.plot.drawn_points:
        return
    images, factors = make_synthetic_faces(120, seed=5, image_size=64)
    data = FaceDataset(train=torch.from_numpy(images[30:]), test=torch.from_numpy(images[:30]), source="synthetic",
                       train_factors=factors[30:], test_factors=factors[:30], factor_names=tuple(FACTOR_NAMES))
    atlas = atlas_data_from_dataset(window.explorer_panel.state.checkpoint.model, data)
    view.set_atlas(atlas, build_atlas_map(atlas.latents))


def settle(qtbot, window) -> None:
    qtbot.wait(60)
    fill_atlas(window)
    qtbot.wait(60)


@pytest.mark.parametrize("palette", [light_palette, dark_palette], ids=["light", "dark"])
def test_every_page_reads_under_the_palette(qtbot, palette):
    with application_palette(palette()):
        window = open_window(qtbot)
        colours = theme.current()
        problems, plots_seen = [], set()
        for page in pages(window, settle=lambda: settle(qtbot, window)):
            for check in text_contrasts(window) + plot_contrasts(window):
                if check.ratio < check.minimum:
                    problems.append(f"{page}: {check}")
            for plot in visible_plots(window):
                plots_seen.add(type(plot).__name__ if isinstance(plot, AtlasPlot) else plot.parentWidget().__class__
                               .__name__)
                if plot.backgroundBrush().color() != colours.plot_background:
                    problems.append(f"{page}: a {type(plot).__name__} on {plot.backgroundBrush().color().name()}")
        window.close()
    assert not problems, "\n".join(problems)
    assert {"AtlasPlot", "LossPlot", "KlChart"} <= plots_seen, plots_seen


def test_the_window_follows_a_palette_change_while_it_runs(qtbot):
    with application_palette(light_palette()):
        window = open_window(qtbot)
        training = window.training_panel
        window.tabs.setCurrentWidget(training)
        qtbot.wait(50)
        light_background = training.loss_plot.plot.backgroundBrush().color()
        light_bars = training.kl_chart.bar_colours()
        with application_palette(dark_palette()):
            colours = theme.current()
            assert training.loss_plot.plot.backgroundBrush().color() == colours.plot_background != light_background
            assert training.kl_chart.plot.backgroundBrush().color() == colours.plot_background
            assert training.kl_chart.bar_colours() != light_bars
            assert all(check.ratio >= check.minimum for check in text_contrasts(window) + plot_contrasts(window))
            readout = training.loss_plot.readout
            assert readout.palette().color(readout.foregroundRole()) == colours.muted
        window.close()
