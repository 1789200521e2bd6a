"""How much of each of the user's labels a model's latent holds: `vae-train eval`'s probe table and the experiments
report's comparison. The probes are trainer.latent.label_directions' models, fitted to encoded training images and
scored on the test images."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from trainer.data.labels import LabelColumn, LabelError, LabelTable, find_labels_file, folder_image_names, read_labels
from trainer.deadline import Deadline
from trainer.evaluation.association import DimLabels, dim_labels
from trainer.latent.label_directions import LabelModels, fit_label_models

MIN_ASSOCIATION_IMAGES = 20    # fewer test images with every label known: no label names beside dimensions
TRAIN_SHARE = 0.7              # under a deadline: encoding the training images may take this share of it


@dataclass
class DatasetLabels:
    """A folder data set's labels, one column per label for its train and its test images."""

    table: LabelTable
    train: list[LabelColumn]
    test: list[LabelColumn]


def dataset_labels(dataset, test_fraction: float) -> DatasetLabels | None:
    """The labels file of a folder data set, matched to its train and test images; None for synthetic data, a folder
    without a labels file, or images that cannot be matched to file names. Raises LabelError for a file that does not
    fit."""
    if dataset.source == "synthetic":
        return None
    path = find_labels_file(Path(dataset.source))
    if path is None:
        return None
    names = folder_image_names(dataset.source, test_fraction, len(dataset.train), len(dataset.test))
    if names is None:
        return None
    table = read_labels(path)
    return DatasetLabels(table, [table.column_for(c, names[0]) for c in table.columns],
                         [table.column_for(c, names[1]) for c in table.columns])


def label_probe_report(checkpoint, dataset, device: str | torch.device = "cpu", deadline: Deadline | None = None,
                       codes=None) -> dict[str, Any] | None:
    """The probes of every label of the data set, fitted to the encoded training images and scored on the test
    images (the first STATS_MAX_IMAGES of each, or with a `deadline` as many as it allows), as plain types
    (LabelModels.to_dict() plus "file", "n_train" and "n_test"); None without labels. A labels file that does not
    fit gives {"error": its one-line message}. `codes`: a DataCodes shared with the rest of the evaluation."""
    from trainer.evaluation.evaluate import codes_on, codes_within

    try:
        labels = dataset_labels(dataset, checkpoint.config.data.test_fraction)
    except LabelError as error:
        return {"error": str(error)}
    if labels is None or len(dataset.train) < 2:
        return None
    with codes_on(checkpoint, dataset, device, codes) as codes:
        train, _, train_rows = codes_within(codes, "train", deadline.part(TRAIN_SHARE) if deadline else None, 2)
        test, _, test_rows = codes_within(codes, "test", deadline, 1) if len(dataset.test) else \
            (np.zeros((0, train.shape[1])), None, np.zeros(0, np.int64))
    test_columns = _subset(labels.test, test_rows)
    models = fit_label_models(train, _subset(labels.train, train_rows), test, test_columns)
    associations = label_dim_labels(test, test_columns)
    return {**models.to_dict(), "file": str(labels.table.path), "n_train": int(len(train)),
            "n_test": int(len(test)), "dim_labels": None if associations is None else associations.to_dict()}


def label_dim_labels(latents: np.ndarray, columns: Sequence[LabelColumn]) -> DimLabels | None:
    """Which label each latent dimension (N, D) tells the most about, tested against the same images with their
    labels shuffled (trainer.evaluation.association), on the images with every label known; None with fewer than
    MIN_ASSOCIATION_IMAGES of them."""
    if not columns:
        return None
    known = np.all([c.values >= 0 if c.is_categorical else np.isfinite(c.values) for c in columns], axis=0)
    if known.sum() < MIN_ASSOCIATION_IMAGES:
        return None
    values = np.stack([c.values[known] for c in columns], axis=1).astype(np.float64)
    return dim_labels(np.asarray(latents)[known], values, [c.name for c in columns],
                      categorical=[c.is_categorical for c in columns])


