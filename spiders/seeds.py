"""Reading and checking what a crawl is given: seed files and proxy URLs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def read_seeds_file(path: str | Path) -> list[str]:
    """One seed (domain or URL) per line; blank lines and `#` comments are skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def check_proxy_url(url: str) -> None:
    """Raise ValueError (one line) unless `url` is an http:// proxy with a host and port."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"proxy must look like http://HOST:PORT, not {url!r}")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"proxy {url!r} has an invalid port") from None
