"""What a run directory says about itself, for the comparison report: config, progress, wall time, final metrics and
loss curves (RunSummary), plus the sample-quality scores the report adds."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from trainer.evaluation.sample_quality import ModelScores
from trainer.study.experiments import beta_to_sigma, read_experiment_info
from trainer.training.run_files import RunFiles
from trainer.training.rundir import RunDirError, read_metrics


@dataclass
class RunSummary:
    """Everything the report says about one run."""

    name: str
    run_dir: Path
    config: RunConfig
    sampler: str
    status: str
    steps: int
    wall_s: float | None
    params: int | None
    metrics: dict[str, float | None]                  # mse, psnr, ssim, kl, active_units, mig (None: not measured)
    scores: ModelScores | None = None
    faces: dict | None = None                         # trainer.evaluation.face_metrics.face_report(), with the faces extra
    memorisation: dict | None = None                  # trainer.evaluation.memorisation.memorisation_report()
    labels: dict | None = None                        # trainer.evaluation.label_probes.label_probe_report()
    curves: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    note: str = ""                                    # why the run was not scored, when it was not

    @property
    def is_variational(self) -> bool:
        return self.config.model.family == "vae"

    @property
    def beta(self) -> float | None:
        return self.config.train.beta if self.is_variational else None

    @property
    def sigma(self) -> float | None:
        """The original study's KL weight equivalent to our beta."""
        if self.beta is None:
            return None
        return beta_to_sigma(self.beta, self.config.model.image_size, self.config.model.channels)

    def value(self, name: str) -> float | None:
        """A number by name: a metric, or fd_prior / fd_fitted / fd_recon / latent_mismatch from the scores."""
        if name in self.metrics:
            return self.metrics[name]
        if self.scores is None:
            return None
        return {"fd_prior": self.scores.prior.fd, "fd_fitted": self.scores.fitted.fd,
                "fd_recon": self.scores.reconstruction.fd, "latent_mismatch": self.scores.latent_mismatch}.get(name)


def summarize_run(run_dir: Path | str) -> RunSummary:
    """What a run directory says about itself: config, progress, wall time, final metrics, curves."""
    run_dir = Path(run_dir)
    run = RunFiles(run_dir)
    if not run.config_file.exists():
        raise RunDirError(f"{run_dir} is not a run directory ({run.config_file.name} is missing)")
    config = RunConfig.from_dict(json.loads(run.config_file.read_text()))
    records = read_metrics(run.metrics_file)
    finished = [r for r in records if r.get("type") == "finished"]
    steps = [r.get("step", 0) for r in records if "step" in r]
    info = read_experiment_info(run_dir)
    return RunSummary(name=info.get("name") or run_dir.name, run_dir=run_dir, config=config,
                      sampler=info.get("sampler", "gaussian"),
                      status=finished[-1].get("status", "?") if finished else "unfinished",
                      steps=max(steps, default=0), wall_s=wall_time(records), params=None,
                      metrics=_read_metrics_file(run_dir), curves=_curves(records))


def wall_time(records: list[dict]) -> float | None:
    """Seconds of training: from the first logged record to "finished", summed over resumed segments."""
    total, start, last = 0.0, None, None
    for record in records:
        moment = record.get("time")
        if not isinstance(moment, (int, float)):
            continue
        start = moment if start is None else start
        last = moment
        if record.get("type") == "finished":
            total += moment - start
            start = None
    if start is not None and last is not None:
        total += last - start
    return total if records else None


def _curves(records: list[dict]) -> dict[str, tuple[list[float], list[float]]]:
    """Training loss per logged step and validation reconstruction loss per evaluation (a resume may repeat steps)."""
    loss = {r["step"]: r["loss"] for r in records if r.get("type") == "step" and r.get("loss") is not None}
    val = {r["step"]: r["val_recon"] for r in records if r.get("type") == "eval" and r.get("val_recon") is not None}
    return {"loss": (sorted(loss), [loss[s] for s in sorted(loss)]),
            "val_recon": (sorted(val), [val[s] for s in sorted(val)])}


def _read_metrics_file(run_dir: Path) -> dict[str, float | None]:
    try:
        return pick_metrics(json.loads(RunFiles(run_dir).eval_file.read_text()))
    except (OSError, ValueError):
        return {}


def pick_metrics(report: dict[str, Any]) -> dict[str, float | None]:
    """The numbers the table shows, from an evaluation report (trainer.evaluation.metrics.EvalReport.to_dict())."""
    picked = {}
    for name in ("mse", "psnr", "ssim", "kl", "active_units", "mig"):
        value = report.get(name)
        picked[name] = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    return picked


