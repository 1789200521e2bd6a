"""The project as a package: a wheel installed (not editable) into a fresh environment works from any folder, the
build writes nothing into the source tree, the sdist carries its tests and they run from it, and the conventions of
both commands (--version, --help without torch, Qt's options, python -m vae_gui).

Installing torch into a fresh environment costs a minute and gigabytes, so the wheel goes in with --no-deps and the
new environment sees this test environment's packages through a .pth file; the project's own packages must come
from the wheel only, which the test checks (trainer.__file__ inside the new environment)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

import trainer
from trainer.package import __version__, install_command

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", "build", "dist",
                                    "runs", "report")

# Run by the installed environment's Python, from a folder outside the source tree.
INSTALLED_CHECK = r"""
import json, sys
from importlib import metadata
import trainer, vae_gui
import trainer.cli.commands
from trainer.package import __version__
from trainer.resources import default_checkpoint, experiments_file
print(json.dumps({"trainer": trainer.__file__, "vae_gui": vae_gui.__file__, "checkpoint": str(default_checkpoint()),
                  "experiments": str(experiments_file()), "version": __version__,
                  "metadata_version": metadata.version("vae-face-explorer"),
                  "torch_for_the_parser": "torch" in sys.modules}))
"""

# Opens the app as `vae-explorer -style fusion` would, offscreen; once the event loop turns, reports the main window
# and saves it as a PNG (argv[1]).
WINDOW_CHECK = r"""
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from vae_gui.app import main
from vae_gui.main_window import MainWindow

def report():
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
    state = window.explorer_panel.state
    window.grab().save(sys.argv[1])
    print(json.dumps({"title": window.windowTitle(), "tab": window.tabs.tabText(window.tabs.currentIndex()),
                      "checkpoint": str(state.checkpoint.path) if state.checkpoint else None,
                      "style": QApplication.style().name(), "status": window.statusBar().currentMessage()}))
    window.close()

