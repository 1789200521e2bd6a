"""`vae-train`: train, evaluate and predict from the command line (also `python -m trainer`, `python main.py train`).

The subcommands live in their own modules: train (trainer.cli.train), eval / predict / export (trainer.cli.eval),
experiments / compare (trainer.cli.study); this module builds the parser and turns errors into exit codes.
Building the parser imports no torch (`--help` and `--version` answer at once): a command's handler imports what
it needs when it runs.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from trainer.cli.eval import add_checkpoint_parsers
from trainer.cli.study import add_experiment_parsers
from trainer.cli.train import add_train_parser, config_from_args, run_train
from trainer.errors import UserError
from trainer.package import __version__

COMMANDS = ("train", "eval", "predict", "export", "cache", "experiments", "compare")
__all__ = ["COMMANDS", "build_parser", "config_from_args", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The CLI parser; each subcommand's parse sets `handler`, the function that runs it."""
    parser = argparse.ArgumentParser(prog="vae-train", description="Train and evaluate face AEs and VAEs.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_parser(commands).set_defaults(handler=run_train)
    add_checkpoint_parsers(commands)
    _add_cache_parser(commands)
    add_experiment_parsers(commands)
    return parser


def _add_cache_parser(commands) -> None:
    p = commands.add_parser("cache", help="show where the data and results caches are and their size",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--clear", action="store_true", help="delete the caches (they are rebuilt when needed)")
    p.set_defaults(handler=run_cache)


def run_cache(args: argparse.Namespace) -> int:
    from trainer.data.cache import cache_summary, clear_cache

    if args.clear:
        removed = clear_cache()
        print(f"removed {removed / 1e6:.1f} MB of caches")
    print(cache_summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 1 a runtime failure (disk full, a crash), 2 bad input, 130 Ctrl-C, 143 SIGTERM."""
    args = build_parser().parse_args(argv)
    from trainer.training.checkpoint import CheckpointWriteError
    from trainer.training.distributed import JobTerminated

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return args.handler(args)
    except CheckpointWriteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except JobTerminated as error:
        print(f"error: {error}", file=sys.stderr)
        return 128 + int(signal.SIGTERM)
    except OSError as error:        # a file we read or write failed in a way not foreseen above
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; use a smaller model, batch size or data set", file=sys.stderr)
        return 1
    except Exception as error:      # a bug: one line for the user; VAE_EXPLORER_DEBUG=1 shows the traceback
        if os.environ.get("VAE_EXPLORER_DEBUG"):
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (set VAE_EXPLORER_DEBUG=1 for details and "
              f"please report it)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
