"""Ctrl-C and SIGTERM during training: the first asks the run to stop at its next step (a checkpoint is saved)."""
from __future__ import annotations

import signal
import sys

from trainer.training.control import TrainingControl
from trainer.training.distributed import JobTerminated


def stop_on_first_interrupt(control: TrainingControl, second_aborts: bool = True):
    """First Ctrl-C: stop at the next step and save a checkpoint. Second Ctrl-C: the usual KeyboardInterrupt.

    Under torchrun every Ctrl-C only stops (second_aborts=False): torchrun forwards the terminal's SIGINT to its
    workers, so each sees two at once; torchrun itself kills them if they take longer than its shutdown timeout.
    Returns the previous handler.
    """
    def handler(signum, frame):
        if control.stop_requested:
            if second_aborts:
                raise KeyboardInterrupt
            return
        print("\nstopping after this step" + (" (Ctrl-C again to abort)..." if second_aborts else "..."),
              file=sys.stderr)
        control.stop()
    return signal.signal(signal.SIGINT, handler)


def stop_on_first_sigterm(control: TrainingControl, terminated: list[int]):
    """First SIGTERM (kill, a cancelled job, torchrun ending the job): stop after this step and save, as the first
    Ctrl-C does; under torchrun every rank agrees on the stop in the loop's all-reduce. A second SIGTERM gives up
    at once (a checkpoint being written is cleaned up by save_checkpoint). Returns the previous handler."""
    def handler(signum, frame):
        if terminated:
            raise JobTerminated("received SIGTERM again: stopped without saving; the last checkpoint is kept")
        terminated.append(signum)
        print("\nreceived SIGTERM: stopping after this step and saving a checkpoint...", file=sys.stderr)
        control.stop()
    return signal.signal(signal.SIGTERM, handler)
