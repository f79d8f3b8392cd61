"""Change detection between crawls, on hand-made observations (both databases), and `panelmap changes`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from panelmap.changes import compare_pending, detect_changes, list_changes, record_changes, summarise
from panelmap.storage import Database, record_price, upsert_service, upsert_site
from panelmap.storage.models import (
    AddressObservation,
    Certificate,
    CertificateObservation,
    CrawlRun,
    DnsObservation,
    IpAddress,
    Link,
    Network,
    PaymentEndpoint,
    SiteChange,
    SiteComparison,
    SiteCrawl,
)

T0 = datetime(2024, 6, 15, 3, 0, tzinfo=UTC)


class Observations:
    """Writes what a crawl (and its enrichment) would have stored, one call per fact."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.runs = 0

    def run(self, *, at: datetime | None = None) -> int:
        self.runs += 1
        at = at or T0 + timedelta(days=self.runs)
        with self.database.session() as session:
            run = CrawlRun(started_at=at, finished_at=at, status="finished")
            session.add(run)
            session.flush()
            return run.id

    def site_id(self, domain: str) -> int:
        with self.database.session() as session:
            return upsert_site(session, domain)

    def crawl(self, run_id: int, domain: str, status: str = "complete", reason: str | None = None) -> int:
        site_id = self.site_id(domain)
        with self.database.session() as session:
            at = session.get_one(CrawlRun, run_id).started_at
            session.add(SiteCrawl(run_id=run_id, site_id=site_id, status=status, reason=reason, started_at=at,
                                  finished_at=at))
        return site_id

    def prices(self, run_id: int, domain: str, catalogue: dict[str, Any], *, source: str = "api",
               platform: str = "spotify", metric: str = "plays") -> None:
        """`catalogue`: service key -> rate, or (rate, currency, rate_usd, min, max)."""
        site_id = self.site_id(domain)
        with self.database.session() as session:
            at = session.get_one(CrawlRun, run_id).started_at
            for key, entry in catalogue.items():
                rate, currency, rate_usd, minimum, maximum = entry if isinstance(entry, tuple) else (
                    entry, "USD", entry, 100, 10000)
                service_id = upsert_service(session, site_id, key, seen_at=at)
                record_price(session, run_id, service_id, source, name=f"Service {key}", category="Spotify",
                             rate=Decimal(rate), rate_text=str(rate), currency=currency,
                             rate_usd=None if rate_usd is None else Decimal(rate_usd), min_quantity=minimum,
                             max_quantity=maximum, observed_at=at, platform=platform, metric=metric)

    def hosting(self, run_id: int, domain: str, addresses: list[str], asn: int | None, ns: list[str]) -> None:
        site_id = self.site_id(domain)
        with self.database.session() as session:
            network_id = None
            if asn is not None:
                network = session.scalar(select(Network).where(Network.asn == asn))
                if network is None:
                    network = Network(cidr=f"10.{asn % 250}.0.0/16", asn=asn, asn_description=f"AS-{asn}")
                    session.add(network)
                    session.flush()
                network_id = network.id
            session.add(DnsObservation(run_id=run_id, site_id=site_id, qname=domain, rtype="A", status="NOERROR",
                                       answers=addresses))
            session.add(DnsObservation(run_id=run_id, site_id=site_id, qname=domain, rtype="NS", status="NOERROR",
                                       answers=[f"{name}." for name in ns]))
            for address in addresses:
                ip = session.scalar(select(IpAddress).where(IpAddress.address == address))
                if ip is None:
                    ip = IpAddress(address=address, version=4, network_id=network_id)
                    session.add(ip)
                    session.flush()
                session.add(AddressObservation(run_id=run_id, site_id=site_id, ip_id=ip.id, hostname=domain))

    def certificate(self, run_id: int, domain: str, sha256: str, *, valid: bool = True) -> None:
        site_id = self.site_id(domain)
        with self.database.session() as session:
            certificate = session.scalar(select(Certificate).where(Certificate.sha256 == sha256))
            if certificate is None:
                certificate = Certificate(sha256=sha256, sha1=sha256[:40], serial="01", subject=f"CN={domain}",
                                          issuer="CN=Test CA", sans=[domain], not_before=T0,
                                          not_after=T0 + timedelta(days=90))
                session.add(certificate)
                session.flush()
            session.add(CertificateObservation(run_id=run_id, site_id=site_id, certificate_id=certificate.id,
                                               host=domain, valid=valid))

    def payment(self, run_id: int, domain: str, processor: str, identifier: str, host: str = "") -> None:
        site_id = self.site_id(domain)
        with self.database.session() as session:
            session.add(PaymentEndpoint(run_id=run_id, site_id=site_id, processor=processor, identifier=identifier,
                                        host=host))

    def link(self, source: str, target: str, confidence: float = 0.9) -> None:
        source_id, target_id = self.site_id(source), self.site_id(target)
        with self.database.session() as session:
            session.add(Link(kind="resells", source_site_id=source_id, target_site_id=target_id,
                             confidence=confidence, markup=Decimal("1.2")))

    def unlink(self, source: str) -> None:
        source_id = self.site_id(source)
        with self.database.session() as session:
            for link in session.scalars(select(Link).where(Link.source_site_id == source_id)):
                session.delete(link)


