"""The hosting enricher against the sandbox's Team Cymru zone and RDAP server: the
registry's facts for every address, one RDAP query per network, 429s that delay
but lose nothing, and the offline table."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from enrich_support import enrich, new_run, sandbox_settings
from panelmap.enrich.dns import DnsEnricher
from panelmap.enrich.hosting import AsnTable, HostingEnricher, parse_rdap_network, reverse_name
from panelmap.enrich.rdap import retry_after_seconds
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.server import Sandbox
from panelmap.sandbox.world import NetworkBlock
from panelmap.storage import Database, read_record_payload
from panelmap.storage.models import AddressObservation, Capture, IpAddress, Network, Site
from sandbox_tiny import ARIN_BLOCK, EDGE_IP, RIPE_BLOCK, RIPE_V6_BLOCK, SHOP_IP, SHOP_IPV6, tiny_world

pytestmark = pytest.mark.timeout(60)

SITES = ["shop.example", "expired.example", "wrong.example", "plain.example"]
BLOCK_OF = {SHOP_IP: RIPE_BLOCK, SHOP_IPV6: RIPE_V6_BLOCK, EDGE_IP: ARIN_BLOCK}
STEPS = [DnsEnricher, HostingEnricher]


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tiny_world(), tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture
def rdap(sb: Sandbox) -> Iterator[Sandbox]:
    sb.rdap.reset_counts()
    yield sb
    sb.rdap.rate_limit()  # lift any limit a test set


def networks_by_address(database: Database, run_id: int) -> dict[str, Network | None]:
    with database.session() as session:
        rows = session.execute(
            select(IpAddress.address, Network)
            .join(AddressObservation, AddressObservation.ip_id == IpAddress.id)
            .outerjoin(Network, Network.id == IpAddress.network_id)
            .where(AddressObservation.run_id == run_id)
        ).all()
    return {address: network for address, network in rows}


def assert_registry_facts(network: Network, block: NetworkBlock) -> None:
    assert (network.cidr, network.asn, network.asn_cidr, network.asn_description, network.asn_country, network.rir) == (
        block.cidr, block.asn, block.cidr, block.asn_name, block.asn_country, block.rir)
    assert (network.name, network.handle, network.country) == (block.name, block.handle, block.country)
    assert network.abuse_emails == [block.abuse_email]
    assert network.rdap_capture_id is not None


def test_every_address_gets_its_registry_facts(rdap: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    stats = enrich(database, run_id, SITES, sandbox_settings(rdap), tmp_path, enrichers=STEPS)
    assert not stats.failures
    found = networks_by_address(database, run_id)
    assert set(found) == set(BLOCK_OF)
    for address, network in found.items():
        assert network is not None, address
        assert_registry_facts(network, BLOCK_OF[address])


def test_one_rdap_query_per_network(rdap: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    stats = enrich(database, run_id, SITES, sandbox_settings(rdap), tmp_path, enrichers=STEPS)
    # Six (site, address) pairs over three addresses in three networks: three queries, three cache hits
    # (expired.example and wrong.example sit on www.shop.example's address, plain.example on shop.example's).
    assert rdap.rdap.counts == {"ip": 3}
    assert stats.rdap_ip_queries == 3 and len(stats.networks) == 3
    assert stats.rdap_cache_hits == 3


def test_fresh_networks_are_answered_from_the_database(rdap: Sandbox, database: Database, tmp_path: Path) -> None:
    enrich(database, new_run(database), SITES, sandbox_settings(rdap), tmp_path, enrichers=STEPS)
    rdap.rdap.reset_counts()
    second = new_run(database)
    enrich(database, second, SITES, sandbox_settings(rdap), tmp_path, enrichers=STEPS)
    assert rdap.rdap.counts == {}
    assert all(network is not None for network in networks_by_address(database, second).values())
    enrich(database, new_run(database), SITES, sandbox_settings(rdap, cache_max_age=timedelta(0)), tmp_path,
           enrichers=STEPS)
    assert rdap.rdap.counts == {"ip": 3}


def test_rate_limited_registry_delays_the_batch_but_loses_nothing(rdap: Sandbox, database: Database,
                                                                   tmp_path: Path) -> None:
    rdap.rdap.rate_limit(requests=4, retry_after=1)
    run_id = new_run(database)
    stats = enrich(database, run_id, SITES, sandbox_settings(rdap), tmp_path, enrichers=STEPS)
    assert not stats.failures
    assert stats.rdap_rate_limited == 4 and rdap.rdap.counts == {"rate_limited": 4, "ip": 3}
    assert stats.elapsed >= 1.0  # the Retry-After was honoured
    for address, network in networks_by_address(database, run_id).items():
        assert_registry_facts(network, BLOCK_OF[address])


def test_unreachable_registry_is_recorded_and_the_asn_kept(rdap: Sandbox, database: Database, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings = sandbox_settings(rdap, rdap_url=dead, rdap_max_attempts=2, rdap_backoff=0.01)
    run_id = new_run(database)
    stats = enrich(database, run_id, ["plain.example"], settings, tmp_path, enrichers=STEPS)
    assert [(failure.domain, failure.enricher) for failure in stats.failures] == [("plain.example", "hosting")]
    assert "no answer" in stats.failures[0].error
    network = networks_by_address(database, run_id)[SHOP_IP]
    assert (network.asn, network.asn_description, network.name, network.rdap_capture_id) == (
        RIPE_BLOCK.asn, RIPE_BLOCK.asn_name, None, None)


def test_raw_rdap_answer_is_the_networks_capture(rdap: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    enrich(database, run_id, ["plain.example"], sandbox_settings(rdap), tmp_path, enrichers=STEPS)
    network = networks_by_address(database, run_id)[SHOP_IP]
    with database.session() as session:
        capture = session.get(Capture, network.rdap_capture_id)
        cymru = session.scalars(select(Capture.url).where(Capture.run_id == run_id, Capture.url.like("%cymru%"))).all()
    assert (capture.kind, capture.url, capture.http_status) == ("rdap", f"{rdap.rdap_url}/ip/{SHOP_IP}", 200)
    assert json.loads(read_record_payload(capture.warc_file, capture.warc_offset))["handle"] == RIPE_BLOCK.handle
    assert sorted(cymru) == ["dns:10.40.212.185.origin.asn.cymru.com?type=TXT", "dns:AS64500.asn.cymru.com?type=TXT"]


def test_offline_table_needs_no_network(rdap: Sandbox, database: Database, tmp_path: Path) -> None:
    table = tmp_path / "asn.csv"
    table.write_text(
        "# cidr,asn,asn_name,country,registry\n"
        "cidr,asn,asn_name,country,registry\n"
        '185.212.0.0/16,64999,"WIDER-AS, NL",NL,ripencc\n'
        f'{RIPE_BLOCK.cidr},{RIPE_BLOCK.asn},"{RIPE_BLOCK.asn_name}",NL,ripencc\n'
    )
    settings = sandbox_settings(rdap, asn_table=table, rdap_url="http://127.0.0.1:9")
    run_id = new_run(database)
    stats = enrich(database, run_id, ["plain.example"], settings, tmp_path, enrichers=STEPS)
    assert not stats.failures and stats.rdap_requests == 0 and rdap.rdap.counts == {}
    network = networks_by_address(database, run_id)[SHOP_IP]
    assert (network.cidr, network.asn, network.asn_description, network.rir) == (
        RIPE_BLOCK.cidr, RIPE_BLOCK.asn, RIPE_BLOCK.asn_name, "ripencc")  # the most specific prefix wins


def test_offline_table_names_its_missing_columns(tmp_path: Path) -> None:
    table = tmp_path / "asn.csv"
    table.write_text("prefix,asn\n1.0.0.0/8,1\n")
    with pytest.raises(ValueError, match=r"missing columns \['asn_name', 'cidr', 'country', 'registry'\]"):
        AsnTable(table)


def test_arin_abuse_contact_nested_in_the_org_is_found() -> None:
    answer = {
        "handle": "NET-23-94-0-0-1", "name": "EDGECOLO-03", "startAddress": "23.94.0.0", "endAddress": "23.95.255.255",
        "ipVersion": "v4",
        "entities": [{
            "handle": "EDGEC-1", "roles": ["registrant"],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["adr", {}, "text", ["", "", "", "", "", "", "US"]]]],
            "entities": [{"handle": "ABUSE1-ARIN", "roles": ["abuse"],
                          "vcardArray": ["vcard", [["email", {}, "text", "Abuse@EdgeColo.example"]]]}],
        }],
    }
    network = parse_rdap_network(EDGE_IP, answer)
    assert (network.cidrs, network.handle, network.country, network.abuse_emails) == (
        ["23.94.0.0/15"], "NET-23-94-0-0-1", "US", ["abuse@edgecolo.example"])


def test_a_range_that_is_no_single_prefix_becomes_several_networks() -> None:
    answer = {"handle": "R", "startAddress": "10.0.0.0", "endAddress": "10.0.2.255", "ipVersion": "v4"}
    assert parse_rdap_network("8.8.8.8", answer).cidrs == ["10.0.0.0/23", "10.0.2.0/24"]


def test_cymru_query_names() -> None:
    assert reverse_name("185.212.40.10") == "10.40.212.185.origin.asn.cymru.com"
    assert reverse_name("2a0e:fd45:b1::10").endswith(".1.b.0.0.5.4.d.f.e.0.a.2.origin6.asn.cymru.com")


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("7") == 7.0
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 <= retry_after_seconds(format_datetime(later, usegmt=True)) <= 30
    assert retry_after_seconds("soon") is None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(generate_world(seed=1), tmp_path_factory.mktemp("world")) as box:
        yield box


def test_every_site_of_the_generated_world_gets_its_networks(world: Sandbox, database: Database, tmp_path: Path) -> None:
    truth = {domain: site["hosting"] for domain, site in json.loads(world.ground_truth_path.read_text())["sites"].items()
             if site["hosting"]}
    blocks = {block.cidr: block for block in world.world.networks}
    world.rdap.reset_counts()
    run_id = new_run(database)
    stats = enrich(database, run_id, list(truth), sandbox_settings(world), tmp_path, enrichers=STEPS)
    assert not stats.failures
    with database.session() as session:
        rows = session.execute(
            select(Site.domain, IpAddress.address, Network)
            .join(AddressObservation, AddressObservation.site_id == Site.id)
            .join(IpAddress, IpAddress.id == AddressObservation.ip_id)
            .join(Network, Network.id == IpAddress.network_id)
            .where(AddressObservation.run_id == run_id)
        ).all()
    found: dict[str, set[tuple]] = {}
    for domain, _address, network in rows:
        found.setdefault(domain, set()).add(
            (network.cidr, network.asn, network.asn_description, network.country, network.rir))
        assert_registry_facts(network, blocks[network.cidr])
    expected = {domain: {(n["cidr"], n["asn"], n["asn_name"], n["country"], n["rir"]) for n in hosting["networks"]}
                for domain, hosting in truth.items()}
    assert found == expected
    distinct = {cidr for networks in expected.values() for cidr, *_rest in networks}
    assert world.rdap.counts == {"ip": len(distinct)} and stats.rdap_ip_queries == len(distinct)
