"""A comparison report for a set of runs: report.md with a table, loss-curve plots, image grids and a check, with
numbers, of the original study's three conclusions.

`vae-train experiments` writes it after running the list; `vae-train compare RUN_DIR...` writes it for any runs.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image

from trainer.training.checkpoint import load_checkpoint
from trainer.config import RunConfig
from trainer.data.datasets import FaceDataset, load_dataset
from trainer.study.experiments import RUNTIME_FIELDS, beta_to_sigma, read_experiment_info
from trainer.study.plots import Series, line_plot
from trainer.latent.grids import image_grid
from trainer.training.rundir import RunDirError, read_metrics
from trainer.evaluation.sample_quality import (FeatureNetSettings, FeatureSpace, ModelScores, SampleQualityError, feature_space_for,
                             score_model)
from trainer.evaluation.face_metrics import FACE_IMAGES, INSTALL_HINT, FaceMetricsError, face_metrics_available
from trainer.latent.samplers import SamplerError

# Ignored when grouping runs for the conclusions: where and how a run ran (not what it learned), and the preset's
# name (its fields, e.g. the reparameterization, are compared one by one).
_IGNORED_FIELDS = RUNTIME_FIELDS | {"model.preset"}
CLEAR_EFFECT = 2.0       # a difference "exceeds seed noise" when it is this many times the seed-to-seed difference


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


# ---------------------------------------------------------------- the entry point

def write_report(run_dirs: Sequence[Path | str], out_dir: Path | str,
                 feature_settings: FeatureNetSettings = FeatureNetSettings(), device: str | torch.device = "cpu",
                 say: Callable[[str], None] = print, face_images: int = FACE_IMAGES) -> Path:
    """Summarise, score and compare the runs; write out_dir/report.md (returned), plots, grids and summary.json.

    With the faces extra, face-network numbers on up to `face_images` images per set (0: none; ~1 min per run)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = [summarize_run(path) for path in run_dirs]
    faces = face_images > 0 and face_metrics_available()
    if face_images > 0 and not faces:
        say(INSTALL_HINT)
    _make_names_unique(summaries)
    datasets: dict[str, FaceDataset] = {}
    spaces: dict[str, FeatureSpace] = {}
    for summary in summaries:
        say(f"scoring {summary.name}")
        dataset = _dataset_for(summary.config, datasets)
        space_key = f"{summary.config.data.source} {summary.config.data.image_size}"
        if space_key not in spaces:
            spaces[space_key] = feature_space_for(dataset, feature_settings, say=say)
        _score_run(summary, dataset, spaces[space_key], device, face_images if faces else 0)
        if summary.scores is not None:
            _write_run_images(summary, out_dir / "runs" / summary.name)
        else:
            say(f"{summary.name}: not scored: {summary.note}")
    plots = _write_plots(summaries, out_dir)
    report = out_dir / "report.md"
    report.write_text(render_markdown(summaries, list(spaces.values()), plots), encoding="utf-8")
    (out_dir / "summary.json").write_text(json.dumps(_summary_json(summaries, spaces), indent=2) + "\n")
    say(f"wrote {report}")
    return report


# ---------------------------------------------------------------- reading a run

def summarize_run(run_dir: Path | str) -> RunSummary:
    """What a run directory says about itself: config, progress, wall time, final metrics, curves."""
    run_dir = Path(run_dir)
    config_file = run_dir / "config.json"
    if not config_file.exists():
        raise RunDirError(f"{run_dir} is not a run directory (config.json is missing)")
    config = RunConfig.from_dict(json.loads(config_file.read_text()))
    records = read_metrics(run_dir / "metrics.jsonl")
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
        return pick_metrics(json.loads((run_dir / "eval.json").read_text()))
    except (OSError, ValueError):
        return {}


def pick_metrics(report: dict[str, Any]) -> dict[str, float | None]:
    """The numbers the table shows, from an evaluation report (trainer.evaluation.metrics.EvalReport.to_dict())."""
    picked = {}
    for name in ("mse", "psnr", "ssim", "kl", "active_units", "mig"):
        value = report.get(name)
        picked[name] = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    return picked


# ---------------------------------------------------------------- scoring a run

def _dataset_for(config: RunConfig, datasets: dict[str, FaceDataset]) -> FaceDataset:
    key = json.dumps(config.to_dict()["data"], sort_keys=True)
    if key not in datasets:
        datasets[key] = load_dataset(config.data)
    return datasets[key]


