"""Running `panelmap crawl` against the sandbox from tests."""

from __future__ import annotations

import subprocess
import sys


def crawl_command(database_url: str, warc_dir, sandbox, seeds: list[str], *extra: str) -> list[str]:
    """`panelmap crawl` of `seeds` through the sandbox, with short limits so hostile sites end fast.
    Enrichment asks the sandbox's DNS and RDAP servers: nothing leaves loopback."""
    return [
        sys.executable, "-m", "panelmap", "-vv", "--db", database_url, "crawl", *seeds,
        "--proxy", sandbox.proxy_url, "--warc-dir", str(warc_dir), "--download-timeout", "5", "--retries", "1",
        *enrichment_arguments(sandbox), *extra,
    ]


def enrichment_arguments(sandbox) -> list[str]:
    """Where enrichment lookups go: the sandbox's resolver, RDAP server and CA."""
    host, port = sandbox.dns_address
    return ["--dns", f"{host}:{port}", "--rdap", sandbox.rdap_url, "--ca-bundle", str(sandbox.ca_bundle)]


def run_crawl(*args, **kwargs):
    """Run `crawl_command` to completion (Scrapy's reactor runs once per process, so each crawl
    is its own process) and return the finished process."""
    result = subprocess.run(crawl_command(*args, **kwargs), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result
