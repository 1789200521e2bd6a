"""metrics.csv beside metrics.jsonl: the same records as spreadsheet rows, kept whole through crashes and resumes."""
import csv
import json

import pytest

from conftest import tiny_config
from trainer.training.loop import train
from trainer.training.metrics_csv import csv_row
from trainer.training.rundir import RunDirectory, read_metrics


def read_table(path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def assert_table_matches_jsonl(run_path) -> list[dict[str, str]]:
    records = read_metrics(run_path / "metrics.jsonl")
    columns, rows = read_table(run_path / "metrics.csv")
    assert len(rows) == len(records)
    scalar_keys = {k for r in records for k, v in r.items() if not isinstance(v, (list, dict))}
    assert set(columns) == scalar_keys and columns[:2] == ["type", "step"]
    for record, row in zip(records, rows):
        assert row == {**dict.fromkeys(columns, ""), **csv_row(record)}
        for key, value in record.items():
            if isinstance(value, float):
                assert float(row[key]) == value           # full precision, no rounding
    return rows


def test_a_run_writes_metrics_csv_with_the_rows_of_metrics_jsonl(tmp_path):
    result = train(tiny_config(tmp_path / "runs", cache_dir=tmp_path / "cache", epochs=1, log_every_steps=1))
    assert result.status == "completed"
    rows = assert_table_matches_jsonl(result.run_dir)
    kinds = [row["type"] for row in rows]
    assert kinds[0] == "step" and "eval" in kinds and "final" in kinds and kinds[-1] == "finished"
    eval_row = next(row for row in rows if row["type"] == "eval")
    assert float(eval_row["val_loss"]) > 0 and eval_row["is_best"] == "true" and eval_row["loss"] == ""
    assert "kl_per_dim" not in rows[0]                         # lists stay in metrics.jsonl


def test_new_columns_rewrite_the_header_and_a_torn_line_is_dropped_on_resume(tmp_path):
    run = RunDirectory(tmp_path)
    run.log_metrics({"type": "step", "step": 1, "loss": 2.5, "kl": None})
    run.log_metrics({"type": "step", "step": 2, "loss": 2.0, "kl": 0.5})
    assert read_table(tmp_path / "metrics.csv")[0] == ["type", "step", "loss", "kl"]
    run.log_metrics({"type": "eval", "step": 2, "val_loss": 1.5, "kl_per_dim": [0.1, 0.2], "is_best": True})
    columns, rows = read_table(tmp_path / "metrics.csv")
    assert columns == ["type", "step", "loss", "kl", "val_loss", "is_best"]
    assert [row["val_loss"] for row in rows] == ["", "", "1.5"] and rows[0]["kl"] == ""
    # a crash in the middle of a write: both files end in a partial line
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"type": "step", "st')
    with open(tmp_path / "metrics.csv", "a") as handle:
        handle.write("step,3,1.")
    resumed = RunDirectory(tmp_path)                          # a new process resuming the run
    resumed.log_metrics({"type": "step", "step": 3, "loss": 1.25, "kl": 0.25})
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 2, 3]
    assert [row["step"] for row in assert_table_matches_jsonl(tmp_path)] == ["1", "2", "2", "3"]
    assert not (tmp_path / "metrics.csv.tmp").exists()


def test_text_with_commas_and_quotes_survives_a_spreadsheet_round_trip(tmp_path):
    run = RunDirectory(tmp_path)
    message = 'failed: "NaN" loss, at step 3\nsee train.log'
    run.log_metrics({"type": "finished", "step": 3, "status": "failed", "message": message})
    _, rows = read_table(tmp_path / "metrics.csv")
    assert rows == [{"type": "finished", "step": "3", "status": "failed", "message": message}]
    assert json.loads((tmp_path / "metrics.jsonl").read_text())["message"] == message


def test_non_finite_values_are_empty_cells_like_null_in_jsonl(tmp_path):
    run = RunDirectory(tmp_path)
    run.log_metrics({"type": "step", "step": 1, "loss": float("nan"), "eta_s": float("inf")})
    _, rows = read_table(tmp_path / "metrics.csv")
    assert rows[0]["loss"] == "" and rows[0]["eta_s"] == ""
    assert read_metrics(tmp_path / "metrics.jsonl")[0]["loss"] is None


@pytest.mark.parametrize("value, cell", [(True, "true"), (3, "3"), (0.1, "0.1"), (1e-300, "1e-300"), ("a", "a")])
def test_cells(value, cell):
    assert csv_row({"v": value}) == {"v": cell}
