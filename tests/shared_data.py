"""The real price lists of the smmpanels study, which live in the project's shared folder
beside the repository (`../shared/data/smmpanels`), or wherever PANELMAP_SMMPANELS says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SMMPANELS = Path(os.environ.get(
    "PANELMAP_SMMPANELS", Path(__file__).resolve().parents[2] / "shared" / "data" / "smmpanels"
))


def require(path: Path) -> Path:
    """`path`, or a skip saying why: the sample lives outside the repository.
    Under CI=true a missing sample fails instead, so that it is never silently untested."""
    if path.is_dir():
        return path
    message = f"{path} is absent (the smmpanels sample lives outside the repository; set PANELMAP_SMMPANELS)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI=true requires it", pytrace=False)
    pytest.skip(message)
