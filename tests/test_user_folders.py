"""The user's folders (trainer/user_folders.py): today's Linux places, the environment's overrides, one definition
used by the caches and the Train tab."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainer.data.derived import cache_root
from trainer.user_folders import cache_folder, runs_folder

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux locations")


@linux_only
def test_linux_keeps_its_places(monkeypatch, tmp_path):
    monkeypatch.delenv("VAE_EXPLORER_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("XDG_DOCUMENTS_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))       # no user-dirs.dirs there
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_folder() == tmp_path / ".cache" / "vae-face-explorer"
    assert runs_folder() == tmp_path / "Documents" / "VAE Face Explorer" / "runs"


@linux_only
def test_the_xdg_variables_move_the_folders(monkeypatch, tmp_path):
    monkeypatch.delenv("VAE_EXPLORER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Dokumente"))
    assert cache_folder() == tmp_path / "xdg-cache" / "vae-face-explorer"
    assert runs_folder() == tmp_path / "Dokumente" / "VAE Face Explorer" / "runs"


def test_vae_explorer_cache_wins_and_every_cache_uses_the_one_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine" == cache_root()
    from trainer.data.datasets import default_cache_dir
    assert default_cache_dir() == tmp_path / "mine" / "datasets"


def test_the_train_tab_saves_runs_in_the_runs_folder(monkeypatch, tmp_path):
    from vae_gui.training.setup_form import default_runs_dir

    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "docs"))
    assert Path(default_runs_dir()) == runs_folder()