def stored_label_dim_labels(payload: dict[str, Any], latent_dim: int) -> DimLabels | None:
    """The tested label of each latent dimension an evaluation stored with a checkpoint, None without one."""
    report = payload.get("eval") if isinstance(payload, dict) else None
    labels = report.get("labels") if isinstance(report, dict) else None
    stored = labels.get("dim_labels") if isinstance(labels, dict) else None
    try:
        found = DimLabels.from_dict(stored) if isinstance(stored, dict) else None
    except (KeyError, TypeError, ValueError):
        return None
    return found if found is not None and len(found.names) == latent_dim else None


def _subset(columns: Sequence[LabelColumn], rows) -> list[LabelColumn]:
    return [LabelColumn(c.name, c.values[rows], c.categories) for c in columns]


def format_label_table(report: dict[str, Any] | None) -> str:
    """The per-label probe table `vae-train eval` prints; '' without labels."""
    if not report:
        return ""
    if "error" in report:
        return f"labels: not used: {report['error']}"
    models = LabelModels.from_dict(report)
    lines = [f"labels ({report['file']}): linear probes fitted to {report['n_train']:,} training images, "
             f"scored on {report['n_test']:,} test images",
             f"  {'label':<16} {'kind':<9} {'held-out quality':<38} {'MIG':>6}"]
    for probe in models.probes:
        kind = f"{len(probe.categories)} cat." if probe.is_categorical else "number"
        quality = probe.quality_text() or "not measured"
        mig = "—" if probe.mig is None else f"{probe.mig:.3f}"
        lines.append(f"  {probe.name:<16} {kind:<9} {quality:<38} {mig:>6}")
    for name, why in models.skipped.items():
        lines.append(f"  {name:<16} no probe: {why}")
    return "\n".join(lines)


def label_probe_line(report: dict[str, Any] | None) -> str:
    """One line for the explorer's info panel: 'Labels (300 test images): age R² 0.62 · gender 0.88 (chance 0.50)'."""
    if not report or "error" in report:
        return ""
    parts = []
    for probe in LabelModels.from_dict(report).probes:
        if probe.quality is None:
            continue
        value = f"R² {probe.quality:.2f}" if not probe.is_categorical else \
            f"{probe.quality:.2f} (chance {probe.chance:.2f})"
        parts.append(f"{probe.name} {value}")
    return f"Labels ({report['n_test']:,} test images): " + " · ".join(parts) if parts else ""


def best_runs_per_label(reports: dict[str, dict[str, Any] | None]) -> dict[str, tuple[str, float, str]]:
    """Per label: the run whose latent keeps it best (highest held-out quality), that quality and how it reads."""
    best: dict[str, tuple[str, float, str]] = {}
    for run, report in reports.items():
        if not report or "error" in report:
            continue
        for probe in LabelModels.from_dict(report).probes:
            if probe.quality is not None and (probe.name not in best or probe.quality > best[probe.name][1]):
                best[probe.name] = (run, probe.quality, probe.quality_text())
    return best


def label_section(reports: dict[str, dict[str, Any] | None]) -> list[str]:
    """The experiments report's markdown: each run's held-out probe quality per label, and which run keeps which
    label best; nothing when no run's data has labels."""
    usable = {run: LabelModels.from_dict(r) for run, r in reports.items() if r and "error" not in r}
    if not usable:
        return []
    names = list(dict.fromkeys(p.name for models in usable.values() for p in models.probes))
    lines = ["## Your labels", "",
             "Linear probes of each label on the encoded training images, scored on the test images: R² for "
             "numbers, balanced accuracy for categories (chance in brackets). Higher: the latent keeps more of it.",
             "", "| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for run, models in usable.items():
        cells = []
        for name in names:
            probe = next((p for p in models.probes if p.name == name), None)
            cells.append("—" if probe is None or probe.quality is None else
                         f"{probe.quality:.3f}" + (f" ({probe.chance:.2f})" if probe.is_categorical else ""))
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, (run, _quality, text) in best_runs_per_label(reports).items():
        lines.append(f"- **{name}** is kept best by {run} ({text}).")
    return lines + [""]
