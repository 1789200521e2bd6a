"""`python main.py` opens the app; `python main.py train ...` (or eval, predict, ...) runs the CLI."""
import sys

from trainer.cli import COMMANDS


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        from trainer.cli import main as cli_main
        return cli_main(sys.argv[1:])
    from vae_gui.app import main as app_main
    return app_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
