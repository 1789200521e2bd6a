"""The ML core never imports Qt: importing every trainer module leaves PySide6, shiboken6 and pyqtgraph unloaded."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter, so modules the test process already imported (pytest-qt loads PySide6) don't count.
CHECK = r"""
import importlib, json, pkgutil, sys
import trainer

imported, failed = [], {}
for info in pkgutil.walk_packages(trainer.__path__, prefix="trainer."):
    if info.name.endswith("__main__"):          # importing it would run the CLI
        continue
    try:
        importlib.import_module(info.name)
        imported.append(info.name)
    except Exception as error:
        failed[info.name] = f"{type(error).__name__}: {error}"
qt = sorted(name for name in sys.modules if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"))
print(json.dumps({"imported": imported, "failed": failed, "qt": qt}))
"""


@pytest.mark.slow
def test_trainer_imports_no_qt() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}, report["failed"]
    for module in ("trainer.training.loop", "trainer.data.datasets", "trainer.models.networks", "trainer.training.checkpoint", "trainer.cli.commands"):
        assert module in report["imported"]
    assert report["qt"] == [], f"trainer imported Qt modules: {report['qt']}"
