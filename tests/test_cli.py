"""The `vae-train` command line, run in-process on tiny image folders."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from imagefiles import make_nested_folder, make_split_folder, write_images
from trainer.training.checkpoint import load_checkpoint
from trainer.cli import main
from trainer.training.rundir import read_metrics

REPO = Path(__file__).resolve().parent.parent
TINY = ["--image-size", "32", "--base-channels", "8", "--latent-dim", "6", "--batch-size", "4", "--epochs", "1",
        "--threads", "1", "--precision", "fp32", "--device", "cpu", "--quiet"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(data: Path, runs: Path, *extra: str) -> int:
    return main(["train", "--data", str(data), "--runs-dir", str(runs), *TINY, *extra])


@pytest.fixture
def trained_run(tmp_path: Path) -> Path:
    """Run directory of a 2-step CLI run on a DIR/train + DIR/test folder."""
    folder = make_split_folder(tmp_path / "faces", n_train=12, n_test=4)
    assert _train(folder, tmp_path / "runs", "--max-steps", "2", "--name", "cli") == 0
    return tmp_path / "runs" / "cli"


# ---------------------------------------------------------------- train

@pytest.mark.parametrize("layout", ["split", "nested"])
@pytest.mark.slow
def test_two_step_run_on_an_image_folder(tmp_path: Path, capsys, layout: str) -> None:
    if layout == "split":
        folder = make_split_folder(tmp_path / "faces", n_train=12, n_test=4)
    else:
        folder = make_nested_folder(tmp_path / "faces", count=16)
    code = _train(folder, tmp_path / "runs", "--max-steps", "2", "--name", "cli")
    out = capsys.readouterr()
    assert code == 0, out.err
    run_dir = tmp_path / "runs" / "cli"
    assert "completed: finished 2 steps" in out.out
    assert str(run_dir) in out.out
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert last.step == 2
    assert last.payload["data_source"] == str(folder)
    assert last.config.model.latent_dim == 6 and last.config.model.base_channels == 8
    assert last.config.data.source == str(folder)
    assert (run_dir / "checkpoints" / "best.pt").exists()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["max_steps"] == 2 and config["train"]["run_name"] == "cli"
    records = read_metrics(run_dir / "metrics.jsonl")
    assert [r["step"] for r in records if r["type"] == "eval"] == [2]
    assert list((run_dir / "predictions").glob("recon_*.png"))


@pytest.mark.slow
def test_resume_continues_from_the_stored_step(trained_run: Path, capsys) -> None:
    capsys.readouterr()
    code = main(["train", "--resume", str(trained_run), "--max-steps", "3", "--quiet", "--threads", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "completed: finished 3 steps" in out.out
    assert "resuming at step 2" in out.err
    assert load_checkpoint(trained_run / "checkpoints" / "last.pt").step == 3
    assert "resumed at step 2" in (trained_run / "train.log").read_text()
    evals = [r["step"] for r in read_metrics(trained_run / "metrics.jsonl") if r["type"] == "eval"]
    assert evals == [2, 3]


@pytest.mark.slow
def test_resume_prints_the_runs_settings_and_refuses_any_that_fix_what_it_learns(trained_run: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["train", "--resume", str(trained_run), "--epochs", "4", "--print-config"]) == 0
    text = capsys.readouterr().out
    assert "epochs = 4" in text and 'name = "cli"' in text and "latent_dim = 6" in text
    assert main(["train", "--resume", str(trained_run), "--weight-decay", "0.1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--weight-decay cannot change when resuming" in err and "what the run learns" in err
    assert load_checkpoint(trained_run / "checkpoints" / "last.pt").step == 2     # nothing trained


def test_help_lists_flags_with_defaults(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--data", "--preset", "--max-steps", "--beta", "--resume", "--runs-dir", "--hflip"):
        assert flag in text
    assert "(default: synthetic)" in text
    assert "(default: 0)" in text
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "train" in text and "eval" in text and "predict" in text


def test_missing_data_folder_exits_with_code_2(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no-such-faces"
    assert _train(missing, tmp_path / "runs", "--max-steps", "1") == 2
    err = capsys.readouterr().err
    assert "error:" in err and str(missing) in err


def test_folder_without_usable_images_exits_with_code_2(tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    for i in range(3):
        (junk / f"face{i}.png").write_bytes(b"not really a png")
    assert _train(junk, tmp_path / "runs", "--max-steps", "1") == 2
    err = capsys.readouterr().err
    assert str(junk) in err and "no usable image" in err


def test_bad_setting_exits_with_code_2(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "faces"
    write_images(folder, 4)
    assert _train(folder, tmp_path / "runs", "--lr", "5") == 2
    assert "lr must be between 0 and 1" in capsys.readouterr().err


def test_factor_supervision_on_a_folder_exits_with_code_2_and_creates_no_run(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "faces"
    write_images(folder, 4)
    assert _train(folder, tmp_path / "runs", "--factor-supervision", "5") == 2
    assert "only synthetic data has" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_resume_of_a_folder_without_checkpoint_exits_with_code_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty-run").mkdir()
    assert main(["train", "--resume", str(tmp_path / "empty-run"), "--quiet"]) == 2
    assert "last.pt is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_main_py_train_help_in_a_subprocess() -> None:
    result = subprocess.run([sys.executable, "main.py", "train", "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--max-steps" in result.stdout and "vae-train train" in result.stdout


# ---------------------------------------------------------------- predict and eval

def test_predict_writes_pngs(trained_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "predictions"
    code = main(["predict", str(trained_run / "checkpoints" / "best.pt"), "--out", str(out), "--n-recon", "4",
                 "--n-samples", "5", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert "wrote 13 images" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "recon").iterdir()) == [
        f"{i:04d}_{kind}.png" for i in range(4) for kind in ("original", "recon")]
    assert len(list((out / "samples").glob("*.png"))) == 5
    with Image.open(out / "recon" / "0000_recon.png") as image:
        assert image.size == (32, 32) and image.mode == "RGB"
    with Image.open(out / "samples_grid.png") as image:
        assert image.size[0] > 32


@pytest.mark.slow
def test_eval_writes_json(trained_run: Path, tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "report.json"
    code = main(["eval", str(trained_run / "checkpoints" / "best.pt"), "--json", str(report_path),
                 "--device", "cpu", "--no-store"])
    assert code == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())
    assert report["step"] == 2
    assert report["data"] == str(trained_run.parent.parent / "faces")
    assert f"wrote {report_path}" in capsys.readouterr().out


def test_eval_prints_a_probe_table_of_the_folders_labels(trained_run: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "faces"
    rows = [f"{split}/img_{i:04d}.png,{18 + i * 7 % 60},{i % 2}" for split, first, count in (("train", 0, 12),
                                                                                      ("test", 1000, 4))
            for i in range(first, first + count)]
    (folder / "labels.csv").write_text("file,age,gender\n" + "\n".join(rows) + "\n")
    report_path = tmp_path / "report.json"
    code = main(["eval", str(trained_run / "checkpoints" / "best.pt"), "--json", str(report_path),
                 "--device", "cpu", "--no-faces", "--no-memorisation"])
    out = capsys.readouterr().out
    assert code == 0
    assert "linear probes fitted to 12 training images, scored on 4 test images" in out
    assert "age" in out and "R²" in out and "(chance 0.50)" in out
    labels = json.loads(report_path.read_text())["labels"]
    assert [probe["name"] for probe in labels["probes"]] == ["age", "gender"]
    (folder / "labels.csv").write_text("file,age\ntrain/img_0000.png,1,2\n")
    assert main(["eval", str(trained_run / "checkpoints" / "best.pt"), "--json", str(report_path),
                 "--device", "cpu", "--no-faces", "--no-memorisation"]) == 0
    assert "labels: not used: " in capsys.readouterr().out


def test_eval_of_a_broken_checkpoint_exits_with_code_2(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"garbage")
    assert main(["eval", str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err


def test_the_progress_printer_explains_negative_losses_and_announces_the_final_evaluation(capsys):
    from trainer.cli.progress import ProgressPrinter
    from trainer.models.losses import NEGATIVE_LOSS_EXPLAINED
    from trainer.training.events import FinalEvaluationStarted, RunStarted

    printer = ProgressPrinter(quiet=True)
    printer(RunStarted(run_dir="runs/photo", config={"train": {"recon_loss": "gaussian"}}, total_steps=10,
                       start_step=0, n_train=10, n_test=2, param_count=1, device="cpu", precision="fp32"))
    printer(FinalEvaluationStarted(step=10, seconds=17.6))
    err = capsys.readouterr().err
    assert NEGATIVE_LOSS_EXPLAINED in err
    assert "final evaluation of best.pt, within the 18 s the time budget leaves" in err
    printer(RunStarted(run_dir="runs/faces", config={"train": {"recon_loss": "mse"}}, total_steps=10, start_step=0,
                       n_train=10, n_test=2, param_count=1, device="cpu", precision="fp32"))
    assert "Negative losses" not in capsys.readouterr().err
