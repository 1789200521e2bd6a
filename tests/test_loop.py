"""The training loop: run directory contents, events, KL warm-up, pause/stop, resume equivalence, NaN handling."""
from __future__ import annotations

import json
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

import trainer.models.objective
from trainer.training.checkpoint import load_checkpoint
from trainer.config import DataConfig, RunConfig, TrainConfig
from trainer.training.control import TrainingControl
from trainer.data.datasets import FaceDataset
from trainer.training.events import CheckpointSaved, EvalMetrics, RunFinished, RunStarted, StepMetrics
from trainer.training.loop import resume_config, train
from trainer.models.presets import preset_config
from trainer.training.rundir import read_metrics

SIZE = 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pattern_images(n: int, seed: int) -> torch.Tensor:
    """Structured uint8 images (N, 3, 32, 32): a colour per image, a gradient, and a bright block on one side."""
    generator = torch.Generator().manual_seed(seed)
    colours = torch.rand(n, 3, 1, 1, generator=generator)
    ramp = torch.linspace(0, 1, SIZE)
    images = 0.6 * colours + 0.3 * ramp[None, None, None, :]
    left = torch.rand(n, generator=generator) < 0.5
    images[left, :, 8:16, 4:12] = 1.0
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).expand(n, 3, SIZE, SIZE).contiguous()


@pytest.fixture(scope="module")
def dataset() -> FaceDataset:
    return FaceDataset(train=_pattern_images(64, seed=1), test=_pattern_images(16, seed=2), source="patterns")


def _config(runs_dir: Path, family: str = "vae", name: str = "run", hflip: bool = False, **train) -> RunConfig:
    model = preset_config("default" if family == "vae" else "default-ae", image_size=SIZE, base_channels=8,
                          depth=3, latent_dim=6)
    settings = dict(epochs=2, batch_size=16, lr=3e-3, runs_dir=str(runs_dir), run_name=name, threads=1,
                    precision="fp32", final_eval=False, n_preview=4, n_samples=4, log_every_steps=1)
    settings.update(train)
    return RunConfig(model=model, data=DataConfig(source="synthetic", image_size=SIZE, hflip=hflip),
                     train=TrainConfig(**settings))


def _run(config: RunConfig, dataset: FaceDataset, on_event=None, control=None, resume=None):
    events = []

    def sink(event):
        events.append(event)
        if on_event is not None:
            on_event(event)

    result = train(config, events=sink, control=control, resume=resume, dataset=dataset)
    return result, events


def _steps(events) -> list[StepMetrics]:
    return [e for e in events if isinstance(e, StepMetrics)]


# ---------------------------------------------------------------- a complete run

def test_short_run_writes_the_run_directory(tmp_path: Path, dataset: FaceDataset) -> None:
    config = _config(tmp_path / "runs")
    result, events = _run(config, dataset)
    assert result.status == "completed", result.message
    assert result.step == 8                                     # 2 epochs of 64 / 16
    run_dir = tmp_path / "runs" / "run"
    assert result.run_dir == run_dir
    assert result.best_checkpoint == run_dir / "checkpoints" / "best.pt"
    assert result.last_checkpoint == run_dir / "checkpoints" / "last.pt"
    assert load_checkpoint(result.last_checkpoint).step == 8
    assert load_checkpoint(result.best_checkpoint).payload["data_source"] == "patterns"

    stored = json.loads((run_dir / "config.json").read_text())
    assert RunConfig.from_dict(stored) == config
    records = read_metrics(run_dir / "metrics.jsonl")
    assert [r["step"] for r in records if r["type"] == "step"] == list(range(1, 9))
    assert [r["step"] for r in records if r["type"] == "eval"] == [4, 8]
    assert records[-1]["type"] == "finished" and records[-1]["status"] == "completed"
    log = (run_dir / "train.log").read_text()
    assert "started at step 0" in log and "completed" in log

    recon = sorted((run_dir / "predictions").glob("recon_*.png"))
    samples = sorted((run_dir / "predictions").glob("samples_*.png"))
    assert [p.name for p in recon] == ["recon_step0000004.png", "recon_step0000008.png"]
    assert len(samples) == 2
    with Image.open(recon[-1]) as grid:
        # 4 originals above their 4 reconstructions, 2px padding around every image
        assert grid.size == (4 * SIZE + 5 * 2, 2 * SIZE + 3 * 2)
    with Image.open(samples[-1]) as grid:
        assert grid.size == (2 * SIZE + 3 * 2, 2 * SIZE + 3 * 2)


