"""`python main.py` opens the app; `python main.py train ...` (or eval, predict, ...) runs the CLI."""
import sys
from pathlib import Path


def main() -> int:
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    # The app starts without importing the CLI (and torch), so its splash screen shows at once.
    if first and not first.startswith("-") and not Path(first).exists():
        from trainer.cli.commands import COMMANDS
        if first in COMMANDS:
            from trainer.cli.commands import main as cli_main
            return cli_main(sys.argv[1:])
    from vae_gui.app import main as app_main
    return app_main(sys.argv[1:])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:       # Ctrl-C while the app or the CLI starts: no traceback
        sys.exit(130)
