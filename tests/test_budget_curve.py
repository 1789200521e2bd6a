"""What a budget buys: the measured curve's interpolation and wording rule, this machine's speed from its runs, the
Train tab's texts before and after a run (Qt-free), and bench_budget_curve.py end to end on tiny generated faces."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from trainer.data.synthetic import make_synthetic_faces
from trainer.config import DataConfig, RunConfig, TrainConfig
from trainer.errors import UserError
from trainer.evaluation import budget_curve
from trainer.evaluation.budget_curve import (BudgetCurve, BudgetCurveError, BudgetPoint, quality_words,
                                             read_budget_curve, shipped_budget_curve)
from trainer.models.presets import preset_config
from trainer.training.measured_speed import latest_speed
from vae_gui.training.budget_texts import budget_expectation, run_comparison

ROOT = Path(__file__).resolve().parents[1]
SMOKE_CURVE = ROOT / "tests" / "data" / "budget_curve_smoke.json"


def curve(**changes) -> BudgetCurve:
    """A made-up curve in the shipped format: 1 min = 200 steps, 10 min = 2,000 at 400 images/s."""
    points = (BudgetPoint(minutes=1, steps=200, images_per_s=400.0, psnr=17.0, ssim=0.40, same_person_rate=0.0),
              BudgetPoint(minutes=10, steps=2000, images_per_s=400.0, psnr=23.0, ssim=0.70, same_person_rate=0.4),
              BudgetPoint(minutes=20, steps=4000, images_per_s=400.0, psnr=25.0, ssim=0.78, same_person_rate=0.64))
    base = BudgetCurve(preset="photo", image_size=64, batch_size=128, data="utkface64", date="2025-01-01",
                       machine={"cores": 2, "threads": 2, "torch": "2.4"}, points=points)
    return dataclasses.replace(base, **changes)


def photo_config(tmp_path, minutes: float = 10.0, source: str | None = None, preset: str = "photo",
                 batch_size: int = 128) -> RunConfig:
    data = DataConfig(source=source or str(tmp_path))
    return RunConfig(model=preset_config(preset), data=data,
                     train=TrainConfig(time_budget_minutes=minutes, batch_size=batch_size,
                                       runs_dir=str(tmp_path / "runs")))


# ---------------------------------------------------------------- the curve

def test_quality_is_interpolated_in_log_steps_and_held_at_the_ends():
    c = curve()
    middle = int(round(math.sqrt(2000 * 4000)))              # halfway between 2,000 and 4,000 in log-steps
    assert c.quality_at(middle)["psnr"] == pytest.approx(24.0, abs=0.01)
    assert c.quality_at(2000) == pytest.approx({"psnr": 23.0, "ssim": 0.70, "same_person_rate": 0.4})
    assert c.quality_at(10)["psnr"] == 17.0 and c.quality_at(10**6)["psnr"] == 25.0


def test_a_figure_the_curve_lacks_is_left_out():
    assert "sample_face_fd" not in curve().quality_at(1000)


def test_steps_scale_with_the_budget_and_with_this_machines_speed():
    c = curve()
    assert c.steps_for(10) == 2000
    assert c.steps_for(5) == 1000
    assert c.steps_for(10, images_per_s=800.0) == 4000       # twice as fast: twice the steps
    assert c.steps_for(120) == 24000                          # beyond the curve: its last rate per minute


def test_the_wording_rule():
    assert quality_words({"psnr": 16.4, "same_person_rate": 0.9}) == "blurry ovals (PSNR ≈ 16 dB)"
    assert quality_words({"psnr": 23.1, "same_person_rate": 0.5}) == (
        "faces that keep the person about half the time (PSNR ≈ 23 dB)")
    assert "nearly always" in quality_words({"psnr": 27.0, "same_person_rate": 0.92})
    assert "rarely" in quality_words({"psnr": 20.0, "same_person_rate": 0.05})
    # without the faces extra's figures, PSNR names the detail
    assert quality_words({"psnr": 20.0}).startswith("soft faces")
    assert quality_words({"psnr": 26.0}).startswith("sharp faces")


def test_a_curve_round_trips_through_its_file(tmp_path):
    path = tmp_path / "curve.json"
    path.write_text(json.dumps(curve().to_dict()))
    assert read_budget_curve(path) == curve()


@pytest.mark.parametrize("text", ["{", "{}", '{"points": []}'])
def test_a_damaged_curve_file_is_a_user_error_naming_it(tmp_path, text):
    path = tmp_path / "curve.json"
    path.write_text(text)
    with pytest.raises(BudgetCurveError, match="curve.json") as raised:
        read_budget_curve(path)
    assert isinstance(raised.value, UserError)


def test_a_missing_resource_gives_no_curve(monkeypatch):
    monkeypatch.setattr(budget_curve, "resource_path", lambda name: None)
    assert shipped_budget_curve() is None


def test_the_shipped_curve_is_a_measurement_of_the_photo_recipe():
    """trainer/resources/budget_curve.json: measured points (README's table), more steps and better faces with time."""
    curve = shipped_budget_curve()
    assert curve is not None and curve.preset == "photo" and curve.image_size == 64 and len(curve.points) >= 3
    steps = [p.steps for p in curve.points]
    psnr = [p.psnr for p in curve.points]
    assert steps == sorted(steps) and psnr == sorted(psnr)
    assert all(p.images_per_s > 0 and 0 < p.ssim < 1 for p in curve.points)


def test_the_committed_smoke_curve_reads():
    smoke = read_budget_curve(SMOKE_CURVE)
    assert [p.minutes for p in smoke.points] == [0.1, 0.2] and smoke.data == "faces"


# ---------------------------------------------------------------- this machine's speed

def write_run(runs_dir: Path, name: str, preset: str, rates: list[float], image_size: int = 64) -> Path:
    run = runs_dir / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": {"preset": preset, "image_size": image_size}}))
    records = [{"type": "step", "step": i + 1, "images_per_s": rate} for i, rate in enumerate(rates)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_the_speed_is_the_newest_matching_runs_median_rate(tmp_path):
    runs = tmp_path / "runs"
    older = write_run(runs, "old", "photo", [100.0, 100.0, 100.0])
    newer = write_run(runs, "new", "photo", [790.0, 800.0, 0.0, 810.0])       # 0: the first, unmeasured step
    write_run(runs, "other", "default", [5000.0])
    write_run(runs, "small", "photo", [9000.0], image_size=32)
    os.utime(older / "metrics.jsonl", (1, 1))
    speed = latest_speed(runs, "photo", 64)
    assert speed.run_name == "new" and speed.images_per_s == 800.0 and newer.is_dir()


def test_no_matching_run_no_speed(tmp_path):
    assert latest_speed(tmp_path / "absent", "photo", 64) is None
    write_run(tmp_path / "runs", "other", "default", [5000.0])
    assert latest_speed(tmp_path / "runs", "photo", 64) is None


# ---------------------------------------------------------------- the Train tab's texts

def test_the_expectation_on_the_reference_machine(tmp_path):
    text = budget_expectation(curve(), photo_config(tmp_path, minutes=10), speed=None)
    assert text.startswith("10 min ≈ 2,000 steps at the speed of the machine the curve was measured on")
    assert "2 threads on 2 cores" in text
    assert text.endswith("expect faces that keep the person about half the time (PSNR ≈ 23 dB).")


def test_the_expectation_on_a_faster_machine(tmp_path):
    from trainer.training.measured_speed import MeasuredSpeed

    text = budget_expectation(curve(), photo_config(tmp_path, minutes=10), MeasuredSpeed(800.0, "photo-1"))
    assert text.startswith("10 min ≈ 4,000 steps at this computer's speed (800 images/s in run photo-1)")
    assert "about half the time" not in text and "most of the time" in text   # the 4,000-step point: 0.64


def test_a_budget_outside_the_curve_says_so(tmp_path):
    short = budget_expectation(curve(), photo_config(tmp_path, minutes=0.5), speed=None)
    assert "fewer than the shortest measured run (200 steps), which gave blurry ovals" in short
    long = budget_expectation(curve(), photo_config(tmp_path, minutes=60), speed=None)
    assert "more than the longest measured run (4,000 steps)" in long and "at least" in long


def test_nothing_is_said_without_a_curve_a_budget_or_a_folder(tmp_path):
    assert budget_expectation(None, photo_config(tmp_path), None) == ""
    assert budget_expectation(curve(), photo_config(tmp_path, minutes=0), None) == ""
    assert budget_expectation(curve(), photo_config(tmp_path, source="synthetic", preset="default"), None) == ""


@pytest.mark.parametrize("changes", [dict(preset="default"), dict(batch_size=64)])
def test_another_preset_or_batch_size_is_told_the_curve_does_not_apply(tmp_path, changes):
    text = budget_expectation(curve(), photo_config(tmp_path, **changes), None)
    assert "does not apply" in text and "photo preset at 64 × 64" in text


def test_after_a_run_its_evaluation_is_compared_with_the_curve(tmp_path):
    config = photo_config(tmp_path)
    text = run_comparison(curve(), config, 2000, {"psnr": 24.12, "ssim": 0.741})
    assert text == "PSNR 24.1 dB, expected ≈ 23.0 at 2,000 steps; SSIM 0.741, expected ≈ 0.700."
    outside = run_comparison(curve(), config, 9000, {"psnr": 26.0, "ssim": 0.8})
    assert "no expectation" in outside and "200–4,000 steps" in outside
    assert run_comparison(curve(), config, 2000, None) == ""
    assert run_comparison(None, config, 2000, {"psnr": 24.0}) == ""


# ---------------------------------------------------------------- the benchmark, end to end

@pytest.mark.slow
def test_bench_budget_curve_writes_a_curve_the_app_reads(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for index, image in enumerate(make_synthetic_faces(120, image_size=64)[0]):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{index:03d}.png")
    out = tmp_path / "curve.json"
    tiny = "--image-size 32 --base-channels 8 --max-channels 32 --depth 3 --latent-dim 8 --batch-size 16"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "bench" / "bench_budget_curve.py"), "--data", str(folder),
         "--minutes", "0.2", "0.1", "--threads", "1", "--train-args", tiny, "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    written = read_budget_curve(out)
    assert (written.preset, written.image_size, written.batch_size) == ("photo", 32, 16)
    assert [p.minutes for p in written.points] == [0.1, 0.2]
    assert all(p.steps > 0 and p.images_per_s > 0 and 0 < p.psnr < 100 and 0 < p.ssim <= 1
               for p in written.points)
    assert written.machine["threads"] == 1 and written.machine["torch"]
    last_line = json.loads(result.stdout.strip().splitlines()[-1])
    assert last_line["bench"] == "budget_curve" and len(last_line["points"]) == 2
    assert "| budget (min) |" in result.stdout
