"""The per-site read model (`panelmap panels --site D --format json`): what an investigator
sees for a site after enrichment, checked against the generated world's truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from enrich_support import crawl_like_the_spider, enrich, new_run, sandbox_settings, world_truth
from panelmap.enrich.dns import DnsEnricher
from panelmap.enrich.hosting import HostingEnricher
from panelmap.enrich.queries import site_infrastructure
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database

pytestmark = pytest.mark.timeout(120)

PROCESSOR = {"perfectmoney": "perfect_money", "mastercard": "mastercard_gateway"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(generate_world(seed=1), tmp_path_factory.mktemp("world")) as box:
        yield box


def expected_view(sb: Sandbox, domain: str) -> dict:
    truth = world_truth(sb)[domain]
    hosting = truth["hosting"]
    blocks = {block.cidr: block for block in sb.world.networks}
    return {
        "ips": sorted(hosting["ipv4"] + hosting["ipv6"]),
        "asns": [{"number": asn, "name": name} for asn, name in
                 sorted({(n["asn"], n["asn_name"]) for n in hosting["networks"]})],
        "ns": sorted(hosting["ns"]),
        "payments": sorted(({"processor": PROCESSOR.get(p["processor"], p["processor"]), "identifier": p["identifier"],
                             "host": p["host"]} for p in truth["payments"]),
                           key=lambda p: (p["processor"], p["identifier"], p["host"])),
        "abuse_contacts": sorted({blocks[n["cidr"]].abuse_email for n in hosting["networks"]}),
    }


def test_site_view_shows_what_the_truth_says(world: Sandbox, database: Database, tmp_path: Path) -> None:
    truth = world_truth(world)
    domains = [d for d, site in truth.items() if site.get("payments") and site["hosting"]][:6]
    certificates = json.loads(world.ground_truth_path.read_text())["certificates"]
    run_id = new_run(database)
    crawl_like_the_spider(database, run_id, world, domains, tmp_path)
    assert not enrich(database, run_id, domains, sandbox_settings(world), tmp_path).failures
    for domain in domains:
        with database.session() as session:
            view = site_infrastructure(session, domain)
        assert view is not None
        json.dumps(view)  # the CLI prints it as is
        assert {key: view[key] for key in ("ips", "asns", "ns", "payments", "abuse_contacts")} == expected_view(world, domain)
        assert view["certificate"]["sha256"] == certificates[domain]["sha256"]
        assert view["certificate"]["valid"] is (truth[domain]["tls"]["profile"] == "valid")
        assert view["certificate"]["host"] == domain
        assert {"kind": "favicon_mmh3", "value": str(truth[domain]["favicon"]["mmh3"])} in view["fingerprints"]
    with database.session() as session:
        assert site_infrastructure(session, "never-seen.example") is None


def test_the_latest_run_that_observed_each_part_wins(world: Sandbox, database: Database, tmp_path: Path,
                                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    later = generate_world(seed=1, epoch=2)
    move = next(change for change in later.ground_truth["changes"] if change["kind"] == "move_ip")
    domain = move["domain"]
    first = new_run(database)
    crawl_like_the_spider(database, first, world, [domain], tmp_path)
    enrich(database, first, [domain], sandbox_settings(world), tmp_path)
    with database.session() as session:
        before = site_infrastructure(session, domain)
    assert before["ips"] == move["old"]["ipv4"]
    with Sandbox(later, tmp_path_factory.mktemp("epoch2")) as moved:
        second = new_run(database)  # a run that only resolved and located the site
        enrich(database, second, [domain], sandbox_settings(moved), tmp_path, enrichers=[DnsEnricher, HostingEnricher])
    with database.session() as session:
        after = site_infrastructure(session, domain)
    assert after["ips"] == move["new"]["ipv4"]
    assert after["asns"] == [{"number": n["asn"], "name": n["asn_name"]} for n in move["new"]["networks"]]
    assert after["certificate"] == before["certificate"] and after["payments"] == before["payments"]
