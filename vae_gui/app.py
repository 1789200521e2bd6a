"""Entry point of the desktop app: `vae-explorer [CHECKPOINT]` or `python main.py [CHECKPOINT]`.

Only Qt is imported before the window exists: a splash screen shows at once, then torch and the app load (5-15 s
on a slow machine), and the splash closes when the window appears."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QSplashScreen, QWidget

from . import theme
from .qt_binding import QtBindingError, check_qt_binding

APP_NAME = "VAE Face Explorer"
SMALL_MACHINE_CORES = 4         # up to this many cores, torch calls in the GUI thread use one thread
# Imported by background work later (latent statistics, sampler fits, the atlas). An import holds the GIL through
# long C calls (loading shared libraries), so importing scikit-learn in a worker while the user drags a slider froze
# the GUI for 130-340 ms; importing it while the splash shows costs ~0.6 s of start-up instead.
LATER_IMPORTS = ("sklearn.metrics", "sklearn.decomposition", "sklearn.mixture", "scipy.stats", "scipy.spatial",
                 "scipy.special")


def available_cores() -> int:
    from trainer.training.cores import available_cores as cores
    return cores()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vae-explorer", description=f"{APP_NAME}: train and explore AEs and VAEs")
    parser.add_argument("checkpoint", nargs="?", type=Path,
                        help="checkpoint (.pt) to open in the explorer (default: the bundled pretrained VAE)")
    parser.add_argument("--train", action="store_true", help="open on the training tab")
    return parser.parse_args(argv)


def start_preloading(modules: tuple[str, ...] = LATER_IMPORTS) -> threading.Thread:
    """Import `modules` on a thread while the splash shows and the window is built; join it before showing the
    window. A module that fails to import is left for its user to report."""
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
    if QApplication.instance() is None:
        configure_qt_threads()
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("VAE Face Explorer")
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


def show_splash() -> QSplashScreen | None:
    """A plain splash screen, shown and painted before the heavy imports (None without a QApplication)."""
    if not isinstance(QApplication.instance(), QApplication):
        return None
    colours = theme.current()
    pixmap = QPixmap(420, 160)
    pixmap.fill(colours.canvas)
    painter = QPainter(pixmap)
    painter.setPen(colours.canvas_text)
    font = QFont(QApplication.font())
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(pixmap.rect().adjusted(0, 0, 0, -40), Qt.AlignmentFlag.AlignCenter, APP_NAME)
    painter.end()
    splash = QSplashScreen(pixmap)
    splash.showMessage("Loading PyTorch and the model…", Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                       colours.canvas_muted)
    splash.show()
    QApplication.processEvents()
    return splash


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check_qt_binding()
    except QtBindingError as error:
        print(f"vae-explorer: {error}", file=sys.stderr)
        return 1
    app = create_application()
    splash = show_splash()
    theme.install(app)              # after the splash: it imports pyqtgraph
    preloading = start_preloading()
    configure_torch_threads()
    from .main_window import MainWindow
    window = MainWindow(checkpoint=args.checkpoint, start_on_training=args.train)
    preloading.join()
    window.show()
    if splash is not None:
        if isinstance(window, QWidget):
            splash.finish(window)            # closes once the window is shown
        else:
            splash.close()
    return app.exec()
