"""The main window (offscreen): drops anywhere on it, and the GUI thread's torch thread policy."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget  # noqa: E402

from vae_gui import app as app_module  # noqa: E402
from vae_gui.main_window import MainWindow  # noqa: E402
from qt_doubles import RecordingDialogs

pytestmark = [pytest.mark.qt_log_ignore("propagateSizeHints")]

WAIT_MS = 60_000




@pytest.fixture
def make_window(qtbot, monkeypatch):
    """MainWindow(checkpoint) shown offscreen; without one it opens empty on the Train tab (no bundled model)."""
    monkeypatch.setattr("vae_gui.main_window.default_checkpoint", lambda: None)
    windows = []

    def make(checkpoint: Path | None = None) -> MainWindow:
        window = MainWindow(checkpoint=checkpoint, dialogs=RecordingDialogs())
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        if checkpoint is not None:
            qtbot.waitUntil(lambda: window.explorer_panel.state.data is not None, timeout=WAIT_MS)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def urls_of(*paths: Path) -> QMimeData:
    """What a file manager's drag carries: the files' URLs, and the same URLs as text."""
    mime = QMimeData()
    urls = [QUrl.fromLocalFile(str(path)) for path in paths]
    mime.setUrls(urls)
    mime.setText("\n".join(url.toString() for url in urls))
    return mime


def drop_on(window: MainWindow, target: QWidget, path: Path) -> bool:
    """Drag `path` onto the middle of `target` and drop it, as the platform does: the events go to the window's
    QWindow, and Qt finds the widget under the cursor (and its parents, when it ignores them). True if taken."""
    position = QPointF(target.mapTo(window, target.rect().center()))
    mime = urls_of(path)
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(position.toPoint(), Qt.DropAction.CopyAction, mime, buttons, modifiers)   # QPoint in 6.11
    QApplication.sendEvent(window.windowHandle(), enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(position, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(window.windowHandle(), drop)
    return drop.isAccepted()


def save_test_image(window: MainWindow, index: int, folder: Path) -> Path:
    path = folder / "face.png"
    Image.fromarray(window.explorer_panel.state.data.test_images[index]).save(path)
    return path


# ---------------------------------------------------------------- drops anywhere on the window

def test_checkpoint_dropped_on_the_train_tab_opens_in_the_explorer(qtbot, make_window, tiny_checkpoint):
    window = make_window()
    assert window.tabs.currentWidget() is window.training_panel
    with qtbot.waitSignal(window.explorer_panel.latents_ready, timeout=WAIT_MS):
        assert drop_on(window, window.training_panel.progress_view, Path(tiny_checkpoint))
    assert window.tabs.currentWidget() is window.explorer_panel
    assert window.explorer_panel.state.checkpoint.path == Path(tiny_checkpoint)


def test_checkpoint_dropped_on_the_tab_bar_opens_in_the_explorer(qtbot, make_window, tiny_checkpoint,
                                                                 tiny_ae_checkpoint):
    window = make_window(tiny_checkpoint)
    window.tabs.setCurrentWidget(window.training_panel)
    with qtbot.waitSignal(window.explorer_panel.latents_ready, timeout=WAIT_MS):
        assert drop_on(window, window.tabs.tabBar(), Path(tiny_ae_checkpoint))
    assert window.tabs.currentWidget() is window.explorer_panel
    assert not window.explorer_panel.state.is_variational


def test_image_dropped_outside_the_explorer_panel_starts_from_its_encoding(make_window, tiny_checkpoint, tmp_path):
    window = make_window(tiny_checkpoint)
    data = window.explorer_panel.state.data
    image = save_test_image(window, 3, tmp_path)
    assert not np.allclose(window.explorer_panel.state.z, data.test_latents[3], atol=1e-4)

    assert drop_on(window, window.tabs.tabBar(), image)

    assert np.allclose(window.explorer_panel.state.z, data.test_latents[3], atol=1e-4)
    assert not window.explorer_panel.face_panel.encoded_box.isHidden()
    assert window.explorer_panel.dialogs.errors == []


def test_image_dropped_on_the_train_tab_is_refused(make_window, tiny_checkpoint, tmp_path):
    window = make_window(tiny_checkpoint)
    image = save_test_image(window, 3, tmp_path)
    z_before = window.explorer_panel.state.z.copy()
    window.tabs.setCurrentWidget(window.training_panel)

    assert not drop_on(window, window.tabs.tabBar(), image)

    assert window.tabs.currentWidget() is window.training_panel
    assert np.array_equal(window.explorer_panel.state.z, z_before)


def test_folder_dropped_on_the_explorer_becomes_the_training_data(make_window, tiny_checkpoint, tmp_path):
    window = make_window(tiny_checkpoint)
    folder = tmp_path / "faces"
    folder.mkdir()

    assert drop_on(window, window.explorer_panel.face_panel.view, folder)

    assert window.tabs.currentWidget() is window.training_panel
    assert window.training_panel.setup_form.folder_radio.isChecked()
    assert window.training_panel.setup_form.config().data.source == str(folder)


def test_folder_dropped_on_the_folder_field_becomes_the_data_not_a_url_typed_into_it(make_window, tmp_path):
    window = make_window()
    form = window.training_panel.setup_form
    form.folder_radio.setChecked(True)
    folder = tmp_path / "faces"
    folder.mkdir()

    assert drop_on(window, form.folder_edit, folder)

    assert form.folder_edit.text() == str(folder)
    assert form.config().data.source == str(folder)


def test_checkpoint_dropped_on_a_slider_value_box_opens_it(qtbot, make_window, tiny_checkpoint,
                                                          tiny_ae_checkpoint):
    window = make_window(tiny_checkpoint)
    value_box = window.explorer_panel.sliders_tab.column.rows[0].spin.findChild(QLineEdit)     # made by the load
    with qtbot.waitSignal(window.explorer_panel.latents_ready, timeout=WAIT_MS):
        assert drop_on(window, value_box, Path(tiny_ae_checkpoint))
    assert window.explorer_panel.state.checkpoint.path == Path(tiny_ae_checkpoint)     # (its rows are new ones)


def test_folder_drop_is_refused_while_a_run_trains(make_window, tmp_path, monkeypatch):
    window = make_window()
    window.tabs.setCurrentWidget(window.explorer_panel)
    source_before = window.training_panel.setup_form.config().data.source
    monkeypatch.setattr(type(window.training_panel), "is_training", property(lambda panel: True))

    assert not drop_on(window, window.tabs.tabBar(), tmp_path)

    assert window.tabs.currentWidget() is window.explorer_panel
    assert window.training_panel.setup_form.config().data.source == source_before


def test_checkpoint_dropped_on_the_explorer_face_opens_it(qtbot, make_window, tiny_checkpoint, tiny_ae_checkpoint):
    window = make_window(tiny_checkpoint)
    with qtbot.waitSignal(window.explorer_panel.latents_ready, timeout=WAIT_MS):
        assert drop_on(window, window.explorer_panel.face_panel.view, Path(tiny_ae_checkpoint))
    assert window.explorer_panel.state.checkpoint.path == Path(tiny_ae_checkpoint)


def test_run_folder_dropped_on_the_explorer_opens_its_model_and_is_not_taken_as_data(qtbot, make_window,
                                                                                     tiny_checkpoint):
    window = make_window()
    window.tabs.setCurrentWidget(window.explorer_panel)
    run = Path(tiny_checkpoint).parents[1]                  # runs/tiny: checkpoints/best.pt, metrics.jsonl
    source_before = window.training_panel.setup_form.config().data.source
    with qtbot.waitSignal(window.explorer_panel.latents_ready, timeout=WAIT_MS):
        assert drop_on(window, window.tabs.tabBar(), run)
    assert window.explorer_panel.state.checkpoint.path == Path(tiny_checkpoint)
    assert window.training_panel.setup_form.config().data.source == source_before


def test_run_folder_dropped_on_the_train_tab_adds_its_curves(make_window, tiny_checkpoint):
    window = make_window()
    assert window.tabs.currentWidget() is window.training_panel
    run = Path(tiny_checkpoint).parents[1]
    assert drop_on(window, window.training_panel.loss_plot, run)
    assert window.training_panel.run_list.list.count() == 1
    assert window.explorer_panel.state.checkpoint is None


def test_folder_of_runs_adds_their_curves_on_the_train_tab_and_is_refused_elsewhere(make_window, tiny_checkpoint):
    window = make_window()
    runs = Path(tiny_checkpoint).parents[2]                 # runs/, holding runs/tiny
    window.tabs.setCurrentWidget(window.explorer_panel)
    assert not drop_on(window, window.tabs.tabBar(), runs)
    assert "holds several runs" in window.statusBar().currentMessage()
    window.tabs.setCurrentWidget(window.training_panel)
    source_before = window.training_panel.setup_form.config().data.source
    assert drop_on(window, window.training_panel.loss_plot, runs)
    assert window.training_panel.run_list.list.count() == 1
    assert window.training_panel.setup_form.config().data.source == source_before


def test_saved_explorer_state_dropped_anywhere_is_restored(qtbot, make_window, tiny_checkpoint, tmp_path):
    window = make_window(tiny_checkpoint)
    explorer = window.explorer_panel
    explorer.faces.randomize_from_prior()
    saved_z = explorer.state.z.copy()
    path = tmp_path / "state.json"
    explorer.state_files.save(str(path))
    explorer.state.reset_to_mean()
    window.tabs.setCurrentWidget(window.training_panel)

    assert drop_on(window, window.training_panel.progress_view, path)

    assert window.tabs.currentWidget() is explorer
    np.testing.assert_allclose(explorer.state.z, saved_z)


def test_unsupported_file_is_refused_with_a_message_naming_it(make_window, tmp_path):
    window = make_window()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert not drop_on(window, window.tabs.tabBar(), notes)
    assert "notes.txt" in window.statusBar().currentMessage()


def test_image_drop_refusal_says_why(make_window, tmp_path):
    window = make_window()                           # no checkpoint open
    image = tmp_path / "face.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    window.tabs.setCurrentWidget(window.explorer_panel)
    assert not drop_on(window, window.tabs.tabBar(), image)
    assert "face.png" in window.statusBar().currentMessage()
    assert "open a checkpoint first" in window.statusBar().currentMessage()


# ---------------------------------------------------------------- torch threads in the GUI thread

@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 1), (4, 1), (8, 4), (16, 8)])
def test_gui_thread_uses_one_torch_thread_on_small_machines(cores, threads):
    assert app_module.gui_thread_torch_threads(cores) == threads


def test_configure_torch_threads_sets_the_calling_threads_count(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(app_module, "available_cores", lambda: 8)
    try:
        assert app_module.configure_torch_threads() == 4
        assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)


def test_main_applies_the_thread_policy_and_the_theme_before_building_the_window(monkeypatch):
    seen: list[int] = []
    themed: list[object] = []

    class FakeApp:
        def exec(self) -> int:
            return 0

    class FakeWindow:
        def __init__(self, checkpoint=None, start_on_training=False):
            seen.append(torch.get_num_threads())
            assert themed, "the theme is installed before the window is built"

        def show(self) -> None:
            pass

    before = torch.get_num_threads()
    monkeypatch.setattr(app_module, "application_and_arguments", lambda argv: (FakeApp(), argv))
    monkeypatch.setattr(app_module, "available_cores", lambda: 6)
    monkeypatch.setattr("vae_gui.main_window.MainWindow", FakeWindow)
    monkeypatch.setattr("vae_gui.theme.install", themed.append)
    try:
        assert app_module.main([]) == 0
    finally:
        torch.set_num_threads(before)
    assert seen == [3]
    assert len(themed) == 1 and isinstance(themed[0], FakeApp)


def test_the_window_is_shown_before_the_later_imports_start(monkeypatch, qtbot):
    """Libraries only background work needs (scikit-learn, SciPy) are imported once the window is up, not before."""
    events: list[str] = []

    class FakeApp:
        def exec(self) -> int:
            qtbot.wait(50)                   # the event loop turns: the window has been painted
            return 0

    class FakeWindow:
        def __init__(self, checkpoint=None, start_on_training=False):
            pass

        def show(self) -> None:
            events.append("show")

    monkeypatch.setattr(app_module, "application_and_arguments", lambda argv: (FakeApp(), argv))
    monkeypatch.setattr("vae_gui.main_window.MainWindow", FakeWindow)
    monkeypatch.setattr(app_module, "start_preloading", lambda: events.append("later imports"))
    monkeypatch.setattr("vae_gui.theme.install", lambda app: None)
    before = torch.get_num_threads()
    try:
        assert app_module.main([]) == 0
    finally:
        torch.set_num_threads(before)
    assert events == ["show", "later imports"]


# ---------------------------------------------------------------- the title names the open document

def test_the_title_names_the_open_checkpoint_and_the_train_tabs_run(make_window, tiny_checkpoint, tmp_path):
    from types import SimpleNamespace

    window = make_window()
    assert window.windowTitle() == "VAE Face Explorer"              # nothing open yet
    window.open_in_explorer(str(tiny_checkpoint))                     # RUN/checkpoints/best.pt: its run says which
    run_name = tiny_checkpoint.parent.parent.name
    assert window.windowTitle() == f"{run_name}/best.pt — VAE Face Explorer"
    other = tmp_path / "beta4.pt"
    other.write_bytes(tiny_checkpoint.read_bytes())
    window.open_in_explorer(str(other))
    assert window.windowTitle() == "beta4.pt — VAE Face Explorer"
    assert window.windowFilePath() == str(other)
    window.training_panel.state.started = SimpleNamespace(run_dir=str(tmp_path / "runs" / "my-run"))
    window.tabs.setCurrentWidget(window.training_panel)
    assert window.windowTitle() == "my-run — VAE Face Explorer"
    window.tabs.setCurrentWidget(window.explorer_panel)
    assert window.windowTitle() == "beta4.pt — VAE Face Explorer"


def test_without_the_bundled_model_the_window_says_so(make_window):
    window = make_window()                       # make_window hides the bundled checkpoint
    assert window.tabs.currentWidget() is window.training_panel
    message = window.statusBar().currentMessage()
    assert "default_vae.pt" in message and "missing" in message and "File > Open checkpoint" in message
