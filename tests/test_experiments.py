"""The experiment list: TOML loading, skip/resume, the comparison report, sample-quality metrics and plots."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.training.control import TrainingControl
from trainer.training.events import StepMetrics
from trainer.study.experiments import (ExperimentFileError, ExperimentMismatchError, beta_to_sigma, experiments_root,
                                 load_experiments, run_experiments, run_status, sigma_to_beta)
from trainer.study.conclusions import rank_correlation
from trainer.study.plots import COLOURS, Series, line_figure, line_plot
from trainer.study.report import write_report
from trainer.study.summary import wall_time
from trainer.resources import experiments_file
from trainer.evaluation.sample_quality import (FeatureNetSettings, frechet_distance, latent_prior_mismatch,
                                    precision_recall)

TINY_DEFAULTS = """
[defaults]
image_size = 32
base_channels = 8
depth = 3
latent_dim = 6
synthetic_count = 160
epochs = 1
batch_size = 16
lr = 3e-3
threads = 1
"""
TINY_FEATURES = FeatureNetSettings(steps=5, batch_size=16, train_images=64, feature_dim=8, base_channels=4,
                                   depth=3, n_reference=40)


def write_toml(tmp_path: Path, body: str, defaults: str = TINY_DEFAULTS) -> Path:
    path = tmp_path / "experiments.toml"
    path.write_text(defaults + body)
    return path


# ---------------------------------------------------------------- the file

def test_loader_applies_defaults_in_file_order_and_converts_sigma(tmp_path):
    path = write_toml(tmp_path, """
[experiments.zeta]
preset = "default-ae"
[experiments.alpha]
preset = "study-vae-01"
sigma = 0.5
max_steps = 7
[experiments."beta.2"]
beta = 2.0
sampler = "mixture"
time_budget = 2.5
""")
    experiments = load_experiments(path)
    assert [e.name for e in experiments] == ["zeta", "alpha", "beta.2"]
    zeta, alpha, beta2 = experiments
    assert zeta.config.model.family == "ae" and zeta.config.model.image_size == 32
    assert alpha.config.model.reparam == "uniform01" and alpha.config.model.base_channels == 8
    assert alpha.sigma == 0.5 and alpha.config.train.max_steps == 7
    assert alpha.config.train.beta == pytest.approx(0.5 * 3 * 32 * 32 / 255 ** 2)
    assert beta2.config.train.beta == 2.0 and beta2.sampler == "mixture" and beta2.sigma is None
    assert beta2.config.train.time_budget_minutes == 2.5 and zeta.config.train.time_budget_minutes == 0
    assert load_experiments(path, only=["alpha"])[0].name == "alpha"


def test_sigma_beta_conversion_at_64px():
    assert sigma_to_beta(1.0, 64) == pytest.approx(12288 / 65025)
    assert sigma_to_beta(0.5, 64) == pytest.approx(0.0945, abs=1e-4)
    assert beta_to_sigma(sigma_to_beta(0.001, 64), 64) == pytest.approx(0.001)


@pytest.mark.parametrize("body, words", [
    ('[experiments.bad]\nbetta = 1.0\n', ["'bad'", "betta"]),
    ('[experiments.bad]\nlr = "fast"\n', ["'bad'", "lr"]),
    ('[experiments.bad]\nlr = 5.0\n', ["'bad'", "lr"]),
    ('[experiments.bad]\nepochs = 2.5\n', ["'bad'", "epochs"]),
    ('[experiments.bad]\nbeta = 1.0\nsigma = 0.1\n', ["'bad'", "beta", "sigma"]),
    ('[experiments.bad]\npreset = "nope"\n', ["'bad'", "preset"]),
    ('[experiments.bad]\nsampler = "prior"\n', ["'bad'", "sampler"]),
    ('[experiments.bad]\nsigma = -1.0\n', ["'bad'", "sigma"]),
    ('[experiments."../up"]\nbeta = 1.0\n', ["'../up'", "name"]),
])
def test_loader_refuses_bad_experiments_naming_experiment_and_key(tmp_path, body, words):
    path = write_toml(tmp_path, "[experiments.good]\nbeta = 1.0\n" + body)
    with pytest.raises(ExperimentFileError) as error:
        load_experiments(path)
    message = str(error.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_loader_refuses_unknown_names_broken_toml_and_unknown_tables(tmp_path):
    path = write_toml(tmp_path, "[experiments.one]\nbeta = 1.0\n")
    with pytest.raises(ExperimentFileError, match="no experiment named two"):
        load_experiments(path, only=["two"])
    path.write_text("[defaults\n")
    with pytest.raises(ExperimentFileError, match="not valid TOML"):
        load_experiments(path)
    path.write_text("[other]\nx = 1\n[experiments.one]\n")
    with pytest.raises(ExperimentFileError, match="other"):
        load_experiments(path)
    with pytest.raises(ExperimentFileError, match="cannot read"):
        load_experiments(tmp_path / "missing.toml")


def test_shipped_experiment_list_maps_the_original_study():
    experiments = {e.name: e for e in load_experiments(experiments_file())}
    for name in ("ae_01", "ae_02", "vae_01_sigma0.5", "vae_01_sigma0.05", "vae_01_sigma0.001",
                 "vae_01_sigma0.0001", "vae_02_sigma0.001", "vae_02_sigma0.0001", "vae_03_sigma0.0001",
                 "vae_03_sigma0.01", "vae_04_sigma0.001", "default_beta1", "default_ae"):
        assert name in experiments
    assert experiments["ae_02"].config.model.skip_connections
    assert experiments["vae_03_sigma0.01"].config.model.reparam == "exp_logvar"
    assert experiments["vae_01_sigma0.5"].config.train.beta == pytest.approx(0.5 * 12288 / 65025)
    folder = load_experiments(experiments_file(), data="some/faces", only=["ae_01"])[0]
    assert Path(folder.config.data.source).is_absolute() and folder.config.data.source.endswith("faces")


# ---------------------------------------------------------------- running: skip, resume, report

TWO_TINY = """
[experiments.tiny_ae]
preset = "default-ae"
[experiments.tiny_vae]
preset = "default"
beta = 0.5
"""


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Two tiny experiments; the second is stopped after 2 steps, then the list is run again (skip + resume)."""
    root = tmp_path_factory.mktemp("experiments")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAE_EXPLORER_CACHE", str(root / "cache"))
        path = write_toml(root, TWO_TINY)
        experiments = load_experiments(path)
        control = TrainingControl()

        def stop_vae_early(experiment):
            def sink(event):
                if experiment.name == "tiny_vae" and isinstance(event, StepMetrics) and event.step == 2:
                    control.stop()
            return sink

        first = run_experiments(experiments, root / "runs", events=stop_vae_early, control=control, log=lambda _: None)
        ae_checkpoint = experiments_root(root / "runs", "synthetic") / "tiny_ae" / "checkpoints" / "best.pt"
        ae_mtime = ae_checkpoint.stat().st_mtime_ns
        second = run_experiments(experiments, root / "runs", log=lambda _: None)
    return {"root": root, "path": path, "first": first, "second": second, "ae_mtime": ae_mtime,
            "ae_checkpoint": ae_checkpoint, "dirs": [o.run_dir for o in second]}


