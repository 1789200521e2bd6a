"""Issue 14, "nothing lost, nothing crashes": every fault ends in one message in our words naming the file and the
problem, exit code 2 for bad input and 1 for a runtime failure, and the user's checkpoints still load and resume.

One test (or a few) per point of the issue, numbered as there. In-process runs call trainer.cli.commands.main (an uncaught
exception there would fail the test, so a returned code also means no traceback); signals run a real subprocess.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import trainer.training.loop
from imagefiles import make_split_folder, write_images
from trainer.training import checkpoint as checkpoint_module
from trainer.training.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from trainer.cli import main
from trainer.config import ConfigError, ModelConfig
from trainer.training.rundir import RunDirectory, read_metrics

REPO = Path(__file__).resolve().parent.parent
# 32 train + 8 test synthetic faces, batch 8: 4 steps per epoch, about a second per run on one CPU thread.
TINY = ["--data", "synthetic", "--synthetic-count", "40", "--test-fraction", "0.2", "--image-size", "32",
        "--base-channels", "8", "--latent-dim", "4", "--batch-size", "8", "--threads", "1", "--device", "cpu",
        "--precision", "fp32", "--quiet"]
STEPS_PER_EPOCH = 4

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _train(runs: Path, name: str, *extra: str) -> int:
    return main(["train", *TINY, "--runs-dir", str(runs), "--name", name, *extra])


def _error(capsys) -> str:
    """The one error line; no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def _cli_env() -> dict:
    env = os.environ.copy()         # includes the test's private VAE_EXPLORER_CACHE
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _wait_for(predicate, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A finished 1-epoch run (4 steps) of the tiny model."""
    assert _train(tmp_path / "runs", "run", "--epochs", "1") == 0
    return tmp_path / "runs" / "run"


def _records(run: Path, kind: str) -> list[dict]:
    return [r for r in read_metrics(run / "metrics.jsonl") if r["type"] == kind]


# ---------------------------------------------------------------- 1. SIGTERM saves like Ctrl-C

@pytest.mark.slow
def test_01_sigterm_saves_a_checkpoint_at_the_current_step(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = [sys.executable, "-m", "trainer", "train", *TINY, "--runs-dir", str(runs), "--name", "term",
            "--epochs", "10000"]
    process = subprocess.Popen(args, cwd=REPO, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    run = runs / "term"
    try:
        # Past the first validation (step 4) and into the next epoch, so a save at the stop is visible.
        _wait_for(lambda: any(r.get("step", 0) >= 6 for r in _records(run, "step")) if run.exists() else False,
                  what="training steps")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "received SIGTERM" in err
    finished = _records(run, "finished")[-1]
    assert finished["status"] == "stopped"
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last.step == finished["step"] and last.step >= 6      # not the step-4 checkpoint of the validation
    log = (run / "train.log").read_text()
    assert "stopped" in log and "another process" not in log
    assert not list((run / "checkpoints").glob("*.tmp"))


# Runs the real CLI with a checkpoint write that stalls halfway (the third write), so kill -9 lands mid-write.
STALLING_WRITE = """
import sys, time, torch
from trainer.cli import commands as cli
real_save, calls = torch.save, []
def stalling_save(obj, handle, *args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
        handle.write(b"PK half a checkpoint")
        handle.flush()
        time.sleep(600)
    return real_save(obj, handle, *args, **kwargs)
torch.save = stalling_save
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_01_kill_9_mid_write_leaves_the_previous_checkpoint_and_a_free_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = [sys.executable, "-c", STALLING_WRITE, "train", *TINY, "--runs-dir", str(runs), "--name", "killed",
            "--epochs", "3", "--eval-every", "1"]            # a checkpoint write at every step
    process = subprocess.Popen(args, cwd=REPO, env=_cli_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoints = runs / "killed" / "checkpoints"
    try:
        # last.pt first: the first, normal write also shows a *.tmp for a moment
        _wait_for(lambda: (checkpoints / "last.pt").is_file() and any(checkpoints.glob("*.tmp")),
                  what="the stalled write")
    finally:
        process.kill()                                       # SIGKILL: no handler, no cleanup runs
        process.wait()
    step = load_checkpoint(checkpoints / "last.pt").step    # atomic writes: the previous checkpoint is whole
    assert step >= 1
    # The lock died with the process; opening the run again removes the temporary file the kill left behind.
    assert main(["train", "--resume", str(runs / "killed"), "--max-steps", str(step + 1), "--quiet"]) == 0
    assert load_checkpoint(checkpoints / "last.pt").step == step + 1
    assert not list(checkpoints.glob("*.tmp"))


# ---------------------------------------------------------------- 2. export never destroys resumable state

def test_02_export_onto_the_source_is_refused(run_dir: Path, tmp_path: Path, capsys) -> None:
    last = run_dir / "checkpoints" / "last.pt"
    before = _sha(last)
    assert main(["export", str(last), str(last)]) == 2
    message = _error(capsys)
    assert str(last) in message and "optimizer state" in message
    assert main(["export", str(run_dir / "checkpoints" / "best.pt"), str(last)]) == 2
    assert "run's own checkpoint" in _error(capsys)
    assert _sha(last) == before and "optimizer_state" in read_checkpoint(last)


def test_02_resume_from_a_checkpoint_without_optimizer_state_says_so(run_dir: Path, tmp_path: Path, capsys) -> None:
    slim = tmp_path / "slim.pt"
    assert main(["export", str(run_dir / "checkpoints" / "last.pt"), str(slim)]) == 0
    shutil.copy(slim, run_dir / "checkpoints" / "last.pt")        # e.g. copied over by hand
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "2", "--quiet"]) == 2
    message = _error(capsys)
    assert "last.pt" in message and "optimizer state" in message and "cannot resume" in message


# ---------------------------------------------------------------- 3. resume applies what the user typed

@pytest.mark.slow
def test_03_resume_applies_typed_settings_even_when_equal_to_the_default(run_dir: Path, capsys) -> None:
    # --epochs 20 is TrainConfig's default: the old code dropped it and kept the run's 1 epoch.
    code = main(["train", "--resume", str(run_dir), "--epochs", "20", "--max-steps", "6", "--lr", "0.001",
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert last.step == 6
    assert last.config.train.epochs == 20 and last.config.train.lr == 0.001
    log = (run_dir / "train.log").read_text()
    assert "resume: epochs 1 -> 20" in log and "resume: lr" in log


@pytest.mark.slow
def test_03_resume_refuses_a_change_of_model_shape_or_data(run_dir: Path, tmp_path: Path, capsys) -> None:
    before = _sha(run_dir / "checkpoints" / "last.pt")
    assert main(["train", "--resume", str(run_dir), "--latent-dim", "8", "--quiet"]) == 2
    message = _error(capsys)
    assert "--latent-dim cannot change when resuming" in message and "model's shape" in message
    assert main(["train", "--resume", str(run_dir), "--data", str(tmp_path), "--quiet"]) == 2
    assert "--data cannot change" in _error(capsys)
    assert main(["train", "--resume", str(run_dir), "--latent-dim", "4", "--epochs", "2", "--max-steps", "5",
                 "--quiet"]) == 0
    assert _sha(run_dir / "checkpoints" / "last.pt") != before       # same value as stored: fine


# ---------------------------------------------------------------- 4. sizes bounded before anything is built

def test_04_parameter_estimate_matches_the_built_model() -> None:
    from trainer.config import estimate_parameters
    from trainer.models.networks import build_model
    from trainer.models.presets import PRESETS
    for preset in PRESETS.values():
        config = ModelConfig(**{**preset.__dict__, "image_size": 32, "base_channels": 8, "max_channels": 32,
                                "depth": 3, "latent_dim": 5})
        assert estimate_parameters(config) == build_model(config).parameter_count(), preset.preset
    # Few parameters, but 64 MB of activations per image: a batch would exhaust memory.
    with pytest.raises(ConfigError, match="feature map"):
        ModelConfig(base_channels=1024, max_channels=1024, depth=4, image_size=128, latent_dim=4).validate()


def test_04_a_crafted_checkpoint_with_a_huge_model_is_refused_before_allocating(run_dir: Path, tmp_path: Path) -> None:
    payload = read_checkpoint(run_dir / "checkpoints" / "best.pt")
    payload["config"]["model"].update(base_channels=1024, max_channels=1024, depth=1, image_size=128,
                                      latent_dim=4096)
    payload["config"]["data"]["image_size"] = 128
    crafted = tmp_path / "crafted.pt"
    torch.save(payload, crafted)
    start = time.monotonic()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(crafted)
    assert time.monotonic() - start < 5
    assert str(crafted) in str(info.value) and "parameters" in str(info.value)
    payload["config"]["model"].update(max_channels=10**7)
    torch.save(payload, crafted)
    with pytest.raises(CheckpointError, match="max_channels"):
        load_checkpoint(crafted)


def test_04_a_synthetic_count_that_cannot_fit_in_memory_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["train", *TINY, "--runs-dir", str(tmp_path / "runs"), "--synthetic-count", "10000000"]) == 2
    assert "synthetic_count" in _error(capsys)
    with pytest.raises(ConfigError, match="GiB"):
        from trainer.config import DataConfig
        DataConfig(image_size=128, synthetic_count=900_000).validate()


# ---------------------------------------------------------------- 5. the data cache is validated on load

def _cache_entry(cache: Path) -> Path:
    entries = [p for p in (cache / "datasets").iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(entries) == 1
    return entries[0]


@pytest.mark.parametrize("damage", ["float64", "empty_images", "meta_list", "missing_images", "wrong_shape"])
def test_05_a_damaged_or_wrong_cache_is_rebuilt(tmp_path: Path, isolated_user_folders, caplog, damage: str) -> None:
    from trainer.config import DataConfig
    from trainer.data.datasets import load_dataset
    folder = make_split_folder(tmp_path / "faces", n_train=6, n_test=3)
    config = DataConfig(source=str(folder), image_size=32)
    first = load_dataset(config)
    first.train, first.test = first.train.clone(), first.test.clone()      # not a mapping of the file damaged below
    entry = _cache_entry(isolated_user_folders / "cache")
    images_file = next(entry.glob("images-*.npy"))
    images = np.load(images_file)
    if damage == "float64":
        np.save(images_file, images.astype(np.float64))
    elif damage == "empty_images":
        np.save(images_file, images[:0])
    elif damage == "meta_list":
        (entry / "meta.json").write_text("[]")
    elif damage == "missing_images":
        images_file.unlink()
    else:
        np.save(images_file, images[:, :, :16, :16].copy())
    again = load_dataset(config)
    assert "damaged data cache" in caplog.text
    assert again.train.dtype == torch.uint8 and torch.equal(again.train, first.train)
    assert torch.equal(again.test, first.test)


def test_05_a_file_that_failed_to_read_is_tried_again(tmp_path: Path, monkeypatch) -> None:
    from trainer.data import datasets as data, decoding
    from trainer.config import DataConfig
    folder = make_split_folder(tmp_path / "faces", n_train=6, n_test=3)
    flaky = sorted((folder / "train").iterdir())[0]
    real_decode = decoding._decode_file

    def fails_for_one(path, size):
        if os.fsdecode(path) == str(flaky):
            raise decoding.ImageDecodeError(path, "the file cannot be read (permission denied)")
        return real_decode(path, size)

    monkeypatch.setattr(decoding, "_decode_file", fails_for_one)
    config = DataConfig(source=str(folder), image_size=32)
    assert len(data.load_dataset(config).train) == 5
    monkeypatch.setattr(decoding, "_decode_file", real_decode)       # permissions fixed: same size and mtime
    dataset = data.load_dataset(config)
    assert len(dataset.train) == 6 and dataset.skipped == []


# ---------------------------------------------------------------- 6. one process per run directory

@pytest.mark.slow
def test_06_a_second_process_on_the_same_run_is_refused(run_dir: Path, capsys) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from trainer.training.rundir import RunDirectory; "
         "r = RunDirectory.open(sys.argv[1]); r.lock(); print('locked', flush=True); time.sleep(60)", str(run_dir)],
        cwd=REPO, env=_cli_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _sha(run_dir / "checkpoints" / "last.pt")
        assert main(["train", "--resume", str(run_dir), "--epochs", "2", "--quiet"]) == 2
        message = _error(capsys)
        assert f"run {run_dir} is in use by another process (pid {holder.pid})" in message
        assert _sha(run_dir / "checkpoints" / "last.pt") == before
    finally:
        holder.kill()
        holder.wait()
    assert main(["train", "--resume", str(run_dir), "--epochs", "2", "--quiet"]) == 0    # free again


def test_06_a_name_claimed_by_another_process_meanwhile_is_not_shared(tmp_path: Path, monkeypatch) -> None:
    # Another process creates runs/same between our look at the name and our mkdir: the race of two
    # simultaneous creates, made deterministic. Checking first and creating later would hand out its folder.
    runs, claimed = tmp_path / "runs", tmp_path / "runs" / "same"
    real_mkdir = Path.mkdir

    def other_process_wins(self, *args, **kwargs):
        if (self == claimed or claimed in self.parents) and not claimed.exists():
            os.makedirs(claimed)
        return real_mkdir(self, *args, **kwargs)

    runs.mkdir()
    monkeypatch.setattr(Path, "mkdir", other_process_wins)
    run = RunDirectory.create(runs, "same")
    assert run.path == runs / "same-2" and run.checkpoints.is_dir()


# ---------------------------------------------------------------- 7. reading a checkpoint never changes it

@pytest.mark.slow
def test_07_eval_leaves_the_checkpoint_unchanged_and_keeps_results_aside(run_dir: Path, tmp_path: Path,
                                                                         capsys) -> None:
    best = tmp_path / "copy.pt"
    shutil.copy(run_dir / "checkpoints" / "best.pt", best)
    checkpoint_module.update_checkpoint(best, eval=None, latent_stats=None)
    before, size = _sha(best), best.stat().st_size
    assert main(["eval", str(best), "--device", "cpu", "--json", str(tmp_path / "r.json")]) == 0
    assert _sha(best) == before and best.stat().st_size == size
    loaded = load_checkpoint(best)
    assert loaded.eval_metrics is not None and loaded.latent_stats is not None      # from the derived cache
    assert main(["eval", str(best), "--device", "cpu", "--json", str(tmp_path / "r.json"), "--store"]) == 0
    assert read_checkpoint(best)["eval"] is not None                                # only on request


def test_07_the_explorer_does_not_write_into_the_checkpoint(run_dir: Path, tmp_path: Path) -> None:
    from trainer.latent.prepared import prepare_latents
    best = tmp_path / "copy.pt"
    shutil.copy(run_dir / "checkpoints" / "best.pt", best)
    checkpoint_module.update_checkpoint(best, latent_stats=None)
    before = _sha(best)
    result = prepare_latents(load_checkpoint(best), compute_stats=True)
    assert result.stats is not None and _sha(best) == before
    assert load_checkpoint(best).latent_stats is not None


# ---------------------------------------------------------------- 8. one test image

@pytest.mark.slow
def test_08_a_test_split_of_one_image_finishes_with_a_note(tmp_path: Path, capsys) -> None:
    folder = make_split_folder(tmp_path / "faces", n_train=8, n_test=1)
    args = ["train", "--data", str(folder), *TINY[2:], "--runs-dir", str(tmp_path / "runs"), "--name", "one",
            "--max-steps", "2"]
    assert main(args) == 0, capsys.readouterr().err
    run = tmp_path / "runs" / "one"
    assert _records(run, "finished")[-1]["status"] == "completed"
    assert (run / "eval.json").exists()
    assert "latent statistics skipped" in (run / "train.log").read_text()
    assert load_checkpoint(run / "checkpoints" / "best.pt").eval_metrics is not None


# ---------------------------------------------------------------- 9. only regular files are opened

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")
@pytest.mark.slow
def test_09_links_loops_and_fifos_in_the_data_folder_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    write_images(folder, 10)
    os.symlink("self.png", folder / "self.png")               # a link loop
    os.symlink(tmp_path / "gone.png", folder / "dangling.png")
    os.mkfifo(folder / "pipe.png")                             # opening it would block forever
    args = [sys.executable, "-m", "trainer", "train", "--data", str(folder), *TINY[2:], "--runs-dir",
            str(tmp_path / "runs"), "--max-steps", "1", "--test-fraction", "0.3"]
    done = subprocess.run(args, cwd=REPO, env=_cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("could not be used") == 1 and "pipe.png" in done.stderr          # one warning
    assert "not a regular file" in done.stderr and "dangling.png" in done.stderr and "self.png" in done.stderr


# ---------------------------------------------------------------- 10. disk full

@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64")])
@pytest.mark.slow
def test_10_a_full_disk_keeps_the_previous_checkpoint(run_dir: Path, monkeypatch, capsys, failure) -> None:
    last = run_dir / "checkpoints" / "last.pt"
    before = _sha(last)

    def full_disk(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half")
        raise failure

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    assert main(["train", "--resume", str(run_dir), "--epochs", "2", "--quiet"]) == 1
    message = _error(capsys)
    assert f"could not write {last}: the disk is full" in message and "previous checkpoint is kept" in message
    assert _sha(last) == before and not list(last.parent.glob("*.tmp"))
    monkeypatch.undo()
    assert main(["train", "--resume", str(run_dir), "--epochs", "2", "--quiet"]) == 0   # resumes afterwards


def test_10_a_full_disk_while_caching_leaves_no_temporary_folder(tmp_path: Path, isolated_user_folders,
                                                                 monkeypatch, caplog) -> None:
    from trainer.data import datasets as data
    from trainer.config import DataConfig

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(data.np, "save", full_disk)
    dataset = data.load_dataset(DataConfig(source="synthetic", synthetic_count=20, image_size=32))
    assert len(dataset.train) == 18 and "could not write data cache" in caplog.text
    datasets = isolated_user_folders / "cache" / "datasets"
    assert [p for p in datasets.iterdir() if not p.name.startswith(".")] == []          # (.locks/ may stay)


# ---------------------------------------------------------------- 11. output locations checked first

@pytest.fixture
def no_data_loading(monkeypatch):
    """Loading data means the output location was not checked first."""
    def fail(*args, **kwargs):
        raise AssertionError("the data was loaded before the output location was checked")
    monkeypatch.setattr(trainer.training.loop, "load_dataset", fail)


@pytest.mark.usefixtures("no_data_loading")
@pytest.mark.parametrize("kind", ["proc", "file", "long_name"])
def test_11_bad_run_locations_fail_before_loading_data(tmp_path: Path, capsys, kind: str) -> None:
    runs, name = tmp_path / "runs", "ok"
    if kind == "proc":
        runs = Path("/proc/x")
    elif kind == "file":
        runs.write_text("not a folder")
    else:
        name = "n" * 300
    assert main(["train", *TINY, "--runs-dir", str(runs), "--name", name]) == 2
    message = _error(capsys)
    assert (str(runs) if kind != "long_name" else "run name") in message


def test_11_bad_export_and_json_targets(run_dir: Path, tmp_path: Path, capsys) -> None:
    best = run_dir / "checkpoints" / "best.pt"
    folder = tmp_path / "a_folder"
    folder.mkdir()
    assert main(["export", str(best), str(folder)]) == 2
    assert f"{folder} is a folder" in _error(capsys)
    assert main(["export", str(best), "/proc/x.pt"]) == 2
    assert "/proc" in _error(capsys)
    assert main(["eval", str(best), "--json", str(folder), "--device", "cpu"]) == 2
    assert f"{folder} is a folder" in _error(capsys)


# ---------------------------------------------------------------- 12. whole checkpoint structure validated

@pytest.mark.parametrize("damage", ["config_list", "step_text", "wrong_shape", "weights_not_tensors"])
def test_12_malformed_checkpoints_are_refused_everywhere(run_dir: Path, tmp_path: Path, capsys, damage) -> None:
    last = run_dir / "checkpoints" / "last.pt"
    payload = read_checkpoint(last)
    if damage == "config_list":
        payload["config"] = [1, 2]
    elif damage == "step_text":
        payload["step"] = "abc"
    elif damage == "wrong_shape":
        name = next(iter(payload["model_state"]))
        payload["model_state"][name] = torch.zeros(3)
    else:
        payload["model_state"] = {k: 0 for k in payload["model_state"]}
    torch.save(payload, last)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(last)
    assert str(last) in str(info.value)
    out = tmp_path / "slim.pt"
    assert main(["export", str(last), str(out)]) == 2 and not out.exists()
    assert str(last) in _error(capsys)
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 2
    assert str(last) in _error(capsys)


# ---------------------------------------------------------------- 13. predict arguments, folders as checkpoints

def test_13_negative_counts_and_folders_are_bad_input(run_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["predict", str(run_dir / "checkpoints" / "best.pt"), "--out", str(tmp_path / "p"), "--n-recon", "-5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--n-recon: must be 0 or more" in err and "Traceback" not in err
    assert main(["predict", str(run_dir), "--out", str(tmp_path / "p")]) == 2
    assert f"{run_dir}: is a folder, not a checkpoint file" in _error(capsys)


# ---------------------------------------------------------------- 14. temporary files and cache size

@pytest.mark.slow
def test_14_stale_temporary_checkpoints_are_removed_on_the_next_open(run_dir: Path) -> None:
    stale = run_dir / "checkpoints" / "last.pt.99999.abcd.tmp"
    stale.write_bytes(b"PK half a checkpoint, its writer was killed")
    assert main(["train", "--resume", str(run_dir), "--epochs", "2", "--quiet"]) == 0
    assert not stale.exists()


def test_14_stale_cache_temporaries_are_removed_and_old_entries_pruned(tmp_path: Path,
                                                                       isolated_user_folders) -> None:
    from trainer.data.cache import prune_datasets
    from trainer.config import DataConfig
    from trainer.data.datasets import load_dataset
    datasets = isolated_user_folders / "cache" / "datasets"
    old_tmp, fresh_tmp = datasets / "synthetic-abc.tmpx1", datasets / "synthetic-def.tmpx2"
    for tmp in (old_tmp, fresh_tmp):
        tmp.mkdir(parents=True)
        (tmp / "train.npy").write_bytes(b"half")
    os.utime(old_tmp, (time.time() - 3600, time.time() - 3600))
    load_dataset(DataConfig(source="synthetic", synthetic_count=20, image_size=32))
    assert not old_tmp.exists() and fresh_tmp.exists()       # a recent one may belong to a live writer
    load_dataset(DataConfig(source="synthetic", synthetic_count=30, image_size=32))
    entries = [p for p in datasets.iterdir() if ".tmp" not in p.name and not p.name.startswith(".")]    # .locks/
    assert len(entries) == 2
    newest = max(entries, key=lambda p: (p / "meta.json").stat().st_mtime)
    prune_datasets(datasets, keep=newest, max_bytes=1)
    assert [p for p in datasets.iterdir() if ".tmp" not in p.name and not p.name.startswith(".")] == [newest]


def test_14_cache_command_shows_and_clears(tmp_path: Path, isolated_user_folders, capsys) -> None:
    from trainer.config import DataConfig
    from trainer.data.datasets import load_dataset
    load_dataset(DataConfig(source="synthetic", synthetic_count=20, image_size=32))
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(isolated_user_folders / "cache") in out and "datasets/: 1 entries" in out
    assert main(["cache", "--clear"]) == 0
    assert "datasets/: 0 entries" in capsys.readouterr().out


# ---------------------------------------------------------------- 15. one validation per step

def test_15_eval_every_dividing_the_epoch_validates_once_per_step(tmp_path: Path, capsys) -> None:
    assert _train(tmp_path / "runs", "every", "--epochs", "2", "--eval-every", "2") == 0
    run = tmp_path / "runs" / "every"
    steps = [r["step"] for r in _records(run, "eval")]
    assert steps == [2, 4, 6, 8]
    assert (run / "train.log").read_text().count("step 4 epoch") == 1
