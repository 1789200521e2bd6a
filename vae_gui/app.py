"""Entry point of the desktop app: `vae-explorer [CHECKPOINT]`, `python -m vae_gui` or `python main.py [CHECKPOINT]`.

Only Qt is imported before the window exists: a splash screen shows at once, then torch and the app load, and the
splash closes when the window appears. Qt's own options (`-style fusion`, `-platform offscreen`, `-reverse`, ...) go
to QApplication, which takes them out of the argument list before ours are parsed; `--help` and `--version` answer
without starting Qt."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QFont, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QSplashScreen, QWidget

from trainer.package import __version__

from . import theme
from .qt_binding import QtBindingError, check_qt_binding

APP_NAME = "VAE Face Explorer"
PROG = "vae-explorer"
ANSWERED_WITHOUT_QT = ("-h", "--help", "--version")
SMALL_MACHINE_CORES = 4         # up to this many cores, torch calls in the GUI thread use one thread
# Imported by background work later (latent statistics, sampler fits, the atlas). An import holds the GIL through
# long C calls (loading shared libraries), so importing scikit-learn in a worker while the user drags a slider froze
# the GUI for 130-340 ms. They are imported on a thread as soon as the window is shown: before it, they held the
# window back by about a quarter of the start-up (2.2 s of the process's 9 s of CPU on the loaded 2-core machine;
# imports are GIL-bound, so the thread did not overlap with torch's import), and in the second after the window
# appears the explorer's own background work (encoding the data set) runs anyway.
LATER_IMPORTS = ("sklearn.metrics", "sklearn.decomposition", "sklearn.mixture", "scipy.stats", "scipy.spatial",
                 "scipy.special")


def available_cores() -> int:
    from trainer.training.cores import available_cores as cores
    return cores()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Our arguments (Qt's were taken out by QApplication before; see application_and_arguments)."""
    parser = argparse.ArgumentParser(prog=PROG, description=f"{APP_NAME}: train and explore AEs and VAEs",
                                     epilog="Qt's standard options are accepted too, e.g. -style fusion, "
                                            "-platform offscreen, -reverse.")
    parser.add_argument("checkpoint", nargs="?", type=Path,
                        help="checkpoint (.pt) to open in the explorer (default: the bundled pretrained VAE)")
    parser.add_argument("--train", action="store_true", help="open on the training tab")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def application_and_arguments(argv: list[str]) -> tuple[QApplication, list[str]]:
    """The QApplication, made from the command line so that it takes Qt's own options out of it, and the
    arguments left for parse_args. An application that exists already (a test, an embedding) keeps its options."""
    if QApplication.instance() is not None:
        return create_application(), argv
    app = create_application([PROG, *argv])
    return app, app.arguments()[1:]


def start_preloading(modules: tuple[str, ...] = LATER_IMPORTS) -> threading.Thread:
    """Import `modules` on a thread (the app starts it once its window is shown). A module that fails to import is
    left for its user to report."""
    def preload() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:           # noqa: BLE001 - reported where the module is used
                pass

    thread = threading.Thread(target=preload, name="vae-preload", daemon=True)
    thread.start()
    return thread


def configure_qt_threads(cores: int | None = None) -> bool:
    """On small machines keep Qt's painting in the GUI thread (QT_NO_GUI_THREADPOOL): Qt splits large fills and
    image scaling over a thread pool and waits for every part, and on 2 cores the hand-off cost more than it saved
    even when idle (a 640 px face repaint p95 2.6 -> 0.7 ms), and far more beside a busy background thread. Must run
    before the QApplication exists; an explicit setting of the variable wins. True when it was set here."""
    cores = available_cores() if cores is None else cores
    if cores > SMALL_MACHINE_CORES or "QT_NO_GUI_THREADPOOL" in os.environ:
        return False
    os.environ["QT_NO_GUI_THREADPOOL"] = "1"
    return True


