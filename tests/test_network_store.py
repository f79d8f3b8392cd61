"""Links stored as generations on SQLite and PostgreSQL, infrastructure pivots with their
counts and weak marking, and `panelmap network` / `panelmap import prices` as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from test_network_linker import hand_built_world

from panelmap.cli import cli
from panelmap.network.compute import network_graph, recompute
from panelmap.network.pivots import PivotObservation, compute_pivots
from panelmap.network.settings import PivotSettings
from panelmap.network.store import is_stale
from panelmap.storage import Database, record_prices, upsert, upsert_services, upsert_site
from panelmap.storage.models import (
    AddressObservation,
    Certificate,
    CertificateObservation,
    CrawlRun,
    DnsObservation,
    Fingerprint,
    IpAddress,
    Link,
    Network,
    PaymentEndpoint,
    PriceObservation,
    Site,
)

AT = datetime(2024, 6, 15, tzinfo=UTC)
# site -> addresses; seven sites on one CDN-like network and name server host, two sharing more.
INFRA = {
    "r1.test": ["198.51.100.7"], "r3.test": ["198.51.100.7"], "r2.test": ["198.51.100.9"],
    "s1.test": ["203.0.113.5"], "s2.test": ["203.0.113.6"], "s3.test": ["192.0.2.44"], "r4.test": ["192.0.2.45"],
}


def store_world(database: Database) -> dict[str, int]:
    """The hand-built world's catalogues and some infrastructure, through panelmap.storage."""
    site_ids = {}
    with database.session() as session:
        run = CrawlRun(job_name="test", started_at=AT, finished_at=AT, status="finished")
        session.add(run)
        session.flush()
        network = Network(cidr="198.51.0.0/16", asn=13335, asn_description="CLOUDFLARENET")
        session.add(network)
        session.flush()
        for catalogue in hand_built_world():
            site_id = site_ids[catalogue.site] = upsert_site(session, catalogue.site, seen_at=AT)
            ids = upsert_services(session, site_id, [listing.key for listing in catalogue.listings], seen_at=AT)
            record_prices(session, run.id, "html", [
                {"service_id": ids[listing.key], "observed_at": AT, "name": listing.name,
                 "rate": Decimal(str(listing.rate)), "rate_text": str(listing.rate), "currency": "USD",
                 "rate_usd": Decimal(str(listing.rate)), "min_quantity": listing.min, "max_quantity": listing.max}
                for listing in catalogue.listings])
        for domain, addresses in INFRA.items():
            for address in addresses:
                ip_id = upsert(session, IpAddress, {"address": address, "version": 4, "network_id": network.id},
                               conflict=["address"], update=["network_id"])
                session.add(AddressObservation(run_id=run.id, site_id=site_ids[domain], ip_id=ip_id, hostname=domain))
            session.add(DnsObservation(run_id=run.id, site_id=site_ids[domain], qname=domain, rtype="NS",
                                       status="NOERROR", answers=["dns1.cloudns.net."]))
        certificate = Certificate(sha256="ab" * 32, sha1="cd" * 20, serial="01", subject="CN=r1.test",
                                  issuer="CN=CA", not_before=AT, not_after=AT)
        session.add(certificate)
        session.flush()
        for domain in ("r1.test", "r3.test"):
            session.add(CertificateObservation(run_id=run.id, site_id=site_ids[domain], certificate_id=certificate.id,
                                               host=domain, valid=True))
            session.add(PaymentEndpoint(run_id=run.id, site_id=site_ids[domain], processor="payeer",
                                        identifier="1234567", host="payeer.com"))
        for domain in ("s1.test", "s2.test", "s3.test"):
            session.add(Fingerprint(run_id=run.id, site_id=site_ids[domain], kind="tracking_id", value="UA-1234-1"))
        upsert_site(session, "r1.test", tenant_code="abc123")
        upsert_site(session, "r3.test", tenant_code="abc123")
    return site_ids


@pytest.fixture
def stored(database: Database) -> Database:
    store_world(database)
    return database


def test_links_are_stored_as_a_generation_on_both_databases(stored: Database) -> None:
    generation = recompute(stored)
    assert generation.resale_links == 8 and generation.unknown_upstreams == 1
    with stored.session() as session:
        assert not is_stale(session)
        rows = session.scalars(select(Link).where(Link.kind == "resells")).all()
        observation_ids = set(session.scalars(select(PriceObservation.id)))
    by_pair = {(row.source_site_id, row.target_site_id or row.target_cluster): row for row in rows}
    assert len(by_pair) == 8
    cluster_rows = [row for row in rows if row.target_cluster]
    assert {row.target_cluster for row in cluster_rows} == {generation_cluster(rows)}
    assert len(cluster_rows) == 3 and all(row.evidence["cluster"]["members"] == ["s1.test", "s2.test", "s3.test"]
                                          for row in cluster_rows)
    for row in rows:
        assert row.computed_at == generation.computed_at and 0 < row.confidence <= 1
        assert row.matched_services == row.evidence["agreeing"] and row.markup > 1 or row.target_cluster
        assert {pair[1] for pair in row.evidence["observations"]} <= observation_ids  # openable evidence

    second = recompute(stored)  # history: the first generation stays, the newest is current
    graph, fresh = network_graph(stored)
    assert fresh is None and graph["generation"].startswith(second.computed_at.isoformat()[:19])
    with stored.session() as session:
        assert session.execute(select(func.count(func.distinct(Link.computed_at)))).scalar() == 2


