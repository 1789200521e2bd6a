"""TensorBoard logs of a run (the optional `tensorboard` extra), written from the same events the CLI and GUI get.

In RUN_DIR/tensorboard/: the training scalars at the steps metrics.jsonl logs them, the validation losses, the KL of
every latent dimension (a scalar per dimension under kl_per_dim/ and their histogram) with the count of active
dimensions, and each preview as two whole grids (originals above reconstructions; decoded samples), so every image
is kept and none is sampled away. TensorBoard's viewer keeps only 10 steps of each image tag unless started with
`--samples_per_plugin images=0` (all), which the start-up line says.
"""
from __future__ import annotations

import importlib.util
import json
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from trainer.config import ConfigError
from trainer.latent.stats import active_dimensions
from trainer.package import install_command
from trainer.training.events import (EvalMetrics, Event, EventSink, Preview, RunFinished, RunStarted, StepMetrics, both,
                                     is_logged_step)
from trainer.training.previews import reconstruction_grid, sample_grid
from trainer.training.run_files import RunFiles

INSTALL_HINT = f"TensorBoard logging needs the tensorboard extra: {install_command('tensorboard')}"
FLUSH_SECONDS = 10               # the writer's own flush interval; evaluations and the end flush at once


class TensorBoardUnavailableError(ConfigError):
    """--tensorboard was asked for but the tensorboard package is not installed."""


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def with_tensorboard(sink: EventSink, enabled: bool, say: Callable[[str], None] | None = None) -> EventSink:
    """`sink`, plus a TensorBoardSink when enabled. Refuses (TensorBoardUnavailableError) before the run starts when
    the extra is missing: a long run without the logs that were asked for is worse than a clear message now."""
    if not enabled:
        return sink
    if not tensorboard_available():
        raise TensorBoardUnavailableError(f"--tensorboard: {INSTALL_HINT}")
    return both(sink, TensorBoardSink(say=say))


class TensorBoardSink:
    """An event sink; the writer opens at RunStarted (in its run directory) and closes at RunFinished."""

    def __init__(self, say: Callable[[str], None] | None = None):
        self.say = say if say is not None else _say
        self.writer: Any = None          # torch.utils.tensorboard.SummaryWriter while a run is going
        self.log_every = 1

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._open(event)
        elif self.writer is None:
            return
        elif isinstance(event, StepMetrics):
            self._step(event)
        elif isinstance(event, EvalMetrics):
            self._eval(event)
        elif isinstance(event, Preview):
            self._preview(event)
        elif isinstance(event, RunFinished):
            self.writer.add_text("run/finished", f"{event.status}: {event.message}", event.step)
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _open(self, event: RunStarted) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.close()
        log_dir = RunFiles(event.run_dir).tensorboard
        # On a resume, events a crashed session wrote after the checkpoint's step are hidden (TensorBoard's purge).
        self.writer = SummaryWriter(str(log_dir), purge_step=event.start_step if event.resumed else None,
                                    flush_secs=FLUSH_SECONDS)
        self.log_every = int(event.config.get("train", {}).get("log_every_steps", 1)) or 1
        config = json.dumps(event.config, indent=2, default=str)
        self.writer.add_text("run/config", "    " + config.replace("\n", "\n    "), event.start_step)
        self.say(f"TensorBoard logs in {log_dir}; view them with: tensorboard --logdir {log_dir} "
                 f"--samples_per_plugin images=0")

    def _step(self, event: StepMetrics) -> None:
        if not is_logged_step(event.step, self.log_every):          # the steps metrics.jsonl logs
            return
        values = {"train/loss": event.loss, "train/recon": event.recon, "train/kl": event.kl,
                  "train/beta": event.beta, "train/lr": event.lr, "train/images_per_s": event.images_per_s}
        for tag, value in values.items():
            if value is not None:
                self.writer.add_scalar(tag, value, event.step)

    def _eval(self, event: EvalMetrics) -> None:
        step = event.step
        self.writer.add_scalar("val/loss", event.val_loss, step)
        self.writer.add_scalar("val/recon", event.val_recon, step)
        if event.val_kl is not None:
            self.writer.add_scalar("val/kl", event.val_kl, step)
        if event.kl_per_dim is not None:
            for dim, kl in enumerate(event.kl_per_dim):
                self.writer.add_scalar(f"kl_per_dim/z{dim:03d}", kl, step)
            self.writer.add_histogram("val/kl_per_dim", np.asarray(event.kl_per_dim, dtype=np.float64), step)
            self.writer.add_scalar("val/active_dims", int(active_dimensions(event.kl_per_dim).sum()), step)
        if event.preview is not None:
            self._preview(event.preview)
        self.writer.flush()

    def _preview(self, preview: Preview) -> None:
        self.writer.add_image("preview/reconstructions", reconstruction_grid(preview), preview.step,
                              dataformats="HWC")
        self.writer.add_image("preview/samples", sample_grid(preview), preview.step, dataformats="HWC")


def _say(text: str) -> None:
    tqdm.write(text)            # above a progress bar, not through it
