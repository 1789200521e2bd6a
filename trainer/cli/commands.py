"""`vae-train`: train, evaluate and predict from the command line (also `python -m trainer`, `python main.py train`).

The subcommands live in their own modules: train (trainer.cli.train), eval / predict / export (trainer.cli.eval),
experiments / compare (trainer.cli.study); this module builds the parser and turns errors into exit codes.
Building the parser imports no torch (`--help` and `--version` answer at once): a command's handler imports what
it needs when it runs.
"""
from __future__ import annotations

import argparse
import codecs
import logging
import os
import signal
import sys

from trainer.cli.eval import add_checkpoint_parsers
from trainer.cli.study import add_experiment_parsers
from trainer.cli.train import add_train_parser, config_from_args, run_train
from trainer.errors import Cancelled, UserError
from trainer.names import printable
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
        args.signals.keeping("the caches not yet removed are kept whole; they are rebuilt when needed anyway")
        removed = clear_cache()
        print(f"removed {removed / 1e6:.1f} MB of caches")
    print(cache_summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 1 a runtime failure (disk full, a crash), 2 bad input, 130 Ctrl-C, 143 SIGTERM."""
    from trainer.cli.signals import stop_signals

    _print_any_name()
    with stop_signals() as signals:        # first, so a Ctrl-C while torch imports is handled too
        try:
            args = build_parser().parse_args(argv)
            args.signals = signals
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
            status = args.handler(args)
        except SystemExit:                 # --help, --version, a bad flag: argparse has said it
            raise
        except BaseException as error:     # noqa: B036 -- every way out of a command gets one line
            if signals.received is not None or isinstance(error, (Cancelled, KeyboardInterrupt)):
                # Whatever the interrupted code raised on the way out (torch wraps it in a RuntimeError).
                signals.received = signals.received or signal.SIGINT
                print(signals.stopped_line(), file=sys.stderr)
                return signals.exit_status
            return _report_failure(error)
        return signals.exit_status or status


def _print_any_name() -> None:
    """Any file name prints: the bytes of a name that is not UTF-8 as \\xNN (as trainer.names.printable shows them),
    and under LC_ALL=C (ASCII output) other characters as escapes, instead of failing."""
    codecs.register_error(NAME_ESCAPES, _escape_name)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=NAME_ESCAPES)


NAME_ESCAPES = "vae-train-names"


def _escape_name(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else ascii(c)[1:-1]
                   for c in text), error.end


def _report_failure(error: BaseException) -> int:
    """One line for an error that ended a command; its exit status."""
    from trainer.training.checkpoint import CheckpointWriteError

    if isinstance(error, CheckpointWriteError):
        print(f"error: {error}", file=sys.stderr)
        return 1
    if isinstance(error, UserError):
        print(f"error: {error}", file=sys.stderr)
        return 2
    if isinstance(error, OSError):         # a file we read or write failed in a way not foreseen elsewhere
        where = f"{printable(error.filename)}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    if isinstance(error, MemoryError):
        print("error: out of memory; use a smaller model, batch size or data set", file=sys.stderr)
        return 1
    if not isinstance(error, Exception) or os.environ.get("VAE_EXPLORER_DEBUG"):
        raise error                         # a bug: VAE_EXPLORER_DEBUG=1 shows the traceback
    print(f"error: unexpected {type(error).__name__}: {printable(str(error))} (set VAE_EXPLORER_DEBUG=1 for "
          f"details and please report it)", file=sys.stderr)
    return 1