def _score_run(summary: RunSummary, dataset: FaceDataset, space: FeatureSpace, device, face_images: int = 0) -> None:
    """Metrics (unless eval.json has them) and sample quality of the best checkpoint (else the last)."""
    checkpoint_dir = summary.run_dir / "checkpoints"
    path = checkpoint_dir / "best.pt" if (checkpoint_dir / "best.pt").exists() else checkpoint_dir / "last.pt"
    if not path.exists():
        summary.note = "no checkpoint (the run ended before its first evaluation)"
        return
    checkpoint = load_checkpoint(path)
    summary.params = checkpoint.model.parameter_count()
    try:
        if not summary.metrics:
            from trainer.evaluation.evaluate import evaluate_loaded
            summary.metrics = pick_metrics(evaluate_loaded(checkpoint, dataset, device))
        summary.scores = score_model(checkpoint.model, space, dataset.train, sampler=summary.sampler,
                                     seed=summary.config.train.seed, device=device)
        if face_images:
            from trainer.evaluation.evaluate import face_metrics_for
            summary.faces = face_metrics_for(checkpoint, dataset, device, sampler=summary.sampler,
                                             seed=summary.config.train.seed, max_images=face_images)
    except (SamplerError, SampleQualityError, FaceMetricsError) as error:   # e.g. a diverged model's codes are NaN
        summary.note = str(error)


def _write_run_images(summary: RunSummary, folder: Path) -> None:
    """Like the original's prediction/ folder: reconstructions (originals above) and both kinds of samples."""
    folder.mkdir(parents=True, exist_ok=True)
    scores = summary.scores
    rows = len(scores.originals) // 2
    pairs = np.concatenate([scores.originals[:rows], scores.reconstructions[:rows],
                            scores.originals[rows:2 * rows], scores.reconstructions[rows:2 * rows]])
    Image.fromarray(image_grid(pairs, nrow=rows)).save(folder / "reconstructions.png")
    side = max(1, int(round(len(scores.prior_images) ** 0.5)))
    Image.fromarray(image_grid(scores.prior_images, nrow=side)).save(folder / "samples_prior.png")
    Image.fromarray(image_grid(scores.fitted_images, nrow=side)).save(folder / "samples_fitted.png")


def _write_plots(summaries: list[RunSummary], out_dir: Path) -> dict[str, Path]:
    loss = [Series(s.name, *s.curves["loss"]) for s in summaries if s.curves.get("loss")]
    val = [Series(s.name, *s.curves["val_recon"]) for s in summaries if s.curves.get("val_recon")]
    return {"loss": line_plot(loss, out_dir / "loss_curves.png", "training loss (reconstruction + beta * KL)",
                              "step", "loss per image", log_y=True),
            "val_recon": line_plot(val, out_dir / "val_recon_curves.png", "validation reconstruction error",
                                   "step", "reconstruction loss per image", log_y=True)}


def _make_names_unique(summaries: list[RunSummary]) -> None:
    seen: dict[str, int] = {}
    for summary in summaries:
        count = seen.get(summary.name, 0)
        seen[summary.name] = count + 1
        if count:
            summary.name = f"{summary.name}-{count + 1}"


# ---------------------------------------------------------------- statistics and groups

