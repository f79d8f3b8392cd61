"""Finding the Chromium that Playwright drives: the system's first, as scripts/ensure-chromium.sh installs it."""

from __future__ import annotations

import shutil

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags for a closed network: without them Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-quic", "--disable-gpu", "--no-sandbox",
]


def find_chromium(configured: str | None = None) -> str | None:
    """The Chromium executable to use: the configured one, else the first on PATH, else None
    (Playwright's own browser, if `playwright install chromium` was run)."""
    if configured:
        return configured
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None