def test_runner_skips_completed_runs_and_resumes_interrupted_ones(tiny_runs):
    first, second = tiny_runs["first"], tiny_runs["second"]
    assert [(o.name, o.status) for o in first] == [("tiny_ae", "completed"), ("tiny_vae", "stopped")]
    assert [(o.name, o.status) for o in second] == [("tiny_ae", "skipped"), ("tiny_vae", "completed")]
    ae_dir, vae_dir = tiny_runs["dirs"]
    assert ae_dir.name == "tiny_ae" and ae_dir.parent.name == "synthetic"
    assert tiny_runs["ae_checkpoint"].stat().st_mtime_ns == tiny_runs["ae_mtime"]     # not retrained
    assert "resumed at step 2" in (vae_dir / "train.log").read_text()
    assert run_status(vae_dir) == "completed" and run_status(ae_dir) == "completed"
    assert json.loads((vae_dir / "experiment.json").read_text())["name"] == "tiny_vae"


def test_runner_refuses_a_changed_experiment_and_restarts_stale_runs(tiny_runs, tmp_path):
    changed = write_toml(tmp_path, TWO_TINY.replace("beta = 0.5", "beta = 0.7"))
    with pytest.raises(ExperimentMismatchError, match="train.beta"):
        run_experiments(load_experiments(changed, only=["tiny_vae"]), tiny_runs["root"] / "runs",
                        log=lambda _: None)
    stale = experiments_root(tmp_path / "runs", "synthetic") / "tiny_ae"
    (stale / "checkpoints").mkdir(parents=True)
    (stale / "train.log").write_text("died before the first checkpoint\n")
    assert run_status(stale) == "stale"
    outcome, = run_experiments(load_experiments(tiny_runs["path"], only=["tiny_ae"]), tmp_path / "runs",
                               log=lambda _: None)
    assert outcome.status == "completed" and outcome.run_dir == stale
    assert "died before" not in (stale / "train.log").read_text()


