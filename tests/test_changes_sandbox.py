"""Two real crawls of a sandbox world that changes in between (epoch 1, then epoch 2) find
exactly the changes the world's ground truth lists, and nothing else."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from crawling import run_crawl
from sqlalchemy import func, select

from panelmap.changes import list_changes, record_changes
from panelmap.enrich.base import EnrichmentSettings
from panelmap.enrich.dns import DnsEnricher
from panelmap.enrich.hosting import HostingEnricher
from panelmap.enrich.payments import PaymentsEnricher
from panelmap.enrich.runner import enrich_sites
from panelmap.enrich.tls import TlsEnricher
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.secrets import write_secrets_file
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database, SecretRedactor, WarcFileWriter
from panelmap.storage.models import CrawlRun, DnsObservation, PaymentEndpoint

# A reseller that moves hoster, a reseller that loses a service, their upstream; and, in epoch 2,
# the new reseller the first one links to.
SITES = ["fansstore-smm.shop", "bestmedia.online", "fivebbc.com"]
NEWCOMER = "viralzone-hq.net"
FAST_RDAP = {"default": 1000.0, "ripencc": 1000.0, "arin": 1000.0, "domain": 1000.0}


def crawl_epoch(epoch: int, seeds: list[str], database: Database, workdir: Path) -> tuple[int, dict[str, Any]]:
    """Serve the world at `epoch`, crawl and enrich `seeds`; the run id and the sandbox's ground truth."""
    world = generate_world(seed=1, epoch=epoch)
    secrets = write_secrets_file(world, workdir / f"secrets-{epoch}.toml")
    with Sandbox(world, workdir / f"sandbox-{epoch}") as sandbox:
        url = database.engine.url.render_as_string(hide_password=False)
        run_crawl(url, workdir / "captures", sandbox, seeds, "--secrets", str(secrets), "--render", "never")
        with database.session() as session:
            run_id = session.scalar(select(func.max(CrawlRun.id)))
        host, port = sandbox.dns_address
        settings = EnrichmentSettings(resolver=f"{host}:{port}", rdap_url=sandbox.rdap_url, proxy_url=sandbox.proxy_url,
                                      ca_bundle=sandbox.ca_bundle, rdap_rates=FAST_RDAP)
        cookies = [value.split("=", 1)[-1] for site in world.secrets.values() for value in site.values()]
        with WarcFileWriter(workdir / f"enrich-{epoch}", "enrich", redactor=SecretRedactor(cookies)) as warc:
            stats = enrich_sites(database, run_id, seeds, settings, warc,
                                 enrichers=(DnsEnricher, HostingEnricher, TlsEnricher, PaymentsEnricher))
        assert not stats.failures, stats.failures
        return run_id, json.loads(sandbox.ground_truth_path.read_text())


def expected_changes(before: dict[str, Any], after: dict[str, Any], crawled: set[str]) -> dict[tuple, Any]:
    """(kind, change, site, subject) -> (old, new) for what the world changed, in our vocabulary."""
    expected: dict[tuple, Any] = {}
    for change in after["changes"]:
        domain = change["domain"]
        if domain not in crawled:
            continue
        if change["kind"] == "price":
            expected[("price", "changed", domain, str(change["service_id"]))] = (
                Decimal(change["old_rate"]), Decimal(change["new_rate"]))
        elif change["kind"] in ("added", "removed"):
            expected[("service", change["kind"], domain, str(change["service_id"]))] = None
        elif change["kind"] == "move_ip":
            old, new = change["old"], change["new"]
            expected[("infra", "changed", domain, "ip")] = (sorted(old["ipv4"] + old["ipv6"]),
                                                          sorted(new["ipv4"] + new["ipv6"]))
            expected[("infra", "changed", domain, "asn")] = (sorted(n["asn"] for n in old["networks"]),
                                                           sorted(n["asn"] for n in new["networks"]))
        elif change["kind"] == "new_site":
            expected[("site", "new", domain, "")] = None
    # Each sandbox mints its certificates at start, so every host's certificate changed too.
    for domain in crawled - {NEWCOMER}:
        for host in (domain, f"www.{domain}"):
            old, new = before["certificates"].get(host), after["certificates"].get(host)
            if old and new and old["sha256"] != new["sha256"]:
                expected[("certificate", "changed", domain, host)] = (old["sha256"], new["sha256"])
    return expected


def found_changes(database: Database, run_id: int) -> dict[tuple, Any]:
    with database.session() as session:
        rows = list_changes(session, run_id=run_id)
    found: dict[tuple, Any] = {}
    for row in rows:
        key = (row["kind"], row["change"], row["site"], row["subject"])
        if row["kind"] == "price":
            found[key] = (Decimal(row["old"]["rate"]), Decimal(row["new"]["rate"]))
        elif row["kind"] == "infra":
            found[key] = (row["old"], row["new"])
        elif row["kind"] == "certificate":
            found[key] = (row["old"]["sha256"], row["new"]["sha256"])
        else:
            found[key] = None
    return found


@pytest.mark.timeout(300)
def test_two_crawls_of_a_changing_world_find_exactly_the_expected_changes(tmp_path: Path) -> None:
    database = Database.open(f"sqlite:///{tmp_path / 'panelmap.db'}")
    first_run, before = crawl_epoch(1, SITES, database, tmp_path)
    with database.session() as session:
        first = record_changes(session, first_run)
    assert sorted((change.kind, change.change) for change in first) == [("site", "new")] * len(SITES)

    second_run, after = crawl_epoch(2, [*SITES, NEWCOMER], database, tmp_path)
    with database.session() as session:
        record_changes(session, second_run)
    expected = expected_changes(before, after, {*SITES, NEWCOMER})
    found = found_changes(database, second_run)
    assert {key[0] for key in expected} == {"price", "service", "infra", "site", "certificate"}
    missing = {key: value for key, value in expected.items() if found.get(key) != value}
    unexpected = {key: value for key, value in found.items() if key not in expected}
    assert not missing and not unexpected, f"missing {missing}\nunexpected {unexpected}"
    with database.session() as session:  # no payment or name-server change because both runs saw the same ones
        for model in (PaymentEndpoint, DnsObservation):
            for run_id in (first_run, second_run):
                assert session.scalar(select(func.count()).select_from(model).where(model.run_id == run_id))
    database.dispose()
