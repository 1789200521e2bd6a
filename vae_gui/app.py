"""Entry point of the desktop app: `vae-explorer [CHECKPOINT]` or `python main.py [CHECKPOINT]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

APP_NAME = "VAE Face Explorer"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vae-explorer", description=f"{APP_NAME}: train and explore AEs and VAEs")
    parser.add_argument("checkpoint", nargs="?", type=Path,
                        help="checkpoint (.pt) to open in the explorer (default: the bundled pretrained VAE)")
    parser.add_argument("--train", action="store_true", help="open on the training tab")
    return parser.parse_args(argv)


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("VAE Face Explorer")
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = create_application()
    from .main_window import MainWindow
    window = MainWindow(checkpoint=args.checkpoint, start_on_training=args.train)
    window.show()
    return app.exec()
