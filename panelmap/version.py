"""The version string, with the git commit when panelmap runs from a checkout."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from panelmap import __version__

SOURCE_ROOT = Path(__file__).resolve().parent.parent


@cache
def git_commit() -> str | None:
    """The checkout's commit (with `-dirty` for uncommitted changes), or None outside a checkout."""
    if not (SOURCE_ROOT / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def version_string() -> str:
    commit = git_commit()
    return f"panelmap {__version__}" + (f" (git {commit})" if commit else "")
