"""The run folder's layout (RunFiles): one definition of its file names, and the files a run writes are those."""
from __future__ import annotations

from pathlib import Path

from trainer.training.run_files import RunFiles


def test_a_checkpoint_knows_its_run_and_a_run_its_model(tmp_path: Path) -> None:
    run = RunFiles(tmp_path / "run")
    assert RunFiles.of_checkpoint(run.best_checkpoint).path == run.path
    assert RunFiles.of_checkpoint(tmp_path / "elsewhere" / "best.pt") is None
    assert run.is_own_checkpoint(run.last_checkpoint) and not run.is_own_checkpoint(run.checkpoints / "copy.pt")
    run.checkpoints.mkdir(parents=True)
    assert run.model_checkpoint == run.last_checkpoint          # before a validation chose a best.pt
    run.best_checkpoint.write_bytes(b"")
    assert run.model_checkpoint == run.best_checkpoint


def test_a_finished_run_holds_the_files_its_layout_names(tiny_checkpoint: Path) -> None:
    run = RunFiles.of_checkpoint(tiny_checkpoint)
    assert run is not None and run.best_checkpoint == Path(tiny_checkpoint)
    for path in (run.config_file, run.log_file, run.metrics_file, run.metrics_csv, run.eval_file, run.last_checkpoint):
        assert path.is_file(), path
    assert any(run.predictions.glob("*.png"))