def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties); nan for fewer than 2 points or a constant input."""
    if len(x) != len(y) or len(x) < 2:
        return math.nan
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):          # ties share their average rank
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def group_runs(summaries: Sequence[RunSummary], varying: set[str]) -> list[list[RunSummary]]:
    """Groups of runs whose configs are equal except in the `varying` fields ("section.key"); singletons dropped."""
    groups: dict[str, list[RunSummary]] = {}
    for summary in summaries:
        flat = {f"{section}.{key}": value for section, fields in summary.config.to_dict().items()
                for key, value in fields.items()}
        signature = json.dumps({k: v for k, v in flat.items() if k not in varying | _IGNORED_FIELDS},
                               sort_keys=True, default=str)
        groups.setdefault(signature, []).append(summary)
    return [group for group in groups.values() if len(group) > 1]


def seed_noise(summaries: Sequence[RunSummary], metric: str) -> float | None:
    """The largest difference in `metric` between runs that differ only in their seed (None without repeats)."""
    spreads = []
    for group in group_runs(summaries, {"train.seed"}):
        values = [s.value(metric) for s in group if s.value(metric) is not None]
        if len(values) > 1:
            spreads.append(max(values) - min(values))
    return max(spreads) if spreads else None


# ---------------------------------------------------------------- the markdown

def render_markdown(summaries: list[RunSummary], spaces: list[FeatureSpace], plots: dict[str, Path]) -> str:
    lines = ["# Experiment report", "",
             f"{len(summaries)} runs, written {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    lines += _explanation(spaces)
    lines += ["## Results", ""] + _results_table(summaries) + [""] + _face_table(summaries)
    lines += ["## The original study's conclusions, checked", ""]
    lines += _conclusion_kl_tradeoff(summaries) + [""]
    lines += _conclusion_reparameterization(summaries) + [""]
    lines += _conclusion_latent_distribution(summaries) + [""]
    lines += ["## Loss curves", "", f"![training loss]({plots['loss'].name})", "",
              f"![validation reconstruction]({plots['val_recon'].name})", ""]
    lines += ["## Images", "",
              "Per run: test images (rows 1 and 3) above their reconstructions (rows 2 and 4); samples decoded from "
              "N(0, I); samples decoded from the fitted density.", ""]
    for s in summaries:
        if s.scores is None:
            lines += [f"### {s.name}", "", f"Not scored: {s.note}", ""]
            continue
        lines += [f"### {s.name}", "", f"![reconstructions](runs/{s.name}/reconstructions.png) "
                  f"![prior samples](runs/{s.name}/samples_prior.png) "
                  f"![fitted samples](runs/{s.name}/samples_fitted.png)", ""]
    return "\n".join(lines) + "\n"


def _explanation(spaces: list[FeatureSpace]) -> list[str]:
    lines = ["How to read it:", "",
             "- **beta** is our KL weight: loss = sum over pixels of (x - y)^2 (pixels in [0, 1]) + beta * KL. "
             "**sigma** is the original study's equivalent, which weighted the KL against a per-pixel *mean* "
             "squared error on 0-255 pixels: beta = sigma * P / 255^2 with P = 3 x size^2 values per image "
             "(beta = 0.189 sigma at 64x64).",
             "- **wall**: time from the first training step to the end of the final evaluation, summed over "
             "resumed sessions. **params**: model parameters.",
             "- **MSE / PSNR / SSIM**: test-set reconstruction error per pixel (pixels in [0, 1]), its PSNR in dB, "
             "and the structural similarity. "
             "**KL**: per image, nats. **active**: latent dimensions whose mean KL over the test images is at least "
             "0.01 nats (an AE's: whose code varies over the data, variance > 0.01). **MIG**: mutual information gap with the true factors (synthetic data only).",
             "- **FD / P / R**: sample quality. A Fréchet distance between real and generated images, and "
             "precision / recall (k = 3 nearest neighbours, Kynkäänniemi et al. 2019), in the feature space of a "
             "small network we train ourselves (no Inception weights offline): on synthetic faces a regressor of "
             "the 16 true factors, on an image folder the encoder of a reference autoencoder. Lower FD is better; "
             "precision is the share of samples that look like some real face, recall the share of real faces "
             "the samples cover. These are not FID numbers: compare them only within this report. The feature "
             "network sees the factors (shape, colour, pose, expression) far better than blur or texture, so "
             "judge sharpness by PSNR and the grids.",
             "- **prior** samples decode z ~ N(0, I); **fitted** samples decode z from a Gaussian (or mixture) "
             "fitted to the encoded training images. **recon FD** scores the reconstructions of the real "
             "reference images: the best a sampler of this decoder can reach. **latent mismatch**: the Fréchet "
             "distance in latent space between N(0, I) and a Gaussian matched to the encoded training images "
             "(0 = the prior is where the codes are).", ""]
    for space in spaces:
        floor = space.floor()
        lines.append(f"Feature space `{space.key}` ({space.kind}, {len(space.reference)} reference images): two "
                     f"real sets score FD {floor.fd:.2f}, precision {floor.precision:.2f}, recall "
                     f"{floor.recall:.2f} (the best reachable).")
    return lines + [""]


def _results_table(summaries: list[RunSummary]) -> list[str]:
    header = ("| experiment | preset | beta | sigma | latent | params | steps | wall | MSE | PSNR | SSIM | KL | "
              "active | MIG | FD prior | P / R prior | FD fitted | P / R fitted | FD recon | latent mismatch | status |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for s in summaries:
        sc = s.scores
        cells = [s.name, s.config.model.preset, _num(s.beta), _num(s.sigma), str(s.config.model.latent_dim),
                 f"{s.params / 1e6:.2f} M" if s.params else "—", str(s.steps), _duration(s.wall_s), _num(s.metrics.get("mse")),
                 _num(s.metrics.get("psnr"), ".2f"), _num(s.metrics.get("ssim"), ".3f"), _num(s.metrics.get("kl")),
                 _num(s.metrics.get("active_units"), ".0f"), _num(s.metrics.get("mig"), ".3f"),
                 _num(sc.prior.fd if sc else None, ".2f"), _pr(sc.prior if sc else None),
                 _num(sc.fitted.fd if sc else None, ".2f"), _pr(sc.fitted if sc else None),
                 _num(sc.reconstruction.fd if sc else None, ".2f"), _num(sc.latent_mismatch if sc else None),
                 s.status]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _face_table(summaries: list[RunSummary]) -> list[str]:
    """Face-network columns, only when the faces extra measured them (trainer/evaluation/face_metrics.py)."""
    scored = [s for s in summaries if s.faces]
    if not scored:
        return []
    f = scored[0].faces
    lines = ["Face network (dlib's face detector and 128-d face embeddings; trainer/evaluation/face_metrics.py): the share of "
             "samples and reconstructions in which a face is detected, and the Fréchet distance of their face "
             f"embeddings to the test images' (lower is better; {f['n_images']} images per set). For scale: real "
             f"test faces are detected in {_num(f['test_face_detect'], '.0%')}, real training faces score FD "
             f"{_num(f['floor_face_fd'], '.4f')} (the best reachable) and the test faces blurred "
             f"(sigma 1.5 px) {_num(f['blurred_face_fd'], '.4f')}.", "",
             "| experiment | sampler | faces in samples | face FD samples | FD detected only | faces in recon | "
             "face FD recon |", "|---|---|---|---|---|---|---|"]
    for s in scored:
        f = s.faces
        lines.append(f"| {s.name} | {f['sampler']} | {_num(f['sample_face_detect'], '.0%')} | "
                     f"{_num(f['sample_face_fd'], '.4f')} | {_num(f['sample_face_fd_detected'], '.4f')} | "
                     f"{_num(f['recon_face_detect'], '.0%')} | {_num(f['recon_face_fd'], '.4f')} |")
    return lines + [""]


def _conclusion_kl_tradeoff(summaries: list[RunSummary]) -> list[str]:
    lines = ["### 1. The KL weight trades reconstruction quality against sampling quality", "",
             "Expected if it holds: across runs that differ only in beta, a higher beta gives a lower PSNR "
             "(Spearman rho(beta, PSNR) < 0) and better prior samples (rho(beta, FD prior) < 0).", ""]
    sweeps = [g for g in group_runs([s for s in summaries if s.is_variational], {"train.beta"})
              if len({s.beta for s in g}) > 1]
    if not sweeps:
        return lines + ["Not testable: no runs differ only in beta."]
    for group in sweeps:
        group = sorted(group, key=lambda s: s.beta)
        betas = [s.beta for s in group]
        rho_psnr = _rho(betas, [s.value("psnr") for s in group])
        rho_fd = _rho(betas, [s.value("fd_prior") for s in group])
        rows = ", ".join(f"{s.name}: beta {s.beta:.3g} -> PSNR {_num(s.value('psnr'), '.2f')} dB, FD prior "
                         f"{_num(s.value('fd_prior'), '.2f')}" for s in group)
        if rho_psnr < 0 and rho_fd < 0:
            verdict = "**holds**"
        elif rho_psnr < 0:
            verdict = "**holds only for reconstruction** (a higher beta costs PSNR but does not improve samples)"
        elif rho_fd < 0:
            verdict = "**holds only for sampling** (a higher beta improves samples at no PSNR cost)"
        else:
            verdict = "**does not hold**"
        lines.append(f"- {group[0].config.model.preset} sweep ({len(group)} runs; {rows}): rho(beta, PSNR) = "
                     f"{_num(rho_psnr, '+.2f')}, rho(beta, FD prior) = {_num(rho_fd, '+.2f')}: {verdict}.")
    lines += ["", "With a handful of points a rank correlation is coarse (with 3 points it can only be +-1 or "
                  "+-0.5; with 2, +-1); read it with the numbers beside it."]
    return lines


def _conclusion_reparameterization(summaries: list[RunSummary]) -> list[str]:
    lines = ["### 2. The way of reparameterizing changes results", "",
             f"Compared at equal beta among runs that differ only in the reparameterization (study-vae-04 also adds "
             f"a fully connected layer). It holds when the spread between variants exceeds {CLEAR_EFFECT:g}x the "
             "spread between two seeds of the same run.", ""]
    varying = {"model.reparam", "model.latent_fc"}
    groups = [g for g in group_runs([s for s in summaries if s.is_variational], varying)
              if len({s.config.model.reparam for s in g}) > 1]
    if not groups:
        return lines + ["Not testable: no two runs differ only in the reparameterization."]
    noise = {m: seed_noise(summaries, m) for m in ("psnr", "fd_prior")}
    noise_text = ", ".join(f"{m} {_num(v, '.3g')}" for m, v in noise.items())
    lines.append(f"Seed-to-seed spread: {noise_text}" + ("" if any(v is not None for v in noise.values()) else
                                                          " (no seed repeat among these runs)") + ".")
    for group in groups:
        rows = ", ".join(f"{s.name} ({s.config.model.reparam}): PSNR {_num(s.value('psnr'), '.2f')}, FD prior "
                         f"{_num(s.value('fd_prior'), '.2f')}, KL {_num(s.value('kl'), '.3g')}" for s in group)
        spreads = {m: _spread([s.value(m) for s in group]) for m in ("psnr", "fd_prior")}
        clear = [m for m in spreads if spreads[m] is not None and noise[m] is not None
                 and spreads[m] > CLEAR_EFFECT * noise[m]]
        if all(noise[m] is None for m in spreads):
            verdict = "**cannot tell** (no seed repeat to compare with)"
        elif clear:
            verdict = f"**holds** ({', '.join(clear)} spread beyond seed noise)"
        else:
            verdict = "**does not hold** here (differences within seed noise)"
        lines.append(f"- beta {group[0].beta:.3g} (sigma {group[0].sigma:.3g}): {rows}. Spread: PSNR "
                     f"{_num(spreads['psnr'], '.3g')} dB, FD prior {_num(spreads['fd_prior'], '.3g')}: {verdict}.")
    return lines


def _conclusion_latent_distribution(summaries: list[RunSummary]) -> list[str]:
    lines = ["### 3. The latent distribution decides sampling quality", "",
             "Expected if it holds: models whose encoded data lie far from N(0, I) (high latent mismatch) make "
             "worse prior samples (Spearman rho(latent mismatch, FD prior) > 0), and sampling from a density "
             "fitted to the codes beats the prior (FD fitted < FD prior) for most models.", ""]
    scored = [s for s in summaries if s.scores is not None]
    if len(scored) < 2:
        return lines + ["Not testable: fewer than two scored runs."]
    rho = _rho([s.value("latent_mismatch") for s in scored], [s.value("fd_prior") for s in scored])
    better = [s for s in scored if s.scores.fitted.fd < s.scores.prior.fd]
    for s in scored:
        lines.append(f"- {s.name}: latent mismatch {s.scores.latent_mismatch:.3g}, FD prior {s.scores.prior.fd:.2f} "
                     f"-> fitted {s.scores.fitted.fd:.2f} (recon {s.scores.reconstruction.fd:.2f})")
    holds = rho > 0.5 and len(better) >= 2 * len(scored) / 3
    lines += ["", f"rho(latent mismatch, FD prior) = {_num(rho, '+.2f')} over {len(scored)} runs; the fitted "
              f"sampler beats the prior in {len(better)} of {len(scored)} runs: "
              + ("**holds**." if holds else
                 "**does not hold** (it needs rho > 0.5 and the fitted sampler better in 2/3 of runs).")]
    return lines


def _rho(x: list, y: list) -> float:
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    return spearman([a for a, _ in pairs], [b for _, b in pairs])


def _spread(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return max(values) - min(values) if len(values) > 1 else None


def _num(value: float | None, spec: str = ".3g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def _pr(quality) -> str:
    return "—" if quality is None else f"{quality.precision:.2f} / {quality.recall:.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _summary_json(summaries: list[RunSummary], spaces: dict[str, FeatureSpace]) -> dict:
    return {"feature_spaces": {key: {"key": space.key, "kind": space.kind, "floor": space.floor().to_dict()}
                               for key, space in spaces.items()},
            "runs": [{"name": s.name, "run_dir": str(s.run_dir), "preset": s.config.model.preset,
                      "family": s.config.model.family, "beta": s.beta, "sigma": s.sigma,
                      "latent_dim": s.config.model.latent_dim, "params": s.params, "steps": s.steps,
                      "wall_s": s.wall_s, "status": s.status, "note": s.note, "metrics": s.metrics,
                      "scores": s.scores.to_dict() if s.scores else None, "faces": s.faces} for s in summaries]}
