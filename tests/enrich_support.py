"""Helpers the enricher tests share: a run to enrich, settings pointing at a sandbox, a
stand-in for the crawl's captures, and a guard that no socket leaves loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from panelmap.enrich.base import EnrichmentSettings, EnrichmentStats
from panelmap.enrich.http import HttpClient
from panelmap.enrich.runner import ALL_ENRICHERS, enrich_sites
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database, SecretRedactor, WarcFileWriter, record_capture, upsert_site
from panelmap.storage.models import CrawlRun

# Fast everywhere: the sandbox answers at once, and a test must not wait on registry politeness.
FAST_RATES = {"default": 1000.0, "arin": 1000.0, "ripencc": 1000.0, "domain": 1000.0}

_CONNECTIONS: list[Any] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _CONNECTIONS is not None and event in ("socket.connect", "socket.sendto"):
        _CONNECTIONS.append(args[1])


sys.addaudithook(_audit)


@contextmanager
def loopback_only() -> Iterator[list[Any]]:
    """Record every socket connect/sendto inside the block and fail if one left 127.0.0.0/8 (or ::1)."""
    global _CONNECTIONS
    _CONNECTIONS = seen = []
    try:
        yield seen
    finally:
        _CONNECTIONS = None
    outside = [address for address in seen
               if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback]
    assert not outside, f"traffic left loopback: {outside}"


def new_run(database: Database) -> int:
    with database.session() as session:
        run = CrawlRun(job_name="enrich-test")
        session.add(run)
        session.flush()
        return run.id


def sandbox_settings(sb: Sandbox, **overrides: Any) -> EnrichmentSettings:
    host, port = sb.dns_address
    settings = EnrichmentSettings(resolver=f"{host}:{port}", rdap_url=sb.rdap_url, proxy_url=sb.proxy_url,
                                  ca_bundle=sb.ca_bundle, rdap_rates=FAST_RATES, dns_timeout=2.0)
    return replace(settings, **overrides)


def enrich(database: Database, run_id: int, domains: Sequence[str], settings: EnrichmentSettings, warc_dir: Path,
           enrichers: Sequence[type] = ALL_ENRICHERS, secrets: Sequence[str] = ()) -> EnrichmentStats:
    with WarcFileWriter(warc_dir, "enrich", redactor=SecretRedactor(secrets)) as writer:
        with loopback_only():
            return enrich_sites(database, run_id, domains, settings, writer, enrichers=enrichers)


def crawl_pages(database: Database, run_id: int, sb: Sandbox, pages: dict[str, list[str]], warc_dir: Path,
                cookies: dict[str, str] | None = None) -> None:
    """Stand in for the crawler: fetch each site's `pages` (paths) through the proxy and
    store them as response captures, the way the spider does."""
    cookies = cookies or {}

    async def fetch_all() -> None:
        client = HttpClient(sb.proxy_url, ca_bundle=str(sb.ca_bundle), timeout=10, user_agent="panelmap-test",
                            slots=asyncio.Semaphore(16))
        jobs = [(domain, path) for domain, paths in pages.items() for path in paths]
        results = await asyncio.gather(*(
            client.get(f"https://{domain}{path}", max_redirects=3, verify=False,
                       headers=[("Cookie", cookies[domain])] if domain in cookies else [])
            for domain, path in jobs
        ))
        secrets = [value.split("=", 1)[-1] for value in cookies.values()]
        with WarcFileWriter(warc_dir, "crawl", redactor=SecretRedactor(secrets)) as writer, database.session() as session:
            for (domain, path), hops in zip(jobs, results, strict=True):
                site_id = upsert_site(session, domain)
                last = hops[-1]
                written = writer.write_response(last.url, last.status, last.reason, last.headers, last.body,
                                                at=last.fetched_at, ip_address=last.peer_ip)
                record_capture(session, run_id, "response", f"https://{domain}{path}", written, site_id=site_id,
                               final_url=last.url, method="GET", http_status=last.status,
                               content_type=last.header("content-type"), fetched_at=last.fetched_at)

    with loopback_only():
        asyncio.run(fetch_all())


def world_truth(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """The generated world's per-site ground truth, served sites only."""
    sites = json.loads(sb.ground_truth_path.read_text())["sites"]
    return {domain: site for domain, site in sites.items() if site["served"]}


def crawl_like_the_spider(database: Database, run_id: int, sb: Sandbox, domains: Sequence[str], warc_dir: Path) -> None:
    """Capture what the crawler would for the enrichers: each panel's home page and its
    add-funds page (signed in with the world's session cookie where it needs one). The
    hostile corners (loops, trickles, bombs) are the crawler's tests, not these."""
    truth = world_truth(sb)
    pages, cookies = {}, {}
    for domain in domains:
        addfunds = truth[domain].get("addfunds")
        if addfunds:
            pages[domain] = ["/", urlsplit(addfunds["url"]).path]
            if addfunds["needs_cookie"]:
                cookies[domain] = sb.world.secrets[domain]["cookie"]
    crawl_pages(database, run_id, sb, pages, warc_dir, cookies=cookies)