def test_events_arrive_in_order(tmp_path: Path, dataset: FaceDataset) -> None:
    result, events = _run(_config(tmp_path / "runs"), dataset)
    assert isinstance(events[0], RunStarted)
    assert events[0].total_steps == 8 and events[0].start_step == 0 and not events[0].resumed
    assert events[0].n_train == 64 and events[0].n_test == 16
    assert isinstance(events[-1], RunFinished)
    assert events[-1].status == "completed" and events[-1].step == 8
    assert sum(isinstance(e, (RunStarted, RunFinished)) for e in events) == 2
    steps = _steps(events)
    assert [s.step for s in steps] == list(range(1, 9))
    assert all(s.total_steps == 8 and s.kl is not None and s.loss > 0 for s in steps)
    assert [s.epoch for s in steps] == [0] * 4 + [1] * 4
    evals = [e for e in events if isinstance(e, EvalMetrics)]
    assert [e.step for e in evals] == [4, 8]
    assert evals[0].is_best
    assert len(evals[0].kl_per_dim) == 6
    assert evals[0].preview.reconstructions.shape == (4, SIZE, SIZE, 3)
    # each evaluation follows its step and precedes the checkpoint it causes
    for evaluation in evals:
        index = events.index(evaluation)
        assert events[index - 1].step == evaluation.step
        assert isinstance(events[index + 1], CheckpointSaved) and events[index + 1].kind == "last"
    # the loss falls on these easy images
    assert steps[-1].recon < steps[0].recon


def test_kl_warmup_ramps_beta(tmp_path: Path, dataset: FaceDataset) -> None:
    result, events = _run(_config(tmp_path / "runs", beta=2.0, kl_warmup_steps=4), dataset)
    assert result.status == "completed"
    betas = [s.beta for s in _steps(events)]
    assert betas == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0, 2.0])


def test_autoencoder_runs_without_kl(tmp_path: Path, dataset: FaceDataset) -> None:
    result, events = _run(_config(tmp_path / "runs", family="ae"), dataset)
    assert result.status == "completed", result.message
    assert all(s.kl is None for s in _steps(events))
    evals = [e for e in events if isinstance(e, EvalMetrics)]
    assert evals and all(e.val_kl is None and e.kl_per_dim is None for e in evals)
    assert not load_checkpoint(result.best_checkpoint).model.is_variational


def test_hflip_runs_and_leaves_the_dataset_alone(tmp_path: Path, dataset: FaceDataset) -> None:
    before = dataset.train.clone()
    plain = _steps(_run(_config(tmp_path / "runs", name="plain", max_steps=2), dataset)[1])
    result, events = _run(_config(tmp_path / "runs", name="flip", hflip=True, max_steps=2), dataset)
    assert result.status == "completed"
    assert torch.equal(dataset.train, before)
    # same seed and order: only the flips differ, so the first losses differ
    assert _steps(events)[0].loss != pytest.approx(plain[0].loss, rel=1e-6)


def test_autoencoder_preview_with_a_single_test_image(tmp_path: Path) -> None:
    """A folder of two images leaves one test image: an AE's sample previews must still be finite images."""
    tiny = FaceDataset(train=_pattern_images(4, seed=3), test=_pattern_images(1, seed=4), source="two")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*degrees of freedom")   # the std of a single value
        result, events = _run(_config(tmp_path / "runs", family="ae", batch_size=4, max_steps=1), tiny)
    assert result.status == "completed", result.message
    preview = [e for e in events if isinstance(e, EvalMetrics)][0].preview
    assert preview.samples.shape == (4, SIZE, SIZE, 3)
    assert preview.samples.std() > 0           # decoded images, not the black of NaN


# ---------------------------------------------------------------- pause, stop, resume

def test_stop_from_the_events_callback(tmp_path: Path, dataset: FaceDataset) -> None:
    control = TrainingControl()

    def stop_at_three(event):
        if isinstance(event, StepMetrics) and event.step == 3:
            control.stop()

    result, events = _run(_config(tmp_path / "runs"), dataset, stop_at_three, control)
    assert result.status == "stopped"
    assert result.step == 3 and "step 3" in result.message
    assert [s.step for s in _steps(events)] == [1, 2, 3]
    assert isinstance(events[-1], RunFinished) and events[-1].status == "stopped"
    assert load_checkpoint(result.last_checkpoint).step == 3
    assert result.best_checkpoint is None                       # no evaluation ran before step 4


