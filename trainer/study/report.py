"""A comparison report for a set of runs: report.md with a table, loss-curve figures, image grids and a check, with
numbers, of the original study's three conclusions.

`vae-train experiments` writes it after running the list; `vae-train compare RUN_DIR...` writes it for any runs.
What a run says about itself is trainer.study.summary; the tables trainer.study.report_tables; the conclusions
trainer.study.conclusions; the figures trainer.study.plots (matplotlib, imported only when a report is written).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from trainer.data.images import save_png
from trainer.files import write_text_atomic

from trainer.config import RunConfig
from trainer.data.datasets import FaceDataset, load_dataset
from trainer.evaluation.face_metrics import FACE_IMAGES, INSTALL_HINT, FaceMetricsError, face_metrics_available
from trainer.evaluation.label_probes import label_section, label_probe_report
from trainer.evaluation.memorisation import memorisation_report, memorisation_section
from trainer.evaluation.sample_quality import (FeatureNetSettings, FeatureSpace, SampleQualityError,
                                               feature_space_for, score_model)
from trainer.latent.grids import image_grid
from trainer.latent.samplers import SamplerError
from trainer.study.conclusions import conclusions_markdown
from trainer.study.report_tables import explanation, face_table, results_table
from trainer.study.summary import RunSummary, pick_metrics, summarize_run
from trainer.training.checkpoint import load_checkpoint
from trainer.training.run_files import RunFiles


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
        _score_run(summary, dataset, spaces[space_key], device, face_images if faces else 0,
                   figures=out_dir / "runs" / summary.name)
        if summary.scores is not None:
            _write_run_images(summary, out_dir / "runs" / summary.name)
        else:
            say(f"{summary.name}: not scored: {summary.note}")
    plots = _write_plots(summaries, out_dir)
    report = out_dir / "report.md"
    write_text_atomic(report, render_markdown(summaries, list(spaces.values()), plots))
    write_text_atomic(out_dir / "summary.json", json.dumps(_summary_json(summaries, spaces), indent=2) + "\n")
    say(f"wrote {report}")
    return report


# ---------------------------------------------------------------- scoring a run

def _dataset_for(config: RunConfig, datasets: dict[str, FaceDataset]) -> FaceDataset:
    key = json.dumps(config.to_dict()["data"], sort_keys=True)
    if key not in datasets:
        datasets[key] = load_dataset(config.data)
    return datasets[key]


def _score_run(summary: RunSummary, dataset: FaceDataset, space: FeatureSpace, device, face_images: int = 0,
               figures: Path | None = None) -> None:
    """Metrics (unless eval.json has them) and sample quality of the best checkpoint (else the last)."""
    path = RunFiles(summary.run_dir).model_checkpoint
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
        summary.labels = label_probe_report(checkpoint, dataset, device)
        if figures is not None and len(dataset.train) and len(dataset.test):
            figures.mkdir(parents=True, exist_ok=True)
            summary.memorisation = memorisation_report(checkpoint, dataset, figures / "memorisation.png",
                                                       summary.sampler, summary.config.train.seed, device)
    except (SamplerError, SampleQualityError, FaceMetricsError) as error:   # e.g. a diverged model's codes are NaN
        summary.note = str(error)


def _write_run_images(summary: RunSummary, folder: Path) -> None:
    """Like the original's prediction/ folder: reconstructions (originals above) and both kinds of samples."""
    folder.mkdir(parents=True, exist_ok=True)
    scores = summary.scores
    rows = len(scores.originals) // 2
    pairs = np.concatenate([scores.originals[:rows], scores.reconstructions[:rows],
                            scores.originals[rows:2 * rows], scores.reconstructions[rows:2 * rows]])
    save_png(image_grid(pairs, nrow=rows), folder / "reconstructions.png")
    side = max(1, int(round(len(scores.prior_images) ** 0.5)))
    save_png(image_grid(scores.prior_images, nrow=side), folder / "samples_prior.png")
    save_png(image_grid(scores.fitted_images, nrow=side), folder / "samples_fitted.png")


def _write_plots(summaries: list[RunSummary], out_dir: Path) -> dict[str, Path]:
    """The loss curves of all runs overlaid, as PNG (linked from report.md) and SVG."""
    from trainer.study.plots import Series, line_plot       # matplotlib: loaded only when a report is written

    # every run in both lists, empty where it has no curve, so a run has the same colour and dash in both figures
    loss = [Series(s.name, *s.curves.get("loss", ([], []))) for s in summaries]
    val = [Series(s.name, *s.curves.get("val_recon", ([], []))) for s in summaries]
    return {"loss": line_plot(loss, out_dir / "loss_curves.png", "training loss (reconstruction + beta * KL)",
                              "step", "loss per image"),
            "val_recon": line_plot(val, out_dir / "val_recon_curves.png", "validation reconstruction error",
                                   "step", "reconstruction loss per image")}


def _make_names_unique(summaries: list[RunSummary]) -> None:
    seen: dict[str, int] = {}
    for summary in summaries:
        count = seen.get(summary.name, 0)
        seen[summary.name] = count + 1
        if count:
            summary.name = f"{summary.name}-{count + 1}"


# ---------------------------------------------------------------- the markdown

def render_markdown(summaries: list[RunSummary], spaces: list[FeatureSpace], plots: dict[str, Path]) -> str:
    lines = ["# Experiment report", "",
             f"{len(summaries)} runs, written {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    lines += explanation(spaces)
    lines += ["## Results", ""] + results_table(summaries) + [""] + face_table(summaries)
    lines += ["## The original study's conclusions, checked", ""] + conclusions_markdown(summaries)
    lines += memorisation_section([(s.name, s.memorisation, f"runs/{s.name}/memorisation.png") for s in summaries])
    lines += label_section({s.name: s.labels for s in summaries})
    lines += ["## Loss curves", ""]
    for key, what in (("loss", "training loss"), ("val_recon", "validation reconstruction")):
        png = plots[key].name
        lines += [f"![{what}]({png})", "", f"(Vector version: [{Path(png).with_suffix('.svg')}]"
                                           f"({Path(png).with_suffix('.svg')}).)", ""]
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


def _summary_json(summaries: list[RunSummary], spaces: dict[str, FeatureSpace]) -> dict:
    return {"feature_spaces": {key: {"key": space.key, "kind": space.kind, "floor": space.floor().to_dict()}
                               for key, space in spaces.items()},
            "runs": [{"name": s.name, "run_dir": str(s.run_dir), "preset": s.config.model.preset,
                      "family": s.config.model.family, "beta": s.beta, "sigma": s.sigma,
                      "latent_dim": s.config.model.latent_dim, "params": s.params, "steps": s.steps,
                      "wall_s": s.wall_s, "status": s.status, "note": s.note, "metrics": s.metrics,
                      "scores": s.scores.to_dict() if s.scores else None, "faces": s.faces,
                      "memorisation": s.memorisation, "labels": s.labels} for s in summaries]}
