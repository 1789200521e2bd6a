"""What this project is as an installed package: its version (the one source the build reads), its distribution
name, and the one install command for an optional extra that every hint prints."""
from __future__ import annotations

__version__ = "0.1.0"
DISTRIBUTION = "vae-face-explorer"


def install_command(extra: str) -> str:
    """The command that adds an optional extra to an installed app (from PyPI, a wheel or a checkout alike: pip
    keeps the installed package and adds the extra's dependencies)."""
    return f'pip install "{DISTRIBUTION}[{extra}]"'