def test_pause_blocks_until_resumed(tmp_path: Path, dataset: FaceDataset) -> None:
    control = TrainingControl()
    seen: list[int] = []
    steps_when_resumed: list[list[int]] = []

    def resume_later():
        time.sleep(0.3)
        steps_when_resumed.append(list(seen))
        control.resume()

    def pause_at_two(event):
        if isinstance(event, StepMetrics):
            seen.append(event.step)
            if event.step == 2:
                control.pause()
                assert control.paused
                threading.Thread(target=resume_later, daemon=True).start()

    result, _ = _run(_config(tmp_path / "runs"), dataset, pause_at_two, control)
    assert result.status == "completed"
    assert steps_when_resumed == [[1, 2]]                       # nothing ran while paused
    assert seen == list(range(1, 9))


def test_stop_while_paused(tmp_path: Path, dataset: FaceDataset) -> None:
    control = TrainingControl()

    def pause_then_stop(event):
        if isinstance(event, StepMetrics) and event.step == 5:
            control.pause()
            threading.Timer(0.1, control.stop).start()

    result, events = _run(_config(tmp_path / "runs"), dataset, pause_then_stop, control)
    assert result.status == "stopped" and result.step == 5
    assert load_checkpoint(result.last_checkpoint).step == 5


@pytest.mark.parametrize("stop_step", [3, 4])          # mid-epoch, and right after an epoch's evaluation
def test_resumed_run_matches_an_uninterrupted_one(tmp_path: Path, dataset: FaceDataset, stop_step: int) -> None:
    full = _steps(_run(_config(tmp_path / "a", hflip=True), dataset)[1])
    control = TrainingControl()

    def stop(event):
        if isinstance(event, StepMetrics) and event.step == stop_step:
            control.stop()

    first, _ = _run(_config(tmp_path / "b", hflip=True), dataset, stop, control)
    assert first.status == "stopped" and first.step == stop_step
    resumed, events = _run(resume_config(first.run_dir), dataset, resume=first.run_dir)
    assert resumed.status == "completed", resumed.message
    assert resumed.run_dir == first.run_dir
    assert events[0].resumed and events[0].start_step == stop_step
    after = _steps(events)
    assert [s.step for s in after] == list(range(stop_step + 1, 9))
    expected = full[stop_step:]
    assert [s.loss for s in after] == pytest.approx([s.loss for s in expected], rel=1e-5, abs=1e-5)
    assert [s.lr for s in after] == pytest.approx([s.lr for s in expected], rel=1e-9)
    log = (first.run_dir / "train.log").read_text()
    assert f"resumed at step {stop_step}" in log
    records = read_metrics(first.run_dir / "metrics.jsonl")
    assert [r["status"] for r in records if r["type"] == "finished"] == ["stopped", "completed"]


def test_resume_config_overrides_training_fields(tmp_path: Path, dataset: FaceDataset) -> None:
    first, _ = _run(_config(tmp_path / "runs", max_steps=2), dataset)
    config = resume_config(first.run_dir, max_steps=6, lr=None)
    assert config.train.max_steps == 6 and config.train.lr == 3e-3
    resumed, events = _run(config, dataset, resume=first.run_dir)
    assert [s.step for s in _steps(events)] == [3, 4, 5, 6]
    assert load_checkpoint(resumed.last_checkpoint).step == 6


# ---------------------------------------------------------------- NaN loss

def _nan_after(monkeypatch, good_training_calls: int) -> None:
    """Make the training loss NaN after `good_training_calls` training steps (validation is left alone)."""
    real = trainer.models.objective.reconstruction_loss
    calls = []

    def loss(logits, target, kind="mse"):
        value = real(logits, target, kind)
        if logits.requires_grad:
            calls.append(1)
            if len(calls) > good_training_calls:
                return value * float("nan")
        return value

    monkeypatch.setattr(trainer.models.objective, "reconstruction_loss", loss)


