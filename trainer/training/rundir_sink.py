"""The run directory's logs, written from train()'s events (beside the TensorBoard sink; the loop writes no log).

From RunStarted on, in its run directory: config.json (RunStarted), metrics.jsonl and metrics.csv (a "step" record
at the logged steps, an "eval" record per evaluation, a "final" one with the final evaluation, a "finished" one at
the end), train.log (evaluations, RunNote lines, the end) and the prediction grids of each evaluation
(predictions/), and eval.json (FinalEvaluationDone).
"""
from __future__ import annotations

import time
from dataclasses import asdict, fields

from trainer.training.events import (EvalMetrics, Event, FinalEvaluationDone, RunFinished, RunNote, RunStarted,
                                     StepMetrics, is_logged_step)
from trainer.training.previews import save_prediction_grids
from trainer.training.rundir import RunDirectory


class RunDirectorySink:
    """An event sink; it writes into the run directory RunStarted names, until RunFinished."""

    def __init__(self):
        self.run_dir: RunDirectory | None = None
        self.log_every = 1

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        elif self.run_dir is None:
            return
        elif isinstance(event, StepMetrics):
            if is_logged_step(event.step, self.log_every):
                self.run_dir.log_metrics({"type": "step", "time": time.time(), **asdict(event)})
        elif isinstance(event, EvalMetrics):
            self._evaluated(event)
        elif isinstance(event, RunNote):
            self.run_dir.log_line(event.text)
        elif isinstance(event, FinalEvaluationDone):
            self.run_dir.write_eval(event.report)
            self.run_dir.log_metrics({"type": "final", "time": time.time(), "step": event.step, **event.report})
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _start(self, event: RunStarted) -> None:
        self.run_dir = RunDirectory(event.run_dir)
        self.log_every = int(event.config.get("train", {}).get("log_every_steps", 1)) or 1
        self.run_dir.write_config(event.config)

    def _evaluated(self, event: EvalMetrics) -> None:
        if event.preview is not None:
            save_prediction_grids(self.run_dir, event.preview)
        record = {field.name: getattr(event, field.name) for field in fields(event) if field.name != "preview"}
        self.run_dir.log_metrics({"type": "eval", "time": time.time(), **record})
        kl = event.val_kl if event.val_kl is not None else 0
        self.run_dir.log_line(f"step {event.step} epoch {event.epoch + 1}: val loss {event.val_loss:.4f} "
                              f"(recon {event.val_recon:.4f}, KL {kl:.4f}){' best' if event.is_best else ''}")

    def _finished(self, event: RunFinished) -> None:
        try:
            self.run_dir.log_line(f"{event.status}: {event.message}")
            self.run_dir.log_metrics({"type": "finished", "time": time.time(), "status": event.status,
                                      "message": event.message, "step": event.step})
        except OSError:         # e.g. the disk is full: the error being reported matters more than the log
            pass
        self.run_dir = None
