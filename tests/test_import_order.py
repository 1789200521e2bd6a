"""No import circles in the core: every trainer module imports on its own, as the first trainer module of a fresh
interpreter. A circle between two modules' top-level imports fails ("partially initialized module") when one of
them is imported first, whichever the rest of the program happens to import first."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Third-party libraries are imported once; each module is then imported alone in a forked child, so each child
# starts with no trainer module loaded (a fresh interpreter per module would take minutes).
CHECK = r"""
import importlib, json, os, sys, traceback
from pathlib import Path
import numpy, torch, PIL.Image, scipy, sklearn

root = Path("trainer")
names = sorted(".".join(path.with_suffix("").parts).removesuffix(".__init__") for path in root.rglob("*.py")
               if path.name != "__main__.py")
failed = {}
for name in names:
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        try:
            assert not any(m == "trainer" or m.startswith("trainer.") for m in sys.modules)
            importlib.import_module(name)
            os._exit(0)
        except BaseException:
            os.write(writer, traceback.format_exc(limit=-3).encode()[-2000:])
            os._exit(1)
    os.close(writer)
    message = os.read(reader, 4096).decode(errors="replace")
    os.close(reader)
    _, status = os.waitpid(child, 0)
    if status != 0:
        failed[name] = message
print(json.dumps({"checked": len(names), "failed": failed}))
"""


@pytest.mark.slow
def test_every_trainer_module_imports_alone() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["checked"] > 50
    assert report["failed"] == {}, "\n".join(f"{name}:\n{error}" for name, error in report["failed"].items())
