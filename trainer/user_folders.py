"""Where the app keeps the user's things, per operating system: the one definition of each folder.

- cache: decoded data sets (datasets/) and results derived from checkpoints (derived/). `$VAE_EXPLORER_CACHE`
  wins; else the OS's cache folder: `$XDG_CACHE_HOME/vae-face-explorer` or `~/.cache/vae-face-explorer` on Linux,
  `~/Library/Caches/vae-face-explorer` on macOS, `%LOCALAPPDATA%\\vae-face-explorer\\Cache` on Windows.
- runs: where the app's Train tab saves runs unless the user picks another folder (the command line uses `runs/`
  under the current folder): `VAE Face Explorer/runs` in the user's Documents folder (`$XDG_DOCUMENTS_DIR` or
  `~/Documents` on Linux).
- settings: the app's remembered values are Qt's QSettings under the organization and application names that
  vae_gui/app.py gives (`~/.config/VAE Face Explorer/VAE Face Explorer.conf` on Linux, honouring
  `$XDG_CONFIG_HOME`; the macOS preferences and the Windows registry elsewhere). Nothing here imports Qt.
platformdirs knows each OS's conventions (and the XDG variables), so none of that is written out here.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_FOLDER = "vae-face-explorer"          # the cache folder's name
DOCUMENTS_FOLDER = "VAE Face Explorer"    # the folder in Documents, named as the user sees the app
CACHE_OVERRIDE = "VAE_EXPLORER_CACHE"


def cache_folder() -> Path:
    """The app's cache folder (see the module docstring); read at each call, so the override applies at once."""
    override = os.environ.get(CACHE_OVERRIDE)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir(APP_FOLDER, appauthor=False))


def runs_folder() -> Path:
    """The default folder of the app's training runs."""
    return Path(platformdirs.user_documents_dir()) / DOCUMENTS_FOLDER / "runs"
