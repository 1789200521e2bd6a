"""The CLI's view of a run: a tqdm progress bar fed by train()'s events."""
from __future__ import annotations

import sys

from tqdm import tqdm

from trainer.models.losses import NEGATIVE_LOSS_EXPLAINED
from trainer.training.events import (DataProgress, EvalMetrics, Event, FinalEvaluationStarted, RunFinished, RunStarted,
                                     StepMetrics)


class DataProgressBar:
    """A tqdm bar for load_dataset()'s progress(done, total, what); a step that ends within a second shows none."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.quiet or total <= 0:
            return
        if self.bar is None or self.bar.desc != what or self.bar.total != total:
            self.close()
            self.bar = tqdm(total=total, desc=what, unit="img", unit_scale=True, dynamic_ncols=True, delay=1.0,
                            file=sys.stderr)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class ProgressPrinter:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar: tqdm | None = None
        self.data_bar = DataProgressBar(quiet)

    def __call__(self, event: Event) -> None:
        if isinstance(event, DataProgress):
            self.data_bar(event.done, event.total, event.what)
        elif isinstance(event, RunStarted):
            self.data_bar.close()
            self._say(f"run {event.run_dir}: {event.n_train} train / {event.n_test} test images, "
                      f"{event.param_count:,} parameters, {event.device} {event.precision}"
                      + (f", resuming at step {event.start_step}" if event.resumed else ""))
            if event.config.get("train", {}).get("recon_loss") == "gaussian":
                self._say(NEGATIVE_LOSS_EXPLAINED)
            if not self.quiet:
                self.bar = tqdm(total=event.total_steps, initial=event.start_step, unit="step", dynamic_ncols=True,
                                file=sys.stderr)
        elif isinstance(event, StepMetrics) and self.bar is not None:
            if self.bar.total != event.total_steps:      # a time budget fixes the step count after a few steps
                self.bar.total = event.total_steps
            self.bar.update(event.step - self.bar.n)
            kl = f" kl {event.kl:.2f}" if event.kl is not None else ""
            self.bar.set_description(f"epoch {event.epoch + 1}", refresh=False)
            self.bar.set_postfix_str(f"loss {event.loss:.2f} recon {event.recon:.2f}{kl} "
                                     f"{event.images_per_s:.0f} img/s, {_minutes(event.eta_s)} left", refresh=False)
        elif isinstance(event, EvalMetrics):
            kl = f", KL {event.val_kl:.3f}" if event.val_kl is not None else ""
            self._say(f"step {event.step}: validation loss {event.val_loss:.4f} (recon {event.val_recon:.4f}{kl})"
                      + (" *best*" if event.is_best else ""))
        elif isinstance(event, FinalEvaluationStarted):
            limit = f", within the {event.seconds:.0f} s the time budget leaves" if event.seconds is not None else ""
            self._say(f"final evaluation of best.pt{limit}…")
        elif isinstance(event, RunFinished):
            self.close()

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        self.data_bar.close()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _minutes(seconds: float) -> str:
    if not seconds < float("inf"):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"
