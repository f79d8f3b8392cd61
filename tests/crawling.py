"""Running `panelmap crawl` against the sandbox from tests."""

from __future__ import annotations

import subprocess
import sys


def crawl_command(database_url: str, warc_dir, sandbox, seeds: list[str], *extra: str) -> list[str]:
    """`panelmap crawl` of `seeds` through the sandbox, with short limits so hostile sites end fast."""
    return [
        sys.executable, "-m", "panelmap", "-vv", "--db", database_url, "crawl", *seeds,
        "--proxy", sandbox.proxy_url, "--warc-dir", str(warc_dir), "--download-timeout", "5", "--retries", "1",
        *extra,
    ]


def run_crawl(*args, **kwargs):
    """Run `crawl_command` to completion (Scrapy's reactor runs once per process, so each crawl
    is its own process) and return the finished process."""
    result = subprocess.run(crawl_command(*args, **kwargs), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result
