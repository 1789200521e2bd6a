"""The text that describes a checkpoint: model family and preset, latent size, beta, data, steps, eval metrics
(the info panel and the Compare tab's cards show it)."""
from __future__ import annotations

import html
from numbers import Number
from pathlib import Path

from trainer.evaluation.face_metrics import INSTALL_HINT, face_metrics_available
from trainer.evaluation.identity import format_identity
from trainer.evaluation.label_probes import label_probe_line
from trainer.latent.stats import active_definition
from trainer.resources import default_checkpoint
from trainer.training.checkpoint import LoadedCheckpoint

from .. import theme

MAX_METRICS = 8
# Labels of trainer.evaluation.metrics.EvalReport fields, in the order shown; other numbers follow, bookkeeping is skipped.
METRIC_LABELS = {"neg_elbo": "-ELBO", "recon_loss": "recon", "kl": "KL", "psnr": "PSNR", "ssim": "SSIM",
                 "active_units": "active dims", "mig": "MIG", "mse": "MSE"}
SKIPPED_METRICS = {"step", "n_images", "latent_dim", "epoch"}
METRIC_TIPS = {
    "neg_elbo": "-ELBO: reconstruction loss + KL per test image, what a VAE minimizes (lower is better)",
    "recon_loss": "recon: reconstruction loss per test image (lower is better)",
    "kl": "KL: nats per image between the encoder's distribution and the prior N(0, I), summed over dimensions",
    "psnr": "PSNR: reconstruction quality in dB (higher is better; 20 dB is blurry, 30 dB close)",
    "ssim": "SSIM: structural similarity of reconstruction and original, 0 to 1 (higher is better)",
    "mig": "MIG: mutual information gap with the true factors, 0 to 1 (higher: each factor in one dimension)",
    "mse": "MSE: mean squared pixel error, pixels in [0, 1]",
}