def test_report_on_two_tiny_runs(tiny_runs, tmp_path):
    report = write_report(tiny_runs["dirs"], tmp_path / "report", feature_settings=TINY_FEATURES, say=lambda _: None,
                          face_images=4)        # dlib's face network takes ~80 ms per image
    text = report.read_text()
    assert "| tiny_ae |" in text and "| tiny_vae |" in text
    assert "Face network (dlib" in text and "| tiny_vae | gaussian |" in text
    for heading in ("KL weight trades", "reparameterizing", "latent distribution decides"):
        assert heading in text
    for name in ("tiny_ae", "tiny_vae"):
        for image in ("reconstructions.png", "samples_prior.png", "samples_fitted.png"):
            assert Image.open(tmp_path / "report" / "runs" / name / image).size[0] > 32
    for figure in ("loss_curves", "val_recon_curves"):
        assert Image.open(tmp_path / "report" / f"{figure}.png").size[0] > 900
        assert (tmp_path / "report" / f"{figure}.svg").read_text().lstrip().startswith("<?xml")
        assert f"]({figure}.png)" in text
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    vae = next(run for run in summary["runs"] if run["name"] == "tiny_vae")
    assert vae["beta"] == 0.5 and vae["sigma"] == pytest.approx(beta_to_sigma(0.5, 32))
    for run in summary["runs"]:
        for kind in ("prior", "fitted", "reconstruction"):
            scores = run["scores"][kind]
            assert math.isfinite(scores["fd"]) and scores["fd"] >= 0
            assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1
            assert scores["n"] == TINY_FEATURES.n_reference
        assert run["params"] > 0 and run["steps"] > 0 and run["wall_s"] > 0


@pytest.fixture
def tiny_feature_settings(monkeypatch):
    """The CLI's reports use the tiny feature network."""
    from trainer.study import report as report_module

    original = report_module.write_report
    monkeypatch.setattr(report_module, "write_report",
                        lambda dirs, out, **kw: original(dirs, out, feature_settings=TINY_FEATURES, face_images=0,
                                                         **kw))


def test_compare_cli_writes_the_report(tiny_runs, tmp_path, tiny_feature_settings):
    from trainer.cli import main

    out = tmp_path / "cmp"
    assert main(["compare", *map(str, tiny_runs["dirs"]), "--report", str(out), "--device", "cpu"]) == 0
    assert "| tiny_vae |" in (out / "report.md").read_text()
    assert main(["compare", str(tmp_path), "--report", str(out)]) == 2     # not a run directory


def test_experiments_cli_skips_finished_runs_and_reports_every_run(tiny_runs, tmp_path, tiny_feature_settings,
                                                                   capsys):
    from trainer.cli import main

    out = tmp_path / "report"
    assert main(["experiments", str(tiny_runs["path"]), "--only", "tiny_vae", "--quiet", "--device", "cpu",
                 "--runs-dir", str(tiny_runs["root"] / "runs"), "--report", str(out)]) == 0
    assert "already completed" in capsys.readouterr().out
    text = (out / "report.md").read_text()
    assert "| tiny_ae |" in text and "| tiny_vae |" in text
    assert main(["experiments", str(tiny_runs["path"]), "--only", "nope"]) == 2


# ---------------------------------------------------------------- metrics and helpers

def test_frechet_distance_is_zero_for_equal_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = frechet_distance(a, a + np.array([3.0, 0, 0, 0]))
    assert shifted == pytest.approx(9.0, rel=1e-6)
    # cov 4S against S: tr(S) + tr(4S) - 2 tr(2S) = tr(S), plus the means' squared distance
    expected = np.trace(np.cov(a, rowvar=False)) + (a.mean(0) ** 2).sum()
    assert frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-6)


def test_precision_recall_of_same_disjoint_and_collapsed_sets():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((300, 3))
    same = rng.standard_normal((300, 3))
    assert min(precision_recall(real, same)) > 0.8
    assert precision_recall(real, same + 50.0) == (0.0, 0.0)
    collapsed = np.zeros((300, 3)) + rng.standard_normal((300, 3)) * 1e-3
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.2          # faithful but covers little of the data


def test_latent_prior_mismatch_is_zero_for_prior_like_codes():
    rng = np.random.default_rng(2)
    assert latent_prior_mismatch(rng.standard_normal((20000, 3))) < 0.01
    assert latent_prior_mismatch(5 + rng.standard_normal((2000, 3))) == pytest.approx(75, rel=0.05)
    tight = rng.standard_normal((20000, 2)) * 0.1
    assert latent_prior_mismatch(tight) > 1.0                                       # codes bunched near 0
    assert latent_prior_mismatch(tight, np.log(np.full((20000, 2), 0.99))) < 0.01   # + posterior noise: ~N(0, I)