def create_application(argv: list[str] | None = None) -> QApplication:
    """The app's QApplication (made from `argv`, program name first, when none exists). Its names also name the
    folder of the Qt settings (trainer/user_folders.py says where that is on each OS)."""
    if QApplication.instance() is None:
        configure_qt_threads()
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("VAE Face Explorer")
    app.setApplicationVersion(__version__)
    return app


def gui_thread_torch_threads(cores: int | None = None) -> int:
    """Torch intra-op threads for the GUI thread, where the explorer decodes faces and sample grids.

    The app's torch thread policy, in one place:
    - GUI thread (this function): 1 thread on machines with up to 4 cores, half the cores above that.
    - Training thread: vae_gui.training.worker.ThreadPolicy: all cores while the explorer is idle, one fewer
      while the user edits the face, at a lower OS priority than the GUI thread.
    A 64 px face decode takes ~5 ms of CPU: a second thread could at best save a few ms on an idle machine, but
    when another thread or process holds a core (a run training, on 2 cores), every operation waits for the
    descheduled intra-op thread and a decode takes 15-25x longer (numbers in configure_torch_threads).
    """
    cores = available_cores() if cores is None else cores
    return 1 if cores <= SMALL_MACHINE_CORES else cores // 2


def configure_torch_threads() -> int:
    """Apply gui_thread_torch_threads() to the calling (GUI) thread; returns the count. Call it before the
    window is built. Under OpenMP the setting is per thread: the training thread sets its own in train(),
    and threads started later begin with this value.

    Measured with tests/bench/bench_gui.py (main window, default preset 64 px, 2 cores, another process using
    about one core, load average ~2.6), two runs each:
        GUI torch threads                        1            2
        slider p50 / p95, no GUI training        8 / 9-10     127 / 133 ms
        slider p50 / p95, GUI run training       18 / 23-25   218 / 228 ms   (training 175 vs 102 images/s)
        8x8 sample grid p50                      107-112      903-913 ms
    With a core taken, the second intra-op thread waits on it at every operation and the GUI thread spins.
    """
    import torch

    threads = gui_thread_torch_threads()
    torch.set_num_threads(threads)
    return threads


def show_splash_message(splash: QSplashScreen | None, message: str) -> None:
    """What start-up is doing now, at the bottom of the splash screen (painted at once)."""
    if splash is not None:
        splash.showMessage(message, Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                           theme.current().canvas_muted)
        QApplication.processEvents()


def show_splash() -> QSplashScreen | None:
    """A plain splash screen, shown and painted before the heavy imports (None without a QApplication)."""
    if not isinstance(QApplication.instance(), QApplication):
        return None
    colours = theme.current()
    size = QSize(420, 160)
    ratio = QApplication.primaryScreen().devicePixelRatio()        # sharp on a high-DPI screen
    pixmap = QPixmap(size * ratio)
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(colours.canvas)
    painter = QPainter(pixmap)
    painter.setPen(colours.canvas_text)
    font = QFont(QApplication.font())
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(QRect(QPoint(0, 0), size).adjusted(0, 0, 0, -40), Qt.AlignmentFlag.AlignCenter, APP_NAME)
    painter.end()
    splash = QSplashScreen(pixmap)
    splash.show()
    show_splash_message(splash, "Loading PyTorch…")
    return splash


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(arg in ANSWERED_WITHOUT_QT for arg in argv):
        parse_args(argv)                     # prints the help or the version and exits
    try:
        check_qt_binding()
    except QtBindingError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    app, argv = application_and_arguments(argv)
    args = parse_args(argv)
    splash = show_splash()
    theme.install(app)              # after the splash: it imports pyqtgraph
    configure_torch_threads()
    show_splash_message(splash, "Building the window…")
    from .main_window import MainWindow
    window = MainWindow(checkpoint=args.checkpoint, start_on_training=args.train)
    window.show()
    if splash is not None:
        if isinstance(window, QWidget):
            splash.finish(window)            # closes once the window is shown
        else:
            splash.close()
    QTimer.singleShot(0, start_preloading)   # once the event loop has painted the window (see LATER_IMPORTS)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