def steps_per_epoch(checkpoint: LoadedCheckpoint) -> int | None:
    """Optimizer steps in one epoch: stored by newer runs; computed for the synthetic faces; else unknown."""
    stored = checkpoint.payload.get("steps_per_epoch")
    if isinstance(stored, int) and stored > 0:
        return stored
    data, train = checkpoint.config.data, checkpoint.config.train
    if data.is_synthetic and train.batch_size > 0:
        n_test = max(1, round(data.synthetic_count * data.test_fraction))     # trainer.data.datasets's split
        return max(1, (data.synthetic_count - n_test) // train.batch_size)
    return None


def training_length(checkpoint: LoadedCheckpoint) -> str:
    """'56 steps, 2 epochs' or '21 steps, 0.8 epochs': completed training, never the epoch in progress."""
    step = int(checkpoint.payload.get("step", 0))
    per_epoch = steps_per_epoch(checkpoint)
    if per_epoch:
        epochs = step / per_epoch
    else:
        stored = checkpoint.payload.get("epoch")          # whole epochs completed (step // steps per epoch)
        epochs = float(stored) if isinstance(stored, int) else None
    text = f"{step:,} steps"
    if epochs is None:
        return text
    shown = f"{epochs:.0f}" if abs(epochs - round(epochs)) < 0.05 else f"{epochs:.1f}"
    return f"{text}, {shown} epoch{'' if shown == '1' else 's'}"


def where_from(path: Path) -> str:
    """The checkpoint's folder; the bundled model says so (its folder is the package's, not the user's)."""
    bundled = default_checkpoint()
    if bundled is not None and path.resolve() == bundled.resolve():
        return "bundled with the app"
    return str(path.parent)


def describe_checkpoint(checkpoint: LoadedCheckpoint) -> str:
    """Rich text for the info panel."""
    config, payload = checkpoint.config, checkpoint.payload
    model = config.model
    family = "VAE" if model.family == "vae" else "Autoencoder"
    lines = [f"<b>{html.escape(checkpoint.path.name)}</b> " + theme.span(where_from(checkpoint.path), theme.Tone.MUTED)]
    facts = [family, f"preset {html.escape(model.preset)}", f"{model.latent_dim}-d latent"]
    if model.family == "vae":
        facts.append(f"beta {config.train.beta:g}")
    if config.train.factor_supervision > 0:
        labels = config.train.label_fraction
        facts.append("dims tied to true factors" + (f" ({labels:.0%} of labels)" if labels < 1 else ""))
    if config.train.tc_weight > 0:
        facts.append(f"TC weight {config.train.tc_weight:g}")
    lines.append(" · ".join(facts))
    data = config.data
    source = (f"synthetic faces ({data.synthetic_count:,})" if data.is_synthetic
              else html.escape(str(payload.get("data_source") or data.source)))
    lines.append(f"Data: {source}, {data.image_size} px")
    lines.append(f"Trained {training_length(checkpoint)}")
    metrics = format_metrics(payload.get("eval"))
    lines.append(f"Test set: {metrics}" if metrics else theme.span("No evaluation stored", theme.Tone.MUTED))
    faces = format_faces(payload.get("eval"))
    if faces:
        lines.append(faces)
    lines += [html.escape(line) for line in label_lines(payload.get("eval")) if line]
    return "<br>".join(lines)


def label_lines(report: dict | None) -> list[str]:
    """How much of each of the user's labels the latent keeps, and how many images named the sliders' factors."""
    if not isinstance(report, dict):
        return []
    tested = report.get("dim_labels")
    factors = (f"Factor names beside sliders: tested against shuffled factors on {tested['n_images']:,} test images"
               if isinstance(tested, dict) and "n_images" in tested else "")
    labels = report.get("labels")
    tested_labels = labels.get("dim_labels") if isinstance(labels, dict) else None
    names = (f"Label names beside sliders: tested against shuffled labels on {tested_labels['n_images']:,} test "
             "images" if isinstance(tested_labels, dict) and "n_images" in tested_labels else "")
    return [label_probe_line(labels), factors, names]


def format_faces(report: dict | None) -> str:
    """The face-network numbers `vae-train eval` stored (trainer/evaluation/face_metrics.py), or the install hint."""
    faces = report.get("faces") if isinstance(report, dict) else None
    if isinstance(faces, dict):
        def cell(key: str, spec: str) -> str:
            value = faces.get(key)
            return "—" if not isinstance(value, Number) else format(value, spec)
        identity = format_identity(faces)
        return (f"Face network: faces in samples {cell('sample_face_detect', '.0%')} · face FD samples "
                f"{cell('sample_face_fd', '.3f')} (real faces {cell('floor_face_fd', '.3f')}, blurred "
                f"{cell('blurred_face_fd', '.3f')}) · faces in recon {cell('recon_face_detect', '.0%')}"
                + (f"<br>{html.escape(identity)}" if identity else ""))
    if not face_metrics_available():
        return theme.span(INSTALL_HINT, theme.Tone.MUTED)
    return ""


def format_metrics(report: dict | None) -> str:
    """The report's numbers as 'name value' pairs, the best-known first."""
    if not isinstance(report, dict):
        return ""
    numbers = {k: v for k, v in report.items()
               if isinstance(v, Number) and not isinstance(v, bool) and k not in SKIPPED_METRICS}
    ordered = [k for k in METRIC_LABELS if k in numbers] + [k for k in numbers if k not in METRIC_LABELS]
    parts = []
    for key in ordered[:MAX_METRICS]:
        value = _format_number(numbers[key])
        if key == "active_units" and isinstance(report.get("latent_dim"), int):
            value += f"/{report['latent_dim']}"
        elif key == "psnr":
            value += " dB"
        parts.append(f"{html.escape(METRIC_LABELS.get(key, key))} {value}")
    return " · ".join(parts)


def _format_number(value: Number) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def metrics_tooltip(checkpoint: LoadedCheckpoint) -> str:
    """The file's full path and what each number on the panel means."""
    report = checkpoint.payload.get("eval")
    lines = [str(checkpoint.path)]
    if isinstance(report, dict):
        lines += [tip for key, tip in METRIC_TIPS.items() if key in report]
        if "active_units" in report:
            lines.append("active dims: " + active_definition(checkpoint.model.is_variational))
    lines.append("Steps are optimizer updates; epochs count completed passes over the training images.")
    return "\n".join(lines)
