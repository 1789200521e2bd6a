"""The per-label probe report: eval's table, the info panel's line and the experiments report's comparison."""
import numpy as np

from trainer.data.labels import LabelColumn
from trainer.evaluation.label_probes import best_runs_per_label, format_label_table, label_probe_line, label_section
from trainer.latent.label_directions import fit_label_models


def _report(noise: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    latents = rng.normal(size=(400, 4))
    age = (latents[:, 0] * 10 + 40 + noise * rng.normal(size=400)).astype(np.float32)
    smile = (latents[:, 1] + noise * rng.normal(size=400) > 0).astype(np.float32)
    columns = [LabelColumn("age", age), LabelColumn("smile", smile, ("no", "yes"))]
    train = [LabelColumn(c.name, c.values[:300], c.categories) for c in columns]
    test = [LabelColumn(c.name, c.values[300:], c.categories) for c in columns]
    models = fit_label_models(latents[:300], train, latents[300:], test)
    return {**models.to_dict(), "file": "labels.csv", "n_train": 300, "n_test": 100}


def test_eval_table_lists_each_label_with_its_quality_chance_and_mig():
    table = format_label_table(_report(0.1))
    assert "fitted to 300 training images, scored on 100 test images" in table
    age_line = next(line for line in table.splitlines() if line.strip().startswith("age"))
    assert "number" in age_line and "R² 1.00" in age_line
    assert "balanced accuracy" in table and "(chance 0.50)" in table
    assert format_label_table({"error": "labels.csv: line 3 has 2 cells"}) == \
        "labels: not used: labels.csv: line 3 has 2 cells"


def test_info_line_names_the_test_images_used():
    line = label_probe_line(_report(0.1))
    assert line.startswith("Labels (100 test images): age R² 1.00 · smile 0.9")


def test_experiments_report_says_which_run_keeps_which_label_best():
    reports = {"sharp": _report(0.1), "blurry": _report(3.0), "unlabelled": None}
    best = best_runs_per_label(reports)
    assert best["age"][0] == "sharp" and best["smile"][0] == "sharp"
    text = "\n".join(label_section(reports))
    assert "## Your labels" in text and "| sharp |" in text and "| blurry |" in text
    assert "**age** is kept best by sharp (R² 1.00)" in text
    assert label_section({"a": None}) == []