def generation_cluster(rows: list[Link]) -> str:
    return next(row.target_cluster for row in rows if row.target_cluster)


def test_pivots_with_counts_and_weak_marking(stored: Database) -> None:
    recompute(stored)
    graph, _ = network_graph(stored)
    pivots = {}
    for edge in graph["edges"]:
        if edge["kind"] != "resells":
            pivots.setdefault(edge["kind"], []).append(edge)
    (ip,) = pivots["shares_ip"]
    assert {ip["source"], ip["target"]} == {"r1.test", "r3.test"}
    assert ip["value"] == "198.51.100.7" and ip["pivot_count"] == 2 and not ip["weak"]
    counts = {edge["value"]: edge["pivot_count"] for edge in pivots["shares_ip24"]}
    assert counts == {"198.51.100.0/24": 3, "203.0.113.0/24": 2, "192.0.2.0/24": 2}
    assert all(edge["weak"] and edge["pivot_count"] == 7 for edge in pivots["shares_asn"] + pivots["shares_ns"])
    assert len(pivots["shares_asn"]) == 21  # 7 sites, every pair
    assert [edge["value"] for edge in pivots["shares_cert"]] == ["ab" * 32]
    assert [edge["value"] for edge in pivots["shares_merchant"]] == ["payeer:1234567"]
    assert [edge["value"] for edge in pivots["shares_tenant_code"]] == ["abc123"]
    assert len(pivots["shares_tracking_id"]) == 3 and pivots["shares_tracking_id"][0]["pivot_count"] == 3
    assert all(len(ids) == 1 for ids in ip["evidence"]["observations"].values())


def test_widely_shared_values_become_one_hub() -> None:
    observations = [PivotObservation(f"site{i}.test", "shares_ns", "ns1.bigdns.example", i) for i in range(30)]
    observations += [PivotObservation("a.test", "shares_ip", "192.0.2.1", 1), PivotObservation("b.test", "shares_ip", "192.0.2.1", 2)]
    edges = compute_pivots(observations, PivotSettings(weak_above=5, hub_above=20))
    hubs = [edge for edge in edges if edge.hub]
    assert len(hubs) == 30 and len({edge.target for edge in hubs}) == 1 and all(edge.weak for edge in hubs)
    (pair,) = [edge for edge in edges if not edge.hub]
    assert (pair.source, pair.target, pair.pivot_count, pair.weak) == ("a.test", "b.test", 2, False)


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_network_command(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'panelmap.db'}"
    database = Database.open(url)
    database.upgrade()
    store_world(database)
    result = _run("--db", url, "network", "--format", "json")
    assert result.exit_code == 0, result.output
    graph = json.loads(result.stdout)
    kinds = {node["id"]: node["kind"] for node in graph["nodes"]}
    assert kinds["root.test"] == "site" and "unknown_upstream" in kinds.values()
    assert {"source", "target", "kind", "confidence"} <= set(graph["edges"][0])
    site = _run("--db", url, "network", "--site", "r3.test")
    assert site.exit_code == 0 and "r1.test" in site.stdout and "root.test" in site.stdout
    missing = _run("--db", url, "network", "--site", "nowhere.test")
    assert missing.exit_code == 2 and missing.stderr.strip() == "Error: no site nowhere.test in the database"


def test_import_prices_from_csv_files(tmp_path) -> None:
    header = ",ID,Service,Rateper1000,Minorder,Maxorder,Description\n"
    upstream = tmp_path / "Upstream"
    reseller = tmp_path / "Reseller"
    upstream.mkdir()
    reseller.mkdir()
    rows_up, rows_down = [header], [header]
    for i in range(12):
        rate = Decimal("0.5") + Decimal(i) / 7
        name = f"Instagram Followers [{i}K] [R30] Service {i}"
        rows_up.append(f'{i},{100 + i},"{name}",{rate:.4f},100,{10000 * (i + 1)},\n')
        rows_down.append(f'{i},{500 + i},"ID {500 + i} - {name}",{(rate * 2).quantize(Decimal("0.01"))},100,{10000 * (i + 1)},\n')
    (upstream / "2020_07_16.csv").write_text("".join(rows_up))
    (reseller / "2020-07-16.csv").write_text("".join(rows_down))
    url = f"sqlite:///{tmp_path / 'import.db'}"
    first = _run("--db", url, "import", "prices", str(tmp_path), "--site", "Upstream=upstream.example")
    again = _run("--db", url, "import", "prices", str(tmp_path), "--site", "Upstream=upstream.example")
    assert first.exit_code == 0 and again.exit_code == 0, first.output
    assert "Imported price lists" in first.stdout
    database = Database.open(url)
    with database.session() as session:
        assert set(session.scalars(select(Site.domain))) == {"upstream.example", "reseller.csv"}
        assert session.execute(select(func.count(PriceObservation.id))).scalar() == 24
        assert session.execute(select(func.count(CrawlRun.id))).scalar() == 1
    graph, _ = network_graph(database)
    (link,) = [edge for edge in graph["edges"] if edge["kind"] == "resells"]
    assert (link["source"], link["target"], link["markup"]) == ("reseller.csv", "upstream.example", "2")
    bad = _run("--db", url, "import", "prices", str(tmp_path / "nothing"))
    assert bad.exit_code == 2 and "does not exist" in bad.stderr