exec_loop = QApplication.exec
QApplication.exec = lambda self: (QTimer.singleShot(0, report), exec_loop())[1]
sys.exit(main(["-style", "fusion"]))
"""


def run(command: list[str], cwd: Path, **options) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, **options)


def file_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the source tree, which the build must leave exactly as it was."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    before = file_state(source)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
                 str(source)], cwd=root)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "deprecat" not in (built.stdout + built.stderr).lower(), built.stdout + built.stderr
    assert file_state(source) == before, "building the wheel wrote into the source tree"
    (path,) = (root / "dist").glob("*.whl")
    assert path.name == f"vae_face_explorer-{__version__}-py3-none-any.whl"
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed (no -e, no dependencies); returns its folder."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=venv).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test_environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    done = run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                str(wheel)], cwd=venv.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    folder = tmp_path / "somewhere else"
    folder.mkdir()
    return folder


def test_the_installed_package_finds_its_files_through_itself_from_any_folder(installed, elsewhere):
    done = run([str(installed / "bin" / "python"), "-c", INSTALLED_CHECK], cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("trainer", "vae_gui", "checkpoint", "experiments"):
        assert Path(found[key]).is_relative_to(installed), f"{key} came from {found[key]}, not the wheel"
    assert Path(found["checkpoint"]).name == "default_vae.pt" and Path(found["experiments"]).is_file()
    assert found["version"] == found["metadata_version"] == __version__
    assert not found["torch_for_the_parser"]


def test_both_installed_commands_say_their_version_and_the_help_names_no_checkout_path(installed, elsewhere):
    for command in ("vae-train", "vae-explorer"):
        done = run([str(installed / "bin" / command), "--version"], cwd=elsewhere)
        assert (done.returncode, done.stdout.strip()) == (0, f"{command} {__version__}"), done.stderr
    helps = run([str(installed / "bin" / "vae-train"), "experiments", "--help"], cwd=elsewhere)
    assert helps.returncode == 0 and "resources/" not in helps.stdout
    assert "original study's list" in helps.stdout


def test_installed_vae_train_experiments_without_a_file_uses_the_shipped_list(installed, elsewhere):
    done = run([str(installed / "bin" / "vae-train"), "experiments", "--only", "no_such_run"], cwd=elsewhere)
    assert done.returncode == 2, done.stderr
    assert "no experiment named no_such_run" in done.stderr and "vae_01_sigma0.5" in done.stderr
    assert str(installed) in done.stderr            # the file it read is the installed one
    assert not (elsewhere / "runs").exists()


def test_the_installed_app_opens_on_the_bundled_model_with_qt_options(installed, elsewhere, tmp_path):
    png = tmp_path / "window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = run([str(installed / "bin" / "python"), "-c", WINDOW_CHECK, str(png)], cwd=elsewhere, env=env)
    assert done.returncode == 0, done.stderr
    window = json.loads(done.stdout.strip().splitlines()[-1])
    assert window["title"] == "default_vae.pt — VAE Face Explorer"
    assert window["tab"] == "Explore" and Path(window["checkpoint"]).is_relative_to(installed)
    assert window["style"].lower() == "fusion"          # Qt's own option reached QApplication
    assert png.stat().st_size > 10_000


def test_python_m_vae_gui_is_the_app(elsewhere):
    done = run([sys.executable, "-m", "vae_gui", "--version"], cwd=REPO)
    assert (done.returncode, done.stdout.strip()) == (0, f"vae-explorer {__version__}"), done.stderr
    done = run([sys.executable, "-m", "vae_gui", "--no-such-option"], cwd=REPO,
               env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 2 and "unrecognized arguments: --no-such-option" in done.stderr


def test_vae_train_help_imports_no_torch():
    check = "import sys; from trainer.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
            "sys.stderr.write(str('torch' in sys.modules))"
    done = run([sys.executable, "-c", check], cwd=REPO)
    assert "usage: vae-train" in done.stdout and done.stderr.strip() == "False"


def test_the_sdist_carries_the_tests_and_their_data_and_they_run_from_it(tmp_path):
    built = run([sys.executable, "-c", f"from hatchling.build import build_sdist; print(build_sdist({str(tmp_path)!r}))"],
                cwd=REPO)
    assert built.returncode == 0, built.stderr
    sdist = tmp_path / built.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        archive.extractall(tmp_path / "unpacked", filter="data")
    for needed in ("LICENSE", "README.md", "pyproject.toml", "resources/README.md", "trainer/resources/default_vae.pt",
                   "trainer/resources/experiments.toml", "tests/conftest.py", "tests/imagefiles.py",
                   "tests/qt_doubles.py", "main.py"):
        assert needed in names, f"the sdist lacks {needed}"
    assert not any("__pycache__" in name or name.startswith(".venv") for name in names)
    root = tmp_path / "unpacked" / sdist.name.removesuffix(".tar.gz")
    tests = ["tests/test_packaging.py::test_the_tests_import_the_code_beside_them",
             "tests/test_experiments.py::test_shipped_experiment_list_maps_the_original_study",
             "tests/test_bundled_checkpoint.py"]
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "error" not in done.stdout.lower()


def test_the_tests_import_the_code_beside_them():
    """Wherever the tests run (the repository, an unpacked sdist), they test the code in the same tree."""
    assert Path(trainer.__file__).resolve().is_relative_to(Path(__file__).resolve().parents[1])


def test_the_version_is_the_packages_and_hints_are_for_a_package_install():
    assert install_command("faces") == 'pip install "vae-face-explorer[faces]"'
    from trainer.evaluation.face_metrics import INSTALL_HINT as faces_hint
    from trainer.training.tensorboard_sink import INSTALL_HINT as tensorboard_hint
    assert install_command("faces") in faces_hint and install_command("tensorboard") in tensorboard_hint
    for folder in ("trainer", "vae_gui"):
        for path in (REPO / folder).rglob("*.py"):
            assert "pip install -e" not in path.read_text(encoding="utf-8"), f"{path}: a checkout-only hint"
    extras = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for extra in ("faces", "tensorboard", "onnx", "test"):
        assert f"\n{extra} = [" in extras