# Spearman's rho as the report's own hand-written function gave it (average ranks for ties), before scipy's
# spearmanr replaced it: the same data must give the same numbers.
HAND_WRITTEN_SPEARMAN = [
    ([1, 2, 3], [10, 20, 30], 1.0),
    ([1, 2, 3], [3, 2, 1], -1.0),
    ([1, 2, 3, 4], [1, 1, 2, 2], 0.8944271909999159),
    ([0.5, 0.1, 2.0, 7.0, 3.0], [9.0, 4.0, 4.0, 1.0, -2.0], -0.7181848464596079),
    ([3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8], 0.19885368120992464),
]


@pytest.mark.parametrize("x, y, rho", HAND_WRITTEN_SPEARMAN)
def test_rank_correlation_matches_the_hand_written_spearman_it_replaced(x, y, rho):
    assert rank_correlation(x, y) == pytest.approx(rho, abs=1e-12)


def test_rank_correlation_skips_unknown_values_and_is_nan_when_undefined():
    assert rank_correlation([1, None, 2, 3], [1, 5, 2, None]) == pytest.approx(1.0)     # pairs (1, 1), (2, 2)
    assert math.isnan(rank_correlation([1, 2], [5, 5]))              # a constant side
    assert math.isnan(rank_correlation([1, None], [2, 3]))           # one pair left
    assert math.isnan(rank_correlation([], []))


def test_wall_time_sums_resumed_segments():
    records = [{"type": "step", "time": 100.0}, {"type": "finished", "time": 130.0, "status": "stopped"},
               {"type": "step", "time": 500.0}, {"type": "finished", "time": 520.0, "status": "completed"}]
    assert wall_time(records) == pytest.approx(50.0)


def _sixteen_runs() -> list[Series]:
    """Loss curves falling over three decades, one per run, all different."""
    steps = np.arange(1, 201)
    return [Series(f"run-{i:02d}-beta-{0.1 * (i + 1):.1f}", steps, 1000.0 / steps ** (0.5 + 0.04 * i) + i)
            for i in range(16)]


def test_line_plot_of_sixteen_runs_writes_png_and_svg_with_distinct_styles(tmp_path):
    path = line_plot(_sixteen_runs(), tmp_path / "curves.png", "training loss", "step", "loss per image")
    assert path == tmp_path / "curves.png"
    width, height = Image.open(path).size
    assert width > 960 and height >= 500                  # the outside legend widens the image
    svg = (tmp_path / "curves.svg").read_text()
    assert "run-15-beta-1.6" in svg and "stroke-dasharray" in svg      # real dashes from the 11th run on
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
    for colour in COLOURS:                                  # every colour of the cycle is drawn
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(1) < 30).sum() > 50, colour


def test_line_figure_chooses_a_log_axis_when_values_span_decades_and_keeps_styles_apart():
    figure = line_figure(_sixteen_runs(), "t", "step", "loss")
    axes = figure.axes[0]
    assert axes.get_yscale() == "log" and "(log scale)" in axes.get_ylabel()
    lines = axes.get_lines()
    assert len(lines) == 16 and len(axes.get_legend().get_texts()) == 16
    assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == 16
    flat = line_figure([Series("a", [0, 1, 2], [1.0, 1.2, 0.9])], "t", "step", "loss")
    assert flat.axes[0].get_yscale() == "linear"
    negative = line_figure([Series("a", [0, 1, 2], [1000.0, 1.0, -5.0])], "t", "step", "loss")   # gaussian NLL
    assert negative.axes[0].get_yscale() == "linear" and len(negative.axes[0].get_lines()[0].get_xdata()) == 3


def test_line_plot_drops_bad_points_and_draws_empty_figures(tmp_path):
    figure = line_figure([Series("a", [0, 1, 2, 3], [100.0, 10.0, 1.0, 0.5]),
                          Series("b", [0, 1, 2], [50.0, float("nan"), -1.0])], "t", "step", "loss", log_y=True)
    a, b = figure.axes[0].get_lines()
    assert list(a.get_ydata()) == [100.0, 10.0, 1.0, 0.5] and list(b.get_ydata()) == [50.0]
    assert b.get_marker() == "o"                           # one point left: a marker, not an invisible line
    path = line_plot([], tmp_path / "empty.png", "t", "step", "loss")
    assert path.exists() and (tmp_path / "empty.svg").exists()


def test_matplotlib_loads_only_when_a_report_is_written():
    code = ("import sys, trainer.cli, trainer.study.report, trainer.training.loop; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
