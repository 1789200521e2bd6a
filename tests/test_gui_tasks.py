"""vae_gui.tasks: the GUI's one background-work mechanism."""
from __future__ import annotations

import threading

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