@pytest.fixture
def observed(database: Database) -> Observations:
    return Observations(database)


def changes_of(database: Database, run_id: int) -> list[tuple[str, str, str]]:
    """(kind, change, subject) of a run's stored changes, sorted."""
    with database.session() as session:
        return sorted((row["kind"], row["change"], row["subject"]) for row in list_changes(session, run_id=run_id))


def recorded(database: Database, run_id: int) -> list[tuple[str, str, str]]:
    with database.session() as session:
        record_changes(session, run_id)
    return changes_of(database, run_id)


def test_prices_services_and_limits_between_two_complete_crawls(database: Database, observed: Observations) -> None:
    first = observed.run()
    observed.crawl(first, "panel.example")
    observed.prices(first, "panel.example", {"1": "1.00", "2": "2.50", "3": "0.90", "4": ("4.00", "EUR", "4.35", 50, 500)})
    second = observed.run()
    observed.crawl(second, "panel.example")
    observed.prices(second, "panel.example", {"1": "1.10", "2": "2.50", "4": ("4.00", "EUR", "4.35", 100, None),
                                             "5": "7.00"})
    assert recorded(database, first) == [("site", "new", "")]
    assert recorded(database, second) == [
        ("price", "changed", "1"), ("service", "added", "5"), ("service", "changed", "4"), ("service", "removed", "3"),
    ]  # unchanged service 2 is not there
    with database.session() as session:
        price = next(row for row in list_changes(session, kind="price"))
    assert (price["old"]["rate"], price["new"]["rate"]) == ("1", "1.1")  # exact decimals, normalised
    assert (price["old"]["rate_text"], price["new"]["rate_text"]) == ("1.00", "1.10")  # as the panel showed them
    assert price["details"]["difference"] == "0.1" and price["details"]["percent"] == "10.00"
    assert price["summary"] == "1 USD -> 1.1 USD (+10.00%)"
    assert price["site"] == "panel.example" and price["previous_run_id"] == first


def test_a_partial_crawl_proves_no_removal_and_the_api_is_compared_with_the_api(database: Database,
                                                                              observed: Observations) -> None:
    first = observed.run()
    observed.crawl(first, "panel.example")
    observed.prices(first, "panel.example", {"1": "1.00", "2": "2.00"})
    observed.prices(first, "panel.example", {"1": "1.0", "2": "2.0"}, source="html")
    second = observed.run()
    observed.crawl(second, "panel.example", status="partial")
    observed.prices(second, "panel.example", {"1": "1.00"})
    observed.prices(second, "panel.example", {"1": "1.00"}, source="html")
    recorded(database, first)
    assert recorded(database, second) == []  # service 2 missing from a partial crawl is no removal


def test_site_new_vanished_reappeared_and_catalogue_compared_across_a_failed_crawl(database: Database,
                                                                                   observed: Observations) -> None:
    runs = [observed.run() for _ in range(4)]
    observed.crawl(runs[0], "panel.example")
    observed.prices(runs[0], "panel.example", {"1": "1.00"})
    observed.crawl(runs[1], "panel.example", status="failed", reason="DNS lookup failed: NXDOMAIN")
    observed.crawl(runs[2], "panel.example", status="failed", reason="DNS lookup failed: NXDOMAIN")
    observed.crawl(runs[3], "panel.example")
    observed.prices(runs[3], "panel.example", {"1": "1.50"})
    assert [recorded(database, run) for run in runs] == [
        [("site", "new", "")], [("site", "vanished", "")], [], [("price", "changed", "1"), ("site", "reappeared", "")],
    ]
    with database.session() as session:
        vanished = list_changes(session, kind="site")[1]
    assert vanished["summary"] == "vanished: DNS lookup failed: NXDOMAIN"


def test_ip_asn_and_nameserver_moves_compared_with_the_last_enriched_crawl(database: Database,
                                                                          observed: Observations) -> None:
    runs = [observed.run() for _ in range(3)]
    for run in runs:
        observed.crawl(run, "panel.example")
    observed.hosting(runs[0], "panel.example", ["45.142.213.77"], 208476, ["dns1.cloudns.net", "dns2.cloudns.net"])
    # runs[1]: no enrichment, which says nothing about the hosting
    observed.hosting(runs[2], "panel.example", ["185.241.54.14"], 211508, ["ns1.blocked.example"])
    assert [recorded(database, run) for run in runs] == [
        [("site", "new", "")], [],
        [("infra", "changed", "asn"), ("infra", "changed", "ip"), ("infra", "changed", "nameservers")],
    ]
    with database.session() as session:
        rows = {row["subject"]: row for row in list_changes(session, kind="infra")}
    assert rows["ip"]["old"] == ["45.142.213.77"] and rows["ip"]["new"] == ["185.241.54.14"]
    assert rows["asn"]["old"] == [208476] and rows["asn"]["new"] == [211508]
    assert rows["asn"]["summary"] == "AS208476 (AS-208476) -> AS211508 (AS-211508)"
    assert rows["nameservers"]["new"] == ["ns1.blocked.example"]
    assert rows["ip"]["previous_run_id"] == runs[1]  # the crawl just before, though facts came from runs[0]