def test_nan_loss_fails_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path, dataset: FaceDataset,
                                                                     monkeypatch) -> None:
    _nan_after(monkeypatch, 5)
    result, events = _run(_config(tmp_path / "runs", eval_every_steps=1), dataset)
    assert result.status == "failed"
    assert "step 6" in result.message and "nan" in result.message.lower()
    assert isinstance(events[-1], RunFinished) and events[-1].status == "failed"
    assert [s.step for s in _steps(events)] == [1, 2, 3, 4, 5]
    last = load_checkpoint(result.last_checkpoint)
    assert last.step == 5
    assert "step 5" in result.message                          # names the checkpoint that was kept
    x = dataset.test[:2].float() / 255
    with torch.no_grad():
        assert torch.isfinite(last.model(x).logits).all()
    assert load_checkpoint(result.best_checkpoint).step <= 5
    records = read_metrics(result.run_dir / "metrics.jsonl")
    assert records[-1]["type"] == "finished" and records[-1]["status"] == "failed"


def test_nan_before_any_checkpoint_says_so(tmp_path: Path, dataset: FaceDataset, monkeypatch) -> None:
    _nan_after(monkeypatch, 0)
    result, _ = _run(_config(tmp_path / "runs"), dataset)
    assert result.status == "failed"
    assert "step 1" in result.message
    assert "None" not in result.message
    assert result.last_checkpoint is None


def test_nan_right_after_a_resume_names_the_restored_checkpoint(tmp_path: Path, dataset: FaceDataset,
                                                               monkeypatch) -> None:
    control = TrainingControl()
    first, _ = _run(_config(tmp_path / "runs"), dataset,
                    lambda e: control.stop() if isinstance(e, StepMetrics) and e.step == 3 else None, control)
    _nan_after(monkeypatch, 0)
    result, _ = _run(resume_config(first.run_dir), dataset, resume=first.run_dir)
    assert result.status == "failed"
    assert "step 4" in result.message and "checkpoint (step 3)" in result.message
    assert load_checkpoint(result.last_checkpoint).step == 3


# ---------------------------------------------------------------- final evaluation

def test_final_evaluation_stores_metrics_and_latent_stats(tiny_checkpoint) -> None:
    loaded = load_checkpoint(tiny_checkpoint)
    assert loaded.eval_metrics is not None
    assert loaded.latent_stats is not None
    run_dir = Path(tiny_checkpoint).parent.parent
    report = json.loads((run_dir / "eval.json").read_text())
    assert report["step"] == loaded.step
    assert any(r["type"] == "final" for r in read_metrics(run_dir / "metrics.jsonl"))


def test_stop_during_the_final_evaluation_returns_at_once(tmp_path: Path, dataset: FaceDataset,
                                                          monkeypatch) -> None:
    control = TrainingControl()
    release = threading.Event()

    def slow_evaluation(*args, **kwargs):
        control.stop()                 # as closing the window would, while the evaluation is running
        release.wait(30)
        return {}

    monkeypatch.setattr("trainer.evaluation.evaluate.evaluate_checkpoint_file", slow_evaluation)
    config = _config(tmp_path, final_eval=True)
    started = time.monotonic()
    result = train(config, control=control, dataset=dataset)
    elapsed = time.monotonic() - started
    release.set()
    assert result.final_eval is None
    assert elapsed < 20
    assert "final evaluation skipped" in (result.run_dir / "train.log").read_text()
    assert load_checkpoint(result.best_checkpoint).step == result.step


# ---------------------------------------------------------------- the objective

def test_objective_adds_warmed_up_kl_total_correlation_and_supervision() -> None:
    from trainer.models.losses import kl_divergence, reconstruction_loss, total_correlation
    from trainer.models.networks import build_model
    from trainer.models.objective import compute_objective, kl_weight
    from trainer.models.supervision import factor_alignment_loss

    assert [kl_weight(2.0, 4, step) for step in range(5)] == [0.5, 1.0, 1.5, 2.0, 2.0]
    assert kl_weight(2.0, 0, 0) == 2.0
    torch.manual_seed(0)
    model = build_model(preset_config("default", image_size=SIZE, base_channels=4, depth=2, latent_dim=3))
    x = torch.rand(6, 3, SIZE, SIZE)
    out = model(x)
    train_config = TrainConfig(beta=2.0, kl_warmup_steps=4, tc_weight=0.5, factor_supervision=3.0)
    targets, labeled = torch.randn(6, 3), torch.ones(6, dtype=torch.bool)
    objective = compute_objective(out, x, train_config, step=1, warmup_steps=4, dataset_size=100,
                                  factors=(targets, labeled))
    recon = reconstruction_loss(out.logits, x, "mse").mean()
    kl = kl_divergence(out.mean, out.logvar).mean()
    expected = (recon + 1.0 * kl + 0.5 * 0.5 * total_correlation(out.z, out.mean, out.logvar, 100)
                + 3.0 * factor_alignment_loss(out.mean, targets, labeled))
    assert objective.beta == 1.0
    assert torch.allclose(objective.total, expected) and torch.allclose(objective.recon, recon)
    ae = build_model(preset_config("default-ae", image_size=SIZE, base_channels=4, depth=2, latent_dim=3))
    plain = compute_objective(ae(x), x, TrainConfig(), step=0, warmup_steps=0, dataset_size=100)
    assert plain.kl is None and torch.equal(plain.total, plain.recon)


