"""Ctrl-C and SIGTERM, the same in every command: one handler, installed by `vae-train` before any command runs.

A command that can stop gracefully (train, experiments) hands over its TrainingControl: the first signal asks the
run to stop after this step (a checkpoint is saved), the second gives up at once. Every other command (eval,
predict, export, cache, compare) stops at the first signal. Either way the command ends with one line saying what
was kept, and the exit status is 130 after Ctrl-C and 143 after SIGTERM, whatever the interrupted code raised on
the way out (torch turns an exception raised inside torch.save into a RuntimeError).
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from trainer.errors import Cancelled
from trainer.training.control import TrainingControl

SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Interrupted(Cancelled):
    """Raised in the main thread by the signal handler: the command stops where it is."""

    def __init__(self, signum: int):
        super().__init__(SIGNAL_NAMES.get(signum, f"signal {signum}"))
        self.signum = signum


class StopSignals:
    """What SIGINT / SIGTERM do for the running command, and which of them arrived (`received`)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.kept = "nothing was written"         # the command's words for what an interrupt keeps
        self._control: TrainingControl | None = None
        self._second_aborts = True

    @property
    def exit_status(self) -> int:
        """128 + the first signal received (130 for Ctrl-C, 143 for SIGTERM); 0 when none came."""
        return 128 + int(self.received) if self.received is not None else 0

    def stop_gracefully(self, control: TrainingControl, second_aborts: bool = True) -> None:
        """From now on the first signal stops `control`'s run after its step; a second one (when second_aborts)
        stops at once. Under torchrun every Ctrl-C only stops: torchrun forwards the terminal's SIGINT to its
        workers, so each sees two at once."""
        self._control, self._second_aborts = control, second_aborts
        if self.received is not None:          # a signal that came during start-up still counts
            control.stop()

    def keeping(self, kept: str) -> None:
        """What an interrupt from now on leaves, in the command's words ("the files written so far are whole")."""
        self.kept = kept

    def handle(self, signum: int, frame=None) -> None:
        first = self.received is None
        if first:
            self.received = signum
        if self._control is not None and (first or not self._second_aborts):
            if first:
                again = " (Ctrl-C again to stop at once)" if self._second_aborts else ""
                print(f"\nreceived {SIGNAL_NAMES.get(signum, 'a signal')}: stopping after this step and saving a "
                      f"checkpoint{again}...", file=sys.stderr, flush=True)
                self._control.stop()
            return
        raise Interrupted(signum)

    def stopped_line(self) -> str:
        """The one line said when a signal ended the command."""
        return f"stopped by {SIGNAL_NAMES.get(self.received, 'a signal')}: {self.kept}"


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """SIGINT and SIGTERM go to a StopSignals while the block runs; the previous handlers come back after. Outside
    the main thread (a test calling the CLI from a worker) no handler can be installed and the defaults stay."""
    signals = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {signum: signal.signal(signum, signals.handle) for signum in SIGNAL_NAMES}
    try:
        yield signals
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
