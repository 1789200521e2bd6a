"""Issue 22: the classes of faults, one test per class (settings that are not numbers, hostile checkpoints and state
files, names that are not UTF-8, locks that protect runs, signals in every command). Each case ends in one line
in our words (exit 2 for bad input, 130 / 143 for Ctrl-C / SIGTERM), and nothing is created or lost."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from trainer.cli import main
from trainer.latent.explorer_state import ExplorerSnapshot, ExplorerStateError, load_explorer_state
from trainer.training.checkpoint import read_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parent.parent
TINY = ["--data", "synthetic", "--synthetic-count", "40", "--test-fraction", "0.2", "--image-size", "32",
        "--base-channels", "8", "--latent-dim", "4", "--batch-size", "8", "--threads", "1", "--device", "cpu",
        "--precision", "fp32", "--quiet"]
ODD = os.fsdecode(b"odd\xff\xc3\xa9")           # a name the OS allows that is not UTF-8 (and one that is)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    assert main(["train", *TINY, "--runs-dir", str(tmp_path / "runs"), "--name", "run", "--max-steps", "2",
                 "--no-final-eval"]) == 0
    return tmp_path / "runs" / "run" / "checkpoints" / "last.pt"


# ---------------------------------------------------------------- settings that are not numbers, or absurd

@pytest.mark.parametrize("where", ["flag", "run_file", "experiments_file"])
@pytest.mark.parametrize("setting, value", [("beta", "nan"), ("beta", "inf"), ("factor_supervision", "nan"),
                                            ("tc_weight", "nan"), ("seed", "1" + "0" * 400),
                                            ("weight_decay", "1e300")])
def test_non_finite_and_absurd_settings_are_refused_wherever_they_enter(tmp_path: Path, capsys, where: str,
                                                                        setting: str, value: str) -> None:
    runs = tmp_path / "runs"
    if where == "flag":
        code = main(["train", *TINY, "--runs-dir", str(runs), f"--{setting.replace('_', '-')}", value])
    elif where == "run_file":
        (tmp_path / "run.toml").write_text(f"{setting} = {value}\n")
        code = main(["train", *TINY, "--runs-dir", str(runs), "--config", str(tmp_path / "run.toml")])
    else:
        (tmp_path / "exp.toml").write_text(f"[defaults]\nepochs = 1\n\n[experiments.a]\n{setting} = {value}\n")
        code = main(["experiments", str(tmp_path / "exp.toml"), "--runs-dir", str(runs), "--no-report"])
    assert code == 2
    assert setting in _one_error_line(capsys)
    assert not runs.exists()                                  # refused before anything was created


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary\x80", b"beta = 1\n\xff"])
def test_binary_run_and_experiments_files_are_one_line(tmp_path: Path, capsys, content: bytes) -> None:
    (tmp_path / "file.toml").write_bytes(content)
    assert main(["train", *TINY, "--config", str(tmp_path / "file.toml"), "--print-config"]) == 2
    assert "not a text file" in _one_error_line(capsys)
    assert main(["experiments", str(tmp_path / "file.toml"), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "not a text file" in _one_error_line(capsys)


def test_predict_counts_and_temperature_are_bounded(checkpoint: Path, tmp_path: Path, capsys) -> None:
    for flags in (["--n-samples", "1000000000"], ["--temperature", "1e300"], ["--seed", "1" + "0" * 40]):
        assert main(["predict", str(checkpoint), "--out", str(tmp_path / "out"), *flags]) == 2
        assert flags[0] in _one_error_line(capsys)
        assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- hostile checkpoints and state files

@pytest.mark.parametrize("damage", ["huge_weights", "nan_beta_in_config", "huge_int_in_config"])
def test_hostile_checkpoints_are_refused_in_one_line(checkpoint: Path, tmp_path: Path, capsys, damage) -> None:
    payload = read_checkpoint(checkpoint)
    if damage == "huge_weights":                  # finite, but every output overflows
        payload["model_state"] = {k: v * 1e30 if v.is_floating_point() else v
                                  for k, v in payload["model_state"].items()}
    elif damage == "nan_beta_in_config":
        payload["config"]["train"]["beta"] = float("nan")
    else:
        payload["config"]["train"]["seed"] = 10 ** 400
    hostile = tmp_path / "hostile.pt"
    save_checkpoint(hostile, payload)
    for command in (["eval", str(hostile), "--no-faces", "--no-memorisation"],
                    ["predict", str(hostile), "--out", str(tmp_path / "out")],
                    ["export", str(hostile), str(tmp_path / "slim.pt")]):
        assert main(command) == 2
        assert "hostile.pt" in _one_error_line(capsys)
    assert not (tmp_path / "out").exists() and not (tmp_path / "slim.pt").exists()


@pytest.mark.parametrize("z, words", [([1e300, 0.0], "finite numbers"), ([10 ** 400, 0], "finite numbers"),
                                      (["0", 0.0], "finite numbers"), ([True, 0.0], "finite numbers")])
def test_hostile_state_files_are_refused_in_the_core(tmp_path: Path, z, words: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"format": "vae-face-explorer-state", "version": 1, "z": z}))
    with pytest.raises(ExplorerStateError, match=words):
        load_explorer_state(path)
    path.write_text(json.dumps({"format": "vae-face-explorer-state", "version": 1, "z": [0.0], "checkpoint": [1]}))
    with pytest.raises(ExplorerStateError, match="'checkpoint' must be a text"):
        load_explorer_state(path)
    with pytest.raises(ExplorerStateError, match="3 values and this model has 4"):
        ExplorerSnapshot("", "", z=torch.zeros(3).numpy()).check_fits(4, path)


# ---------------------------------------------------------------- names that are not UTF-8

@pytest.mark.slow
def test_names_that_are_not_utf8_work_everywhere_in_any_locale(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    data = tmp_path / ODD
    data.mkdir()
    for i in range(12):
        Image.fromarray(np.full((32, 32, 3), i * 20, np.uint8)).save(data / f"{ODD}{i}.png")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "LC_ALL": "C", "PYTHONUTF8": "0"}
    run = [sys.executable, "-m", "trainer", "train", *TINY[2:], "--data", str(data), "--runs-dir",
           str(tmp_path / ODD), "--name", ODD, "--max-steps", "1", "--no-final-eval"]
    printed = subprocess.run([*run, "--print-config"], env=env, capture_output=True, check=True).stdout
    (tmp_path / "run.toml").write_bytes(printed)
    again = subprocess.run([sys.executable, "-m", "trainer", "train", "--config", str(tmp_path / "run.toml"),
                            "--print-config"], env=env, capture_output=True)
    assert again.returncode == 0 and again.stdout == printed, again.stderr      # the run file round-trips
    done = subprocess.run(run, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / ODD / ODD
    assert (folder / "metrics.csv").is_file() and (folder / "train.log").is_file()
    assert b"\\xff" in done.stdout                                              # printed, escaped
    slim = subprocess.run([sys.executable, "-m", "trainer", "export", str(folder / "checkpoints" / "last.pt"),
                           str(tmp_path / f"{ODD}.pt")], env=env, capture_output=True)
    assert slim.returncode == 0 and (tmp_path / f"{ODD}.pt").is_file(), slim.stderr


# ---------------------------------------------------------------- locks that protect runs

HOLD_LOCK = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_experiments_runner_never_touches_a_run_another_process_holds(tmp_path: Path, capsys) -> None:
    from trainer.study.experiments import experiments_root

    (tmp_path / "exp.toml").write_text("[defaults]\nepochs = 1\nsynthetic_count = 40\nimage_size = 32\n"
                                       "base_channels = 8\nlatent_dim = 4\nbatch_size = 8\n\n[experiments.young]\n")
    run = experiments_root(tmp_path / "runs", "synthetic") / "young"
    run.mkdir(parents=True)          # a run so young it has no checkpoint yet: it looks stale, but is held
    (run / "marker").write_text("the first runner's")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run / ".lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["experiments", str(tmp_path / "exp.toml"), "--runs-dir", str(tmp_path / "runs"),
                     "--no-report", "--quiet"]) == 0
    finally:
        holder.kill()
        holder.wait()
    assert (run / "marker").read_text() == "the first runner's"
    assert "in use by another process" in capsys.readouterr().out


def test_a_new_run_folder_is_locked_before_anything_is_in_it(tmp_path: Path) -> None:
    from trainer.training.rundir import RunDirectory

    created = RunDirectory.create(tmp_path, "run")
    try:
        assert RunDirectory(created.path).in_use_by_another() == str(os.getpid())
    finally:
        created.unlock()
    assert RunDirectory(created.path).in_use_by_another() is None


# ---------------------------------------------------------------- signals, the same in every command

# The real CLI with one step made slow, so the signal lands in the middle of the command's work.
STALLED = """
import sys, time
import trainer.cli.commands as cli
what = sys.argv[1]
if what == "png":                                    # predict: a PNG half written
    import trainer.atomic as atomic
    real = atomic.write_atomically
    def stalling(path, write):
        def half(tmp):
            tmp.write_bytes(b"\\x89PNG half")
            print("stalled", file=sys.stderr, flush=True)
            time.sleep(60)
        return real(path, half)
    atomic.write_atomically = stalling
