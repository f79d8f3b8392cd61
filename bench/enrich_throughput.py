"""Enrichment throughput on a large sandbox world: concurrent against one-at-a-time, RDAP
queries against distinct networks, and peak memory.

The sandbox runs in a child process, so its servers neither share this process's
interpreter lock nor count towards its memory. Passes:

1. the lookups alone (DNS questions, TLS handshakes, RDAP queries; nothing stored)
   for a sample of `--sample` sites, one after another, then concurrently;
2. full enrichment (every enricher, every write) of the same sample, one site and
   one lookup at a time, then with the default concurrency;
3. full enrichment of every site of the world, concurrently.

Each enrichment pass has a fresh SQLite database, so none profits from another's
RDAP cache. A lookup is a DNS question, an RDAP request, a TLS handshake or a
favicon fetch. On loopback a lookup takes well under a millisecond, so full
enrichment is bound by its database writes, not by waiting: pass 1 shows what
concurrency buys where waiting is the cost.

    .venv/bin/python bench/enrich_throughput.py [--sites 5000] [--sample 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from panelmap.enrich.base import EnrichmentSettings, EnrichmentStats
from panelmap.enrich.dns import RECORD_TYPES, DnsClient
from panelmap.enrich.http import HttpClient
from panelmap.enrich.rdap import RdapClient
from panelmap.enrich.runner import enrich_sites
from panelmap.enrich.tls import ChainGrabber
from panelmap.storage import Database, WarcFileWriter
from panelmap.storage.models import CrawlRun


def serve_world(seed: int, sites: int, workdir: str, channel: Connection) -> None:
    """Child process: generate and serve the world; answer "counts" and "stop" on `channel`."""
    from panelmap.sandbox.generate import generate_world
    from panelmap.sandbox.server import Sandbox

    world = generate_world(seed=seed, sites=sites)
    served = [domain for domain, site in world.ground_truth["sites"].items() if site["served"]]
    with Sandbox(world, workdir) as sb:
        channel.send({"proxy_url": sb.proxy_url, "dns": f"{sb.dns_address[0]}:{sb.dns_address[1]}",
                      "rdap_url": sb.rdap_url, "ca_bundle": str(sb.ca_bundle), "domains": served})
        while (command := channel.recv()) != "stop":
            if command == "counts":
                channel.send(sb.rdap.counts)
            elif command == "reset":
                sb.rdap.reset_counts()
                channel.send(None)


def one_pass(directory: Path, name: str, domains: list[str], settings: EnrichmentSettings) -> EnrichmentStats:
    database = Database.open(f"sqlite:///{directory / name}.db")
    database.upgrade()
    with database.session() as session:
        run = CrawlRun(job_name=f"bench-{name}")
        session.add(run)
        session.flush()
        run_id = run.id
    with WarcFileWriter(directory / name, "enrich") as writer:
        stats = enrich_sites(database, run_id, domains, settings, writer)
    database.dispose()
    return stats


def rate(stats: EnrichmentStats) -> float:
    return stats.lookups / stats.elapsed if stats.elapsed else 0.0


async def lookups_only(settings: EnrichmentSettings, domains: list[str], concurrent: bool) -> tuple[int, float]:
    """(lookups, seconds) for the DNS questions, TLS handshakes and RDAP queries of `domains`."""
    slots = asyncio.Semaphore(settings.concurrency if concurrent else 1)
    dns = DnsClient(settings.resolver, timeout=settings.dns_timeout, attempts=settings.dns_attempts, slots=slots)
    http = HttpClient(settings.proxy_url, ca_bundle=str(settings.ca_bundle), timeout=settings.http_timeout,
                      user_agent=settings.user_agent, slots=slots)
    tls = ChainGrabber(http, str(settings.ca_bundle), settings.tls_timeout, slots)
    rdap = RdapClient(http, settings)
    addresses = [(await dns.query(domain, "A")).records()[0] for domain in domains]
    jobs: list[Callable[[], Awaitable[object]]] = [
        lambda host=host, rtype=rtype: dns.query(host, rtype)
        for domain in domains for host in (domain, f"www.{domain}") for rtype in RECORD_TYPES
    ]
    jobs += [lambda domain=domain: tls.grab(domain) for domain in domains]
    jobs += [lambda address=found[0]: rdap.fetch(rdap.ip_url(address, None), "default")
             for found in addresses if found]
    started = time.monotonic()
    if concurrent:
        await asyncio.gather(*(job() for job in jobs))
    else:
        for job in jobs:
            await job()
    return len(jobs), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=5000, help="panel sites in the generated world")
    parser.add_argument("--sample", type=int, default=100, help="sites in the sequential/concurrent comparison")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    with tempfile.TemporaryDirectory(prefix="panelmap-bench-") as work:
        directory = Path(work)
        started = time.monotonic()
        child = context.Process(target=serve_world, args=(args.seed, args.sites, str(directory / "sandbox"), theirs))
        child.start()
        try:
            sandbox: dict[str, Any] = ours.recv()
            print(f"sandbox: {args.sites} sites generated and served in {time.monotonic() - started:.1f} s")
            domains: list[str] = sandbox["domains"]
            settings = EnrichmentSettings(resolver=sandbox["dns"], rdap_url=sandbox["rdap_url"],
                                          proxy_url=sandbox["proxy_url"], ca_bundle=sandbox["ca_bundle"],
                                          rdap_rates={"default": 200.0}, http_timeout=5.0)
            sample = domains[:args.sample]

            print(f"\nsample of {len(sample)} sites, lookups only (nothing stored):")
            lookup_rates: dict[bool, float] = {}
            for label, concurrent in (("one at a time", False), ("concurrent", True)):
                count, seconds = asyncio.run(lookups_only(settings, sample, concurrent))
                lookup_rates[concurrent] = count / seconds
                print(f"  {label:14} {count:6d} lookups in {seconds:7.2f} s = {count / seconds:8.1f} lookups/s")
            print(f"  speed-up       {lookup_rates[True] / lookup_rates[False]:.1f}x")

            sequential = one_pass(directory, "sequential", sample, replace(settings, concurrency=1, site_concurrency=1))
            concurrent = one_pass(directory, "concurrent", sample, settings)
            print(f"\nsample of {len(sample)} sites, full enrichment (all enrichers, every write):")
            for label, stats in (("one at a time", sequential), ("concurrent", concurrent)):
                print(f"  {label:14} {stats.lookups:6d} lookups in {stats.elapsed:7.2f} s = {rate(stats):8.1f} lookups/s"
                      f"  ({len(sample) / stats.elapsed:6.1f} sites/s, {len(stats.failures)} enricher failures)")
            print(f"  speed-up       {rate(concurrent) / rate(sequential):.1f}x")

            ours.send("reset")
            ours.recv()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            full = one_pass(directory, "full", domains, settings)
            ours.send("counts")
            served = ours.recv()
            print(f"\nall {len(domains)} sites, concurrent (concurrency {settings.concurrency}, "
                  f"{settings.site_concurrency} sites at once):")
            print(f"  {full.lookups} lookups in {full.elapsed:.1f} s = {rate(full):.1f} lookups/s, "
                  f"{len(domains) / full.elapsed:.1f} sites/s")
            print(f"  DNS questions {full.dns_queries}, TLS handshakes {full.counters['tls_handshakes']}, "
                  f"favicon fetches {full.counters['favicon_fetches']}, RDAP requests {full.rdap_requests}")
            print(f"  RDAP IP queries {full.rdap_ip_queries} (server counted {served.get('ip', 0)}) for "
                  f"{len(full.networks)} distinct networks; {full.rdap_cache_hits} answered from the cache")
            print(f"  enricher failures {len(full.failures)}: "
                  + (", ".join(sorted({f'{f.enricher} on {f.domain}' for f in full.failures})[:8]) or "none"))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
            print(f"\npeak resident memory of the enriching process: {peak / 1024:.0f} MiB "
                  f"({before / 1024:.0f} MiB before the full pass; the sandbox runs in a separate process)")
            ok = full.rdap_ip_queries <= len(full.networks)
            print(f"RDAP queries <= distinct networks: {'yes' if ok else 'NO'}")
        finally:
            ours.send("stop")
            child.join(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
