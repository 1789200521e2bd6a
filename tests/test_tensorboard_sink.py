"""`vae-train train --tensorboard`: TensorBoard logs from the loop's events, and a clear refusal without the extra."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.cli import main
from trainer.training import tensorboard_sink
from trainer.training.rundir import read_metrics

TINY = ["--data", "synthetic", "--synthetic-count", "160", "--image-size", "32", "--base-channels", "8",
        "--latent-dim", "6", "--batch-size", "16", "--epochs", "2", "--threads", "1", "--precision", "fp32",
        "--device", "cpu", "--quiet"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def read_events(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0,
                                                                "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_logs_hold_the_scalars_every_preview_grid_and_the_kl_per_dimension(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    assert main(["train", *TINY, "--runs-dir", str(tmp_path), "--name", "tb", "--tensorboard"]) == 0
    run = tmp_path / "tb"
    assert f"tensorboard --logdir {run / 'tensorboard'}" in capsys.readouterr().out
    records = read_metrics(run / "metrics.jsonl")
    steps = [r["step"] for r in records if r["type"] == "step"]
    evals = [r for r in records if r["type"] == "eval"]
    assert len(evals) == 2
    board = read_events(run / "tensorboard")
    tags = board.Tags()
    loss = board.Scalars("train/loss")
    assert [e.step for e in loss] == steps           # the steps metrics.jsonl logs, with its values
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in records if r["type"] == "step"], rel=1e-6)
    assert [e.value for e in board.Scalars("val/recon")] == pytest.approx([r["val_recon"] for r in evals], rel=1e-6)
    for dim in range(6):
        kl = board.Scalars(f"kl_per_dim/z{dim:03d}")
        assert [e.value for e in kl] == pytest.approx([r["kl_per_dim"][dim] for r in evals], rel=1e-6, abs=1e-9)
    assert "val/kl_per_dim" in tags["histograms"] and "val/active_dims" in tags["scalars"]
    for tag, size in (("preview/reconstructions", (8 * 34 + 2, 2 * 34 + 2)), ("preview/samples", (274, 274))):
        images = board.Images(tag)
        assert [e.step for e in images] == [r["step"] for r in evals]        # one grid per evaluation
        grid = Image.open(io.BytesIO(images[-1].encoded_image_string))
        assert grid.size == size                     # all 8 pairs / 64 samples in one image
        assert np.asarray(grid).std() > 5            # faces, not a blank image
    config_text = board.Tensors("run/config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"latent_dim": 6' in config_text
    finished = board.Tensors("run/finished/text_summary")[0].tensor_proto.string_val[0].decode()
    assert finished.startswith("completed")


def test_without_the_extra_training_refuses_before_it_starts_and_says_how_to_install(tmp_path, capsys,
                                                                                     monkeypatch):
    monkeypatch.setattr(tensorboard_sink, "tensorboard_available", lambda: False)
    assert main(["train", *TINY, "--runs-dir", str(tmp_path), "--name", "tb", "--tensorboard"]) == 2
    assert 'pip install "vae-face-explorer[tensorboard]"' in capsys.readouterr().err
    assert not (tmp_path / "tb").exists()             # nothing trained, no run folder left behind


def test_an_autoencoder_run_has_no_kl_tags_and_the_writer_closes_at_the_end(tmp_path):
    pytest.importorskip("tensorboard")
    from trainer.training.events import EvalMetrics, RunFinished, RunStarted, StepMetrics

    sink = tensorboard_sink.TensorBoardSink(say=lambda _: None)
    sink(StepMetrics(1, 0, 4, 1.0, 1.0, None, 0.0, 1e-3, 10.0, 1.0))     # before RunStarted: ignored
    assert sink.writer is None
    sink(RunStarted(str(tmp_path), {"train": {"log_every_steps": 2}}, 4, 0, 10, 2, 100, "cpu", "fp32"))
    for step in (1, 2, 3, 4):
        sink(StepMetrics(step, 0, 4, 5.0 - step, 5.0 - step, None, 0.0, 1e-3, 10.0, 1.0))
    sink(EvalMetrics(4, 0, 0.5, 0.5, None, None, True))
    sink(RunFinished("completed", "done", 4, str(tmp_path), None, None))
    assert sink.writer is None
    board = read_events(tmp_path / "tensorboard")
    assert [e.step for e in board.Scalars("train/loss")] == [1, 2, 4]       # step 1, then every log_every
    assert not any(tag.startswith(("kl_per_dim", "train/kl", "val/kl")) for tag in board.Tags()["scalars"])
    assert board.Tags()["images"] == []