# ---------------------------------------------------------------- the loop emits, sinks write

RUN_LOGS = ("config.json", "train.log", "metrics.jsonl", "metrics.csv", "eval.json")


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_without_the_run_directory_sink_the_loop_writes_only_checkpoints(tmp_path: Path,
                                                                        dataset: FaceDataset) -> None:
    from trainer.training.events import FinalEvaluationDone, RunNote
    from trainer.training.run_files import RunFiles

    events = []
    result = train(_config(tmp_path / "runs", final_eval=True), events=events.append, dataset=dataset,
                   run_logs=False)
    assert result.status == "completed" and result.final_eval is not None
    run = RunFiles(result.run_dir)
    kept = {p.relative_to(run.path).as_posix() for p in (run.lock_file, run.owner_file)}
    assert _files(run.path) - kept == {"checkpoints/best.pt", "checkpoints/last.pt"}
    # What the logs would have said was all reported, as events.
    assert [type(e) for e in events if isinstance(e, FinalEvaluationDone)] == [FinalEvaluationDone]
    assert any(isinstance(e, RunNote) and e.text.startswith("started at step 0") for e in events)


def test_the_run_directory_sink_writes_the_run_logs_from_the_events_alone(tmp_path: Path,
                                                                         dataset: FaceDataset) -> None:
    """Replaying a run's events into a RunDirectorySink over an empty folder writes the logs the run wrote."""
    import dataclasses

    from trainer.training.rundir_sink import RunDirectorySink

    events = []
    result = train(_config(tmp_path / "runs"), events=events.append, dataset=dataset)
    replay = tmp_path / "replay"
    (replay / "predictions").mkdir(parents=True)
    sink = RunDirectorySink()
    for event in events:
        sink(dataclasses.replace(event, run_dir=str(replay)) if isinstance(event, RunStarted) else event)

    def untimed(records):
        return [{k: v for k, v in r.items() if k != "time"} for r in records]

    def log_texts(folder):           # each line without its time stamp
        return [line[20:] for line in (folder / "train.log").read_text().splitlines()]

    assert _files(replay) == _files(result.run_dir) - {p for p in _files(result.run_dir)
                                                        if p.startswith(("checkpoints/", ".lock"))}
    assert (replay / "config.json").read_text() == (result.run_dir / "config.json").read_text()
    assert untimed(read_metrics(replay / "metrics.jsonl")) == untimed(read_metrics(result.run_dir / "metrics.jsonl"))
    assert log_texts(replay) == log_texts(result.run_dir) and log_texts(replay)[0].startswith("started at step 0")
    assert [r["type"] for r in read_metrics(replay / "metrics.jsonl")][-1] == "finished"


def test_train_leaves_the_callers_config_alone_and_returns_the_run_name(tmp_path: Path,
                                                                       dataset: FaceDataset) -> None:
    named, automatic = _config(tmp_path / "runs", name="same", max_steps=1), _config(tmp_path / "runs", name="",
                                                                                   max_steps=1)
    before = (named.to_dict(), automatic.to_dict())
    first, second = train(named, dataset=dataset), train(named, dataset=dataset)
    unnamed = train(automatic, dataset=dataset)
    assert (named.to_dict(), automatic.to_dict()) == before
    assert (first.run_name, second.run_name) == ("same", "same-2")
    assert unnamed.run_name.startswith("default-") and unnamed.run_dir.name == unnamed.run_name
    stored = json.loads((second.run_dir / "config.json").read_text())
    assert stored["train"]["run_name"] == "same-2"           # the run's own record has its final name
