"""The runner over the generated world: DNS before the rest, bounded concurrency, one failing
enricher on one site stopping nothing, and a second pass over a run changing nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from enrich_support import crawl_like_the_spider, enrich, new_run, sandbox_settings, world_truth
from panelmap.enrich.base import Enricher, SiteTarget
from panelmap.enrich.dns import DnsEnricher, addresses_of
from panelmap.enrich.runner import ALL_ENRICHERS
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database
from panelmap.storage.models import (
    AddressObservation,
    CertificateObservation,
    DnsObservation,
    Fingerprint,
    IpAddress,
    Network,
    PaymentEndpoint,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(generate_world(seed=1), tmp_path_factory.mktemp("world")) as box:
        yield box


def row_counts(database: Database, run_id: int) -> dict[str, int]:
    counts = {}
    with database.session() as session:
        for model in (DnsObservation, AddressObservation, CertificateObservation, Fingerprint, PaymentEndpoint):
            counts[model.__name__] = session.execute(
                select(func.count()).select_from(model).where(model.run_id == run_id)).scalar()
        counts["Network"] = session.execute(select(func.count()).select_from(Network)).scalar()
        counts["linked addresses"] = session.execute(
            select(func.count()).select_from(IpAddress).where(IpAddress.network_id.is_not(None))).scalar()
    return counts


def test_world_with_its_hostile_corners_enriches_cleanly_and_again_identically(world: Sandbox, database: Database,
                                                                                 tmp_path: Path) -> None:
    truth = world_truth(world)
    # The hostile corners (each enricher's file covers every ordinary site) plus a few panels. The
    # trickling site is left to the fingerprints tests: its favicon takes the whole HTTP timeout.
    hostile = [d for d, site in truth.items() if site["role"] == "hostile" and d != "slowfollowers.net"]
    domains = hostile + [d for d, site in truth.items() if site["role"] != "hostile"][:5]
    run_id = new_run(database)
    crawl_like_the_spider(database, run_id, world, domains, tmp_path)
    settings = sandbox_settings(world)
    stats = enrich(database, run_id, domains, settings, tmp_path)
    assert stats.failures == []
    assert stats.sites == len(domains) and set(stats.observations) == {cls.name for cls in ALL_ENRICHERS}
    assert stats.counters["registration_unavailable"] == len(domains)  # the sandbox RDAP serves no domains
    # megapanel-bulk.com's endless body, compactsmm.net's bomb: both over the 1 MiB an icon may take.
    assert stats.counters["favicon_fetch_failed"] == 2
    first = row_counts(database, run_id)
    assert all(first.values()), first
    again = enrich(database, run_id, domains, settings, tmp_path)
    assert again.failures == [] and row_counts(database, run_id) == first
    assert again.rdap_ip_queries == 0  # every network was fresh in the database


class Probe(Enricher):
    """Records, per site, whether DNS had stored addresses when it ran, and how many sites
    it was inside of at once; fails on one chosen site."""

    name = "probe"
    fail_on = ""
    saw_addresses: dict[str, bool] = {}
    inside = 0
    most_inside = 0

    async def enrich(self, site: SiteTarget) -> int:
        cls = type(self)
        cls.inside += 1
        cls.most_inside = max(cls.most_inside, cls.inside)
        try:
            with self.session() as session:
                cls.saw_addresses[site.domain] = bool(addresses_of(session, self.run_id, site.site_id))
            await asyncio.sleep(0.3)  # long beside a site's DNS, so that sites overlap here
            if site.domain == cls.fail_on:
                raise RuntimeError("probe failure")
            return 1
        finally:
            cls.inside -= 1


def test_dns_runs_first_concurrency_is_bounded_and_a_failure_is_contained(world: Sandbox, database: Database,
                                                                          tmp_path: Path) -> None:
    domains = [d for d, site in world_truth(world).items() if site["hosting"]][:12]
    Probe.fail_on, Probe.saw_addresses, Probe.most_inside = domains[3], {}, 0
    run_id = new_run(database)
    stats = enrich(database, run_id, domains, replace(sandbox_settings(world), site_concurrency=3), tmp_path,
                   enrichers=[Probe, DnsEnricher])
    assert [(f.domain, f.enricher, f.error) for f in stats.failures] == [(domains[3], "probe", "RuntimeError: probe failure")]
    assert Probe.saw_addresses == {domain: True for domain in domains}
    assert Probe.most_inside == 3
    assert stats.observations == {"dns": stats.observations["dns"], "probe": len(domains) - 1}
    with database.session() as session:
        resolved = session.execute(select(func.count(func.distinct(DnsObservation.site_id)))
                                   .where(DnsObservation.run_id == run_id)).scalar()
    assert resolved == len(domains)