elif what == "save":                                 # export: torch.save turns the interrupt into a RuntimeError
    import torch
    def stalling_save(obj, handle, *args, **kwargs):
        handle.write(b"PK half a checkpoint")
        handle.flush()
        print("stalled", file=sys.stderr, flush=True)
        time.sleep(60)
    torch.save = stalling_save
elif what == "eval":
    import trainer.evaluation.evaluate as evaluate
    def stalling_eval(*args, **kwargs):
        print("stalled", file=sys.stderr, flush=True)
        time.sleep(60)
    evaluate.evaluate_checkpoint_file = stalling_eval
elif what == "load":                                 # train / experiments: a long data load
    import trainer.data.datasets as datasets
    real_load = datasets.load_dataset
    def slow_load(config, should_stop=None, progress=None):
        print("stalled", file=sys.stderr, flush=True)
        while not should_stop():
            time.sleep(0.01)
        return real_load(config, should_stop, progress)
    datasets.load_dataset = slow_load
    import trainer.training.loop as loop
    loop.load_dataset = slow_load
sys.exit(cli.main(sys.argv[2:]))
"""


def _interrupt(args: list[str], signum: int, tmp_path: Path) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # A background shell ignores SIGINT for its children; a terminal's Ctrl-C reaches a process that does not.
    process = subprocess.Popen([sys.executable, "-c", STALLED, *args], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while "stalled" not in (line := process.stderr.readline()):
            assert line, "the command ended before it stalled"
        process.send_signal(signum)
        sent = time.monotonic()
        _, err = process.communicate(timeout=30)
        return process.returncode, err, time.monotonic() - sent
    finally:
        process.kill()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_every_command_stops_on_a_signal_keeping_only_whole_files(checkpoint: Path, tmp_path: Path,
                                                                   signum: int) -> None:
    cases = [
        (["load", "train", *TINY, "--runs-dir", str(tmp_path / "runs_new")], tmp_path / "runs_new"),
        (["png", "predict", str(checkpoint), "--out", str(tmp_path / "pred"), "--n-recon", "2", "--n-samples", "2"],
         tmp_path / "pred"),
        (["save", "export", str(checkpoint), str(tmp_path / "ex" / "slim.pt")], tmp_path / "ex"),
        (["eval", "eval", str(checkpoint), "--no-faces", "--json", str(tmp_path / "ev" / "e.json")], tmp_path / "ev"),
        (["load", "experiments", str(tmp_path / "exp.toml"), "--runs-dir", str(tmp_path / "runs_exp"), "--no-report"],
         tmp_path / "runs_exp"),
    ]
    (tmp_path / "exp.toml").write_text("[defaults]\nepochs = 1\nsynthetic_count = 40\nimage_size = 32\n"
                                       "base_channels = 8\nlatent_dim = 4\nbatch_size = 8\n\n[experiments.a]\n")
    (tmp_path / "ex").mkdir()
    (tmp_path / "ev").mkdir()
    for args, where in cases:
        code, err, seconds = _interrupt(args, signum, tmp_path)
        assert code == 128 + signum, (args[1], err)
        assert "Traceback" not in err and "unexpected" not in err and "disk is full" not in err, err
        assert sum(line.startswith("stopped by ") for line in err.splitlines()) == 1, err
        assert seconds < 10, (args[1], seconds)               # generous: a loaded 2-core machine
        if where.exists():
            assert not [p for p in where.rglob("*") if p.suffix in (".tmp", ".png") or p.name.endswith(".tmp")
                        or p.name == "slim.pt"], list(where.rglob("*"))
    assert not (tmp_path / "runs_new").exists()               # a stopped data load creates no run
    assert not [p for p in (tmp_path / "runs_exp").rglob("*") if p.is_file()]     # nor does an experiments runner's
    assert not (tmp_path / "ev" / "e.json").exists() and not (tmp_path / "ex" / "slim.pt").exists()


@pytest.mark.slow
def test_a_stale_export_temporary_is_removed_by_the_next_export(checkpoint: Path, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"slim.pt.{dead.stdout.strip()}.abcd.tmp"      # what kill -9 mid-export leaves
    stale.write_bytes(b"PK half")
    assert main(["export", str(checkpoint), str(tmp_path / "slim.pt")]) == 0
    assert not stale.exists() and (tmp_path / "slim.pt").is_file()
