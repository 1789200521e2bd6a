"""metrics.csv: the records of metrics.jsonl as a table for spreadsheets, written as the run goes.

One row per record, its `type` (step, eval, final, finished) in the first column to filter by. The columns are the
records' plain values (numbers, text, true/false); lists and nested values (kl_per_dim, mig_per_factor, notes) are
left to metrics.jsonl. A row is appended, and the file closed (flushed), right after the same record is appended to
metrics.jsonl, so a crash leaves at most a partial last line. metrics.jsonl is the record of truth: the table is
rebuilt from it into a temporary file that atomically replaces the old one when a record brings a column the header
lacks (the first evaluation adds val_loss, ...) and on a process's first write (a resume), which also drops a
partial line a crash left.
"""
from __future__ import annotations

import csv
import numbers
import os
from pathlib import Path
from typing import Callable

LEAD_COLUMNS = ("type", "step", "epoch", "time")


def csv_row(record: dict) -> dict[str, str]:
    """The record's plain values as cells; None becomes an empty cell, lists and dicts are left out."""
    row = {}
    for key, value in record.items():
        if value is None:
            row[key] = ""
        elif isinstance(value, bool):
            row[key] = "true" if value else "false"
        elif isinstance(value, numbers.Integral):
            row[key] = str(int(value))
        elif isinstance(value, numbers.Real):
            row[key] = repr(float(value))          # the shortest text that reads back as the same float
        elif isinstance(value, str):
            row[key] = value
    return row


def table_columns(rows: list[dict[str, str]]) -> list[str]:
    """LEAD_COLUMNS that occur, then every other column in the order it first occurs."""
    seen = dict.fromkeys(key for row in rows for key in row)
    return [c for c in LEAD_COLUMNS if c in seen] + [c for c in seen if c not in LEAD_COLUMNS]


class MetricsCsv:
    """Keeps path in step with a metrics.jsonl; `read_records()` returns that file's records."""

    def __init__(self, path: Path | str, read_records: Callable[[], list[dict]]):
        self.path = Path(path)
        self.read_records = read_records
        self.columns: list[str] | None = None        # None: not written by this process yet

    def append(self, record: dict) -> None:
        """Add the record just appended to metrics.jsonl."""
        row = csv_row(record)
        if self.columns is None or not row.keys() <= set(self.columns):
            self.rebuild()
            return
        with open(self.path, "a", newline="", encoding="utf-8", errors="surrogateescape") as handle:
            csv.DictWriter(handle, self.columns, restval="").writerow(row)

    def rebuild(self) -> None:
        """Write the whole table from metrics.jsonl and swap it in atomically."""
        rows = [csv_row(record) for record in self.read_records()]
        columns = table_columns(rows)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
            writer = csv.DictWriter(handle, columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        # no fsync, like metrics.jsonl: the table is derived, and rebuilt from the jsonl by the next writer
        os.replace(temporary, self.path)
        self.columns = columns