def test_certificates_payments_and_upstream_links(database: Database, observed: Observations) -> None:
    runs = [observed.run() for _ in range(4)]
    for run in runs:
        observed.crawl(run, "reseller.example")
    observed.certificate(runs[0], "reseller.example", "aa" * 32)
    observed.certificate(runs[1], "reseller.example", "bb" * 32, valid=False)
    observed.payment(runs[0], "reseller.example", "payeer", "765622115", "payeer.com")
    observed.payment(runs[1], "reseller.example", "payeer", "999", "payeer.com")
    # runs[2] found no rail at all (an expired session, say): no change; runs[3] sees the same as runs[1]
    observed.payment(runs[3], "reseller.example", "payeer", "999", "payeer.com")
    recorded(database, runs[0])
    observed.link("reseller.example", "upstream.example")
    assert recorded(database, runs[1]) == [
        ("certificate", "changed", "reseller.example"), ("link", "added", "upstream.example"),
        ("payment", "added", "payeer:999@payeer.com"), ("payment", "removed", "payeer:765622115@payeer.com"),
    ]
    assert recorded(database, runs[2]) == []
    observed.unlink("reseller.example")
    assert recorded(database, runs[3]) == [("link", "removed", "upstream.example")]
    with database.session() as session:
        summaries = {row["kind"] + row["change"]: row["summary"] for row in list_changes(session)}
    assert summaries["paymentadded"] == "added: payeer 999 via payeer.com"
    assert summaries["linkadded"] == "added: resells from upstream.example (confidence 0.90)"
    assert summaries["certificatechanged"].endswith("(issuer CN=Test CA, valid False)")


def test_recording_is_idempotent_and_pending_runs_are_compared_in_order(database: Database,
                                                                        observed: Observations) -> None:
    first, second = observed.run(), observed.run()
    for run, rate in ((first, "1.00"), (second, "2.00")):
        observed.crawl(run, "panel.example")
        observed.prices(run, "panel.example", {"1": rate})
    with database.session() as session:
        assert compare_pending(session) == 2
    with database.session() as session:
        assert compare_pending(session) == 0
        assert record_changes(session, second) == []
        assert session.scalar(select(func.count()).select_from(SiteChange)) == 2
        assert session.scalar(select(func.count()).select_from(SiteComparison)) == 2


def test_detect_changes_compares_exactly_the_two_runs_it_is_given(database: Database, observed: Observations) -> None:
    runs = [observed.run() for _ in range(3)]
    for run, rate in zip(runs, ("1.00", "1.20", "1.50")):
        site_id = observed.crawl(run, "panel.example")
        observed.prices(run, "panel.example", {"1": rate})
    with database.session() as session:
        changes = detect_changes(session, site_id, runs[0], runs[2])
        assert [(c.kind, c.subject, c.old["rate"], c.new["rate"]) for c in changes] == [("price", "1", "1", "1.5")]
        assert summarise(changes[0]) == "1 USD -> 1.5 USD (+50.00%)"
        assert [c.change for c in detect_changes(session, site_id, None, runs[0])] == ["new"]
        assert session.scalar(select(func.count()).select_from(SiteChange)) == 0  # nothing stored


def test_list_changes_filters_by_time_site_and_kind(database: Database, observed: Observations) -> None:
    first, second = observed.run(at=T0), observed.run(at=T0 + timedelta(days=10))
    for domain in ("a.example", "b.example"):
        for run, rate in ((first, "1.00"), (second, "3.00")):
            observed.crawl(run, domain)
            observed.prices(run, domain, {"1": rate})
    with database.session() as session:
        compare_pending(session)
    with database.session() as session:
        assert len(list_changes(session)) == 4
        assert {row["kind"] for row in list_changes(session, since=T0 + timedelta(days=5))} == {"price"}
        assert [row["site"] for row in list_changes(session, site="b.example", kind="site")] == ["b.example"]


def test_panelmap_changes_compares_hand_run_crawls_and_prints_json(tmp_path) -> None:
    database = Database.open(f"sqlite:///{tmp_path / 'panelmap.db'}")  # the CLI is the same on both databases
    database.upgrade()
    observed = Observations(database)
    first, second = observed.run(), observed.run()
    for run, rate in ((first, "1.00"), (second, "0.80")):
        observed.crawl(run, "panel.example")
        observed.prices(run, "panel.example", {"1": rate})
    command = [sys.executable, "-m", "panelmap", "--db", database.engine.url.render_as_string(hide_password=False),
               "changes", "--kind", "price", "--format", "json"]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert (row["site"], row["subject"], row["details"]["percent"]) == ("panel.example", "1", "-20.00")
    assert row["summary"] == "1 USD -> 0.8 USD (-20.00%)"
    bad = subprocess.run(command[:-4] + ["--since", "yesterday"], check=False, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--since" in bad.stderr
