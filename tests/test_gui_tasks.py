"""vae_gui.tasks: the GUI's one background-work mechanism."""
from __future__ import annotations

import threading

import pytest

from vae_gui.tasks import BackgroundTasks


def test_a_task_runs_off_the_gui_thread_and_reports_progress_and_result(qtbot):
    tasks = BackgroundTasks()
    seen: list = []
    tasks.progress.connect(lambda channel, done, total, what: seen.append((channel, done, total)))
    gui_thread = threading.get_ident()

    def work(task, n):
        for i in range(n):
            task.report(i + 1, n)
        return threading.get_ident()

    with qtbot.waitSignal(tasks.finished, timeout=5000) as blocker:
        tasks.start("count", work, 3)
    channel, worker_thread = blocker.args
    assert channel == "count" and worker_thread != gui_thread
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=2000)
    assert seen[-1] == ("count", 3, 3)
    assert tasks.wait()


def test_a_newer_task_on_the_same_channel_cancels_the_older_and_only_it_reports(qtbot):
    tasks = BackgroundTasks()
    results: list = []
    tasks.finished.connect(lambda channel, result: results.append(result))
    release = threading.Event()
    cancelled = threading.Event()

    def slow(task):
        release.wait(5)
        if task.cancelled:
            cancelled.set()
        task.check()
        return "old"

    tasks.start("fit", slow)
    with qtbot.waitSignal(tasks.finished, timeout=5000):
        tasks.start("fit", lambda task: "new")
    release.set()
    assert tasks.wait()
    qtbot.wait(50)
    assert results == ["new"] and cancelled.is_set()


def test_a_failing_task_reports_a_message_instead_of_dying(qtbot):
    tasks = BackgroundTasks()

    def broken(task):
        raise ValueError("no such file")

    with qtbot.waitSignal(tasks.failed, timeout=5000) as blocker:
        tasks.start("load", broken)
    assert blocker.args == ["load", "ValueError: no such file"]
    tasks.shutdown()


def test_a_result_still_queued_is_delivered_after_its_task_was_tidied_away(qtbot):
    tasks = BackgroundTasks()
    results: list = []
    tasks.finished.connect(lambda channel, result: results.append(result))
    tasks.start("quick", lambda task: 42)
    assert tasks.wait()             # the ended task is forgotten before the GUI thread has seen its result
    qtbot.waitUntil(lambda: results == [42], timeout=2000)


def test_a_running_task_outlives_its_deleted_owner_and_quitting_waits_for_it(qtbot):
    """A QThread destroyed while it runs aborts the process: the task registry keeps it until it ends."""
    import gc

    from vae_gui import tasks as tasks_module

    release = threading.Event()
    ended = threading.Event()

    def slow(task):
        release.wait(5)
        ended.set()
        return "done"

    owner = BackgroundTasks()
    owner.start("slow", slow)
    owner.deleteLater()
    del owner
    qtbot.wait(20)                  # the deferred delete runs; the thread is still in `slow`
    gc.collect()
    assert not ended.is_set() and tasks_module._live
    release.set()
    tasks_module.shutdown_all()     # what quitting does
    assert ended.is_set() and not tasks_module._live


# ---------------------------------------------------------------- the tasks the GUI runs

def test_a_cancelled_encode_stops_instead_of_finishing(tiny_checkpoint):
    from trainer.training.checkpoint import load_checkpoint
    from vae_gui.explorer.checkpoint_loader import encode_checkpoint_data
    from trainer.errors import Cancelled
    from vae_gui.tasks import TaskContext

    checkpoint = load_checkpoint(tiny_checkpoint)
    reports: list[str] = []
    context = TaskContext(lambda done, total, what: (reports.append(what), context.cancel()))
    with pytest.raises(Cancelled):
        encode_checkpoint_data(context, checkpoint, True, False)
    assert len(reports) == 1                     # stopped at the first check after the cancel

    finished = encode_checkpoint_data(TaskContext(lambda *report: None), checkpoint, True, False)
    assert finished.stats is not None and len(finished.data.train_latents) > 0


def test_a_replaced_encoding_reports_nothing(qtbot, tiny_checkpoint, tiny_ae_checkpoint):
    from vae_gui.explorer.panel import ExplorerPanel

    panel = ExplorerPanel()
    qtbot.addWidget(panel)
    ready: list[str] = []
    panel.latents_ready.connect(lambda: ready.append(str(panel.state.checkpoint.path)))
    assert panel.load_checkpoint(str(tiny_checkpoint))
    assert panel.load_checkpoint(str(tiny_ae_checkpoint))          # before the first encoding ended
    qtbot.waitUntil(lambda: bool(ready), timeout=60_000)
    assert panel.checkpoints.tasks.wait()
    qtbot.wait(50)                                  # any late result of the first would have arrived by now
    assert ready == [str(tiny_ae_checkpoint)]
    assert not panel.state.is_variational and panel.state.data is not None
    panel.shutdown()
    assert not panel.checkpoints.encoding


def test_closing_the_explorer_cancels_a_running_encoding(qtbot, tiny_checkpoint):
    from vae_gui.explorer.panel import ExplorerPanel

    panel = ExplorerPanel()
    qtbot.addWidget(panel)
    ready: list[bool] = []
    panel.latents_ready.connect(lambda: ready.append(True))
    assert panel.load_checkpoint(str(tiny_checkpoint))
    assert panel.checkpoints.encoding
    panel.shutdown()                                # waits for the task: it stops at its next check
    assert not panel.checkpoints.encoding
    qtbot.wait(50)
    assert ready == []


def make_faces(folder, count):
    from PIL import Image

    folder.mkdir()
    for index in range(count):
        Image.new("RGB", (40, 40), (index * 20, 90, 200)).save(folder / f"{index}.png")
    return folder


def test_folder_scan_reports_the_newest_folder_only(qtbot, tmp_path):
    from vae_gui.training.folder_scan import FolderScanner

    scanner = FolderScanner()
    summaries: list = []
    scanner.summary_ready.connect(summaries.append)
    first, second = make_faces(tmp_path / "first", 3), make_faces(tmp_path / "second", 5)
    scanner.scan(str(first))
    with qtbot.waitSignal(scanner.summary_ready, timeout=10_000):
        scanner.scan(str(second))
    scanner.shutdown()
    qtbot.wait(50)
    assert [summary.folder for summary in summaries] == [str(second)]
    assert summaries[0].image_count == 5 and len(summaries[0].thumbnails) == 5


def test_a_cancelled_folder_scan_stops_before_the_next_thumbnail(tmp_path):
    from trainer.errors import Cancelled
    from vae_gui.tasks import TaskContext
    from vae_gui.training.folder_scan import scan_folder

    folder = make_faces(tmp_path / "faces", 4)
    context = TaskContext(lambda *report: None)
    context.cancel()
    with pytest.raises(Cancelled):
        scan_folder(context, str(folder), 0.1)
    assert scan_folder(TaskContext(lambda *report: None), str(folder), 0.1).image_count == 4


def test_a_folder_scan_that_fails_reports_a_summary_naming_the_folder(qtbot, tmp_path, monkeypatch):
    from vae_gui.training import folder_scan

    def broken(task, folder, test_fraction):
        raise PermissionError("denied")

    monkeypatch.setattr(folder_scan, "scan_folder", broken)
    scanner = folder_scan.FolderScanner()
    with qtbot.waitSignal(scanner.summary_ready, timeout=10_000) as blocker:
        scanner.scan(str(tmp_path))
    scanner.shutdown()
    summary = blocker.args[0]
    assert str(tmp_path) in summary.error and "denied" in summary.error
