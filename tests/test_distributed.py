"""torchrun / DistributedDataParallel on CPU (gloo): 2 ranks train what 1 process trains, a rank failure ends the
whole job cleanly, and the job's checkpoint resumes in a single process.

One torchrun job (2 CPU processes, this file as the script: see `_worker_main`) runs the CLI with a failure injected
in rank 1 at step 6. Steps 1-4 (one epoch, then a validation and a checkpoint) are compared with a single-process
run of the same config; the step-4 checkpoint then resumes with world size 1 and is compared with an uninterrupted
single-process run.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
FAIL_RANK = 1
FAIL_AT_STEP = 6           # steps 1-4 are epoch 1 (72 train images, global batch 16), checkpointed at step 4
CHECKED_STEP = 4
TOTAL_STEPS = 12           # 3 epochs
WEIGHT_TOLERANCE = 2e-4    # fp32: averaging gradients over 2 ranks differs from the 16-image mean by rounding only
                           # (seen: 4e-5 after 4 Adam steps; the steps themselves move weights by ~8e-3)


def _train_args(runs_dir: Path) -> list[str]:
    # base 16: every GroupNorm group holds 2+ channels. With 1 channel per group the conv bias before it has an
    # exactly-zero gradient, and Adam turns its rounding noise into +-lr steps that differ between runs.
    return ["train", "--data", "synthetic", "--synthetic-count", "80", "--image-size", "32", "--preset", "default",
            "--base-channels", "16", "--latent-dim", "6", "--batch-size", "16", "--epochs", "3", "--hflip",
            "--precision", "fp32", "--threads", "1", "--device", "cpu", "--name", "ddp",
            "--runs-dir", str(runs_dir), "--quiet"]


def _worker_main(argv: list[str]) -> int:
    """Run by torchrun in each process: the real CLI, with rank FAIL_RANK raising at step FAIL_AT_STEP."""
    from trainer.cli import commands as cli
    from trainer.training import loop

    real_step = loop._TrainingRun._train_step

    terminate = os.environ.get("VAE_TEST_SIGTERM") == "1"

    def failing_step(self, *args, **kwargs):
        if self.dist.rank == FAIL_RANK and self.step + 1 == FAIL_AT_STEP:
            if terminate:               # a SIGTERM that reaches one rank only: all ranks must agree to stop
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise RuntimeError(f"injected failure on rank {FAIL_RANK} at step {FAIL_AT_STEP}")
        return real_step(self, *args, **kwargs)

    loop._TrainingRun._train_step = failing_step
    return cli.main(argv)


def _run_torchrun(args: list[str], **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **extra_env, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "--max-restarts=0", str(Path(__file__).resolve()), *args]
    # The timeout only turns a hang (the bug this guards against) into a test failure.
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _single_process_run(config, runs_dir: Path, copy_at_step: int) -> tuple[dict, dict]:
    """Train `config` in this process; the weights after `copy_at_step` and at the end."""
    from trainer.training.checkpoint import read_checkpoint
    from trainer.training.events import CheckpointSaved
    from trainer.training.loop import train

    config.train.runs_dir, config.train.run_name, config.train.final_eval = str(runs_dir), "single", False
    copied = runs_dir / f"step{copy_at_step}.pt"

    def on_event(event):
        if isinstance(event, CheckpointSaved) and event.kind == "last" and event.step == copy_at_step:
            shutil.copy(event.path, copied)

    result = train(config, events=on_event)
    assert result.status == "completed", result.message
    return read_checkpoint(copied)["model_state"], read_checkpoint(result.last_checkpoint)["model_state"]


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.mark.slow
def test_two_ranks_match_one_process_and_a_rank_failure_ends_the_job_cleanly(tmp_path):
    from trainer.training.checkpoint import load_checkpoint, read_checkpoint
    from trainer.config import RunConfig
    from trainer.training.loop import resume_config, train
    from trainer.models.networks import build_model
    from trainer.training.rundir import read_metrics

    job = _run_torchrun(_train_args(tmp_path / "ddp_runs"))
    output = job.stdout + job.stderr

    # The failure in rank 1 ends the whole job, with a non-zero exit and a message naming the rank and the error.
    assert job.returncode != 0, output
    assert f"rank {FAIL_RANK} of 2 failed: RuntimeError: injected failure" in output, output
    run_dir = tmp_path / "ddp_runs" / "ddp"
    assert not list(run_dir.rglob("*.tmp")), "a temporary checkpoint file was left behind"
    assert not (tmp_path / "ddp_runs" / "ddp-2").exists(), "another rank created a run directory"

    # What is on disk is whole, from rank 0 alone, and opens in a single process like any checkpoint.
    for name in ("last.pt", "best.pt"):
        loaded = load_checkpoint(run_dir / "checkpoints" / name)
        assert loaded.step == CHECKED_STEP
        assert not any(key.startswith("module.") for key in loaded.payload["model_state"])
    evals = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["type"] == "eval"]
    assert [r["step"] for r in evals] == [CHECKED_STEP]

    # Steps 1-4 under DDP equal steps 1-4 in one process with the same global batch and seed.
    ddp_payload = read_checkpoint(run_dir / "checkpoints" / "last.pt")
    config = RunConfig.from_dict(ddp_payload["config"])
    single_at_step, single_final = _single_process_run(config, tmp_path / "single_runs", CHECKED_STEP)
    assert _max_difference(ddp_payload["model_state"], single_at_step) < WEIGHT_TOLERANCE
    torch.manual_seed(config.train.seed)
    initial = build_model(config.model).state_dict()
    assert _max_difference(ddp_payload["model_state"], initial) > 10 * WEIGHT_TOLERANCE, "the model did not train"
    single_evals = [r for r in read_metrics(tmp_path / "single_runs" / "single" / "metrics.jsonl")
                    if r["type"] == "eval"]
    assert evals[0]["val_loss"] == pytest.approx(single_evals[0]["val_loss"], rel=1e-5)

    # The 2-rank checkpoint resumes in one process and ends where the uninterrupted single-process run did.
    resumed = train(resume_config(run_dir, final_eval=False), resume=run_dir)
    assert resumed.status == "completed" and resumed.step == TOTAL_STEPS, resumed.message
    resumed_state = read_checkpoint(resumed.last_checkpoint)["model_state"]
    assert _max_difference(resumed_state, single_final) < WEIGHT_TOLERANCE


@pytest.mark.slow
def test_sigterm_to_one_rank_stops_every_rank_at_the_same_step_and_saves(tmp_path):
    from trainer.training.checkpoint import read_checkpoint
    from trainer.training.rundir import read_metrics

    job = _run_torchrun(_train_args(tmp_path / "runs"), VAE_TEST_SIGTERM="1")
    output = job.stdout + job.stderr
    # (torchrun itself prints its own traceback because rank 1 exits with 143; none comes from our code.)
    assert "received SIGTERM" in output and "trainer/" not in output.replace(str(REPO), ""), output
    assert "stopped: stopped at step 5; checkpoint saved" in output, output
    run_dir = tmp_path / "runs" / "ddp"
    finished = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["type"] == "finished"]
    assert finished[-1]["status"] == "stopped", output
    # Stopped before the update of step FAIL_AT_STEP, on both ranks: the checkpoint holds step FAIL_AT_STEP - 1.
    assert read_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == FAIL_AT_STEP - 1
    assert not list(run_dir.rglob("*.tmp"))


@pytest.mark.slow
def test_sigterm_while_a_checkpoint_is_written_finishes_the_write_then_stops_and_saves(tmp_path, monkeypatch,
                                                                                      capsys):
    """SIGTERM (torchrun ending a job, a cancelled job) may arrive while a checkpoint is written: the write
    completes, the run stops after the step and saves, as on Ctrl-C, and no temporary file is left."""
    from trainer.training import checkpoint
    from trainer.cli import commands as cli
    from trainer.training.checkpoint import read_checkpoint
    from trainer.training.rundir import read_metrics

    real_save = torch.save
    signalled = []

    def save_then_get_terminated(*args, **kwargs):
        real_save(*args, **kwargs)                  # the temporary file is written, not yet renamed
        if not signalled:
            signalled.append(True)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(checkpoint.torch, "save", save_then_get_terminated)
    args = _train_args(tmp_path / "runs")
    args[args.index("--epochs") + 1] = "3"
    previous_handler = signal.getsignal(signal.SIGTERM)

    assert cli.main(args) == 128 + signal.SIGTERM
    assert "received SIGTERM" in capsys.readouterr().err
    checkpoints = tmp_path / "runs" / "ddp" / "checkpoints"
    assert not list(checkpoints.glob("*.tmp")), "the interrupted write left a file behind"
    records = [r for r in read_metrics(tmp_path / "runs" / "ddp" / "metrics.jsonl") if r["type"] == "finished"]
    assert records[-1]["status"] == "stopped"
    assert read_checkpoint(checkpoints / "last.pt")["step"] == records[-1]["step"]
    assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_training_images_on_the_cpu_are_cut_as_before():
    from trainer.training.device import TrainImages

    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    source = TrainImages(images, torch.device("cpu"))
    indices = torch.tensor([7, 2, 2, 9])
    assert source.placement == "host" and source.index_device == torch.device("cpu")
    assert torch.equal(source.batch(indices), images[indices])


def test_a_global_batch_that_does_not_split_over_the_ranks_is_refused(tmp_path):
    from conftest import tiny_config
    from trainer.config import ConfigError
    from trainer.training.distributed import DistContext
    from trainer.training.loop import train

    config = tiny_config(tmp_path / "runs", batch_size=10)
    with pytest.raises(ConfigError, match="batch size 10 .* 4 processes: use a multiple of 4"):
        train(config, dist=DistContext(rank=0, world_size=4))
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("reparam", ["normal", "exp_logvar", "uniform01", "uniform_pm1"])
def test_given_noise_makes_the_reparameterization_reproducible(reparam):
    from trainer.models.networks import build_model
    from trainer.models.presets import preset_config

    model = build_model(preset_config("default", image_size=32, base_channels=8, latent_dim=6, reparam=reparam))
    model.train()
    x = torch.rand(4, 3, 32, 32)
    noise = model.draw_noise(4, torch.Generator().manual_seed(3))
    uniform = reparam.startswith("uniform")
    assert (noise.min() >= 0 and noise.max() < 1) if uniform else noise.min() < 0
    first, second = model(x, noise=noise), model(x, noise=noise.clone())
    torch.testing.assert_close(first.z, second.z)
    torch.testing.assert_close(first.logits, second.logits)
    # The rows of a batch's noise go with the rows of the batch: a rank's slice gives that rank's codes.
    half = model(x[1::2], noise=noise[1::2])
    torch.testing.assert_close(half.z, first.z[1::2])
    assert not torch.allclose(model(x).z, first.z)      # without noise it is drawn afresh


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
