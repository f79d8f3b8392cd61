"""Running the enrichers over a run's sites: DNS first, then the rest side by side.

Hosting and TLS read the addresses DNS stored, fingerprints its TXT answers, so
DNS runs first for each site; hosting, TLS, fingerprints, payments and
registration then run concurrently, with at most `site_concurrency` sites and
`concurrency` network operations in flight. One enricher failing on one site
is logged and counted and stops nothing else. Every write is an upsert, so
enriching the same run again leaves the same observations (and adds captures:
each lookup is a new fetch, kept as evidence).

    stats = enrich_sites(db, run_id, ["shop.example"], EnrichmentSettings(resolver="127.0.0.1:5353"), warc)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from panelmap.storage import Database, WarcFileWriter, normalise_domain, upsert_site

from .base import Enricher, EnrichmentContext, EnrichmentSettings, EnrichmentStats, SiteTarget
from .dns import DnsClient, DnsEnricher
from .fingerprints import FingerprintsEnricher
from .hosting import HostingEnricher
from .http import HttpClient
from .payments import PaymentsEnricher
from .rdap import RdapClient
from .registration import RegistrationEnricher
from .tls import TlsEnricher

FIRST = (DnsEnricher,)
AFTER_DNS = (HostingEnricher, TlsEnricher, FingerprintsEnricher, PaymentsEnricher, RegistrationEnricher)
ALL_ENRICHERS: tuple[type[Enricher], ...] = FIRST + AFTER_DNS


def build_context(database: Database, run_id: int, settings: EnrichmentSettings,
                  warc_writer: WarcFileWriter) -> EnrichmentContext:
    """The shared clients and counters for one pass; call inside the event loop that will use them."""
    stats = EnrichmentStats()
    lookups = asyncio.Semaphore(settings.concurrency)

    def count_dns() -> None:
        stats.dns_queries += 1

    def count_rdap(status: int) -> None:
        stats.rdap_requests += 1
        if status == 429:
            stats.rdap_rate_limited += 1

    http = HttpClient(settings.proxy_url, ca_bundle=str(settings.ca_bundle) if settings.ca_bundle else None,
                      timeout=settings.http_timeout, user_agent=settings.user_agent, slots=lookups)
    return EnrichmentContext(
        database=database, run_id=run_id, settings=settings, warc=warc_writer,
        dns=DnsClient(settings.resolver, timeout=settings.dns_timeout, attempts=settings.dns_attempts, slots=lookups,
                      on_query=count_dns),
        http=http, rdap=RdapClient(http, settings, on_request=count_rdap), stats=stats, lookups=lookups,
    )


class EnrichmentRunner:
    """Runs `enrichers` (instantiated once per pass, so their caches span all sites) over sites."""

    def __init__(self, context: EnrichmentContext, enrichers: Sequence[type[Enricher]] = ALL_ENRICHERS) -> None:
        self.context = context
        self.first = [cls(context) for cls in enrichers if cls in FIRST]
        self.rest = [cls(context) for cls in enrichers if cls not in FIRST]

    def sites(self, domains: Iterable[str]) -> list[SiteTarget]:
        unique = list(dict.fromkeys(normalise_domain(domain) for domain in domains))
        with self.context.database.session() as session:
            return [SiteTarget(upsert_site(session, domain), domain) for domain in unique]

    async def run(self, domains: Iterable[str]) -> EnrichmentStats:
        started = time.monotonic()
        targets = self.sites(domains)
        slots = asyncio.Semaphore(self.context.settings.site_concurrency)

        async def one_site(site: SiteTarget) -> None:
            async with slots:
                for enricher in self.first:
                    await self._apply(enricher, site)
                await asyncio.gather(*(self._apply(enricher, site) for enricher in self.rest))

        await asyncio.gather(*(one_site(site) for site in targets))
        stats = self.context.stats
        stats.sites += len(targets)
        stats.elapsed += time.monotonic() - started
        return stats

    async def _apply(self, enricher: Enricher, site: SiteTarget) -> None:
        try:
            written = await enricher.enrich(site)  # awaited before the counter is read: no lost update
            self.context.stats.observations[enricher.name] += written
        except Exception as exc:  # one enricher on one site: recorded, never fatal to the pass
            self.context.stats.failed(site.domain, enricher.name, exc)


async def enrich_sites_async(database: Database, run_id: int, domains: Iterable[str], settings: EnrichmentSettings,
                             warc_writer: WarcFileWriter, *,
                             enrichers: Sequence[type[Enricher]] = ALL_ENRICHERS) -> EnrichmentStats:
    """Enrich `domains` for run `run_id` from inside a running event loop (Scrapy's, say)."""
    context = build_context(database, run_id, settings, warc_writer)
    return await EnrichmentRunner(context, enrichers).run(domains)


def enrich_sites(database: Database, run_id: int, domains: Iterable[str], settings: EnrichmentSettings,
                 warc_writer: WarcFileWriter, *,
                 enrichers: Sequence[type[Enricher]] = ALL_ENRICHERS) -> EnrichmentStats:
    """Enrich `domains` for run `run_id`: DNS, hosting, TLS, fingerprints, payments, registration."""
    return asyncio.run(enrich_sites_async(database, run_id, domains, settings, warc_writer, enrichers=enrichers))
