"""Test setup: Qt offscreen, settings and caches in temporary folders, few torch threads."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def no_user_folders_at_any_scope(tmp_path_factory):
    """Fixtures of a wider scope (a module's loaded checkpoint) are made before isolated_user_folders runs: they too
    never read the user's cache (a choice the app stored there for the bundled model) or settings."""
    home = tmp_path_factory.mktemp("session-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAE_EXPLORER_CACHE", str(home / "cache"))
        patch.setenv("XDG_CONFIG_HOME", str(home / "config"))
        yield home


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path_factory, monkeypatch):
    """Data caches and Qt settings go to a temporary folder, never the user's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    try:
        from PySide6.QtCore import QSettings
    except ImportError:
        yield home
        return
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "config"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(home / "config"))
    yield home


@pytest.fixture
def one_torch_thread():
    """One torch thread: the test machine's 2 cores are shared, and contended threads are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(runs_dir, cache_dir=None, family: str = "vae", **train_overrides):
    """A config that trains in about a second on CPU: 32px synthetic faces, a few channels, 6 latent dims."""
    from trainer.config import DataConfig, RunConfig, TrainConfig
    from trainer.models.presets import preset_config

    model = preset_config("default" if family == "vae" else "default-ae", image_size=32, base_channels=8,
                          depth=3, latent_dim=6)
    data = DataConfig(source="synthetic", image_size=32, synthetic_count=160, test_fraction=0.2,
                      cache_dir=str(cache_dir) if cache_dir else None)
    settings = dict(epochs=2, batch_size=16, lr=3e-3, runs_dir=str(runs_dir), run_name="tiny", threads=1)
    settings.update(train_overrides)
    return RunConfig(model=model, data=data, train=TrainConfig(**settings))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """Path of a tiny trained VAE checkpoint (best.pt) with eval metrics and latent statistics."""
    from trainer.training.loop import train

    root = tmp_path_factory.mktemp("tiny_vae")
    result = train(tiny_config(root / "runs", cache_dir=root / "cache"))
    assert result.status == "completed", result.message
    return result.best_checkpoint


@pytest.fixture(scope="session")
def tiny_ae_checkpoint(tmp_path_factory):
    """Path of a tiny trained plain-AE checkpoint."""
    from trainer.training.loop import train

    root = tmp_path_factory.mktemp("tiny_ae")
    result = train(tiny_config(root / "runs", cache_dir=root / "cache", family="ae"))
    assert result.status == "completed", result.message
    return result.best_checkpoint


@pytest.fixture
def explorer_panel(qtbot):
    """An ExplorerPanel on screen (1200 x 800) whose dialogs are recorded, not shown; shut down afterwards."""
    from qt_doubles import RecordingDialogs
    from vae_gui.explorer.panel import ExplorerPanel

    widget = ExplorerPanel(dialogs=RecordingDialogs())
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    yield widget
    widget.shutdown()


@pytest.fixture
def loaded_explorer_panel(qtbot, explorer_panel, tiny_checkpoint):
    """explorer_panel with the tiny checkpoint open and its test images encoded."""
    with qtbot.waitSignal(explorer_panel.latents_ready, timeout=60_000):
        assert explorer_panel.load_checkpoint(str(tiny_checkpoint))
    return explorer_panel
