"""The DNS enricher against the sandbox's authoritative server: every record type, the
CNAME chain, raw answers kept as WARC records, and failures recorded as results."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.message
import pytest
from sqlalchemy import func, select

from enrich_support import enrich, loopback_only, new_run, sandbox_settings
from panelmap.enrich.dns import DnsClient, DnsEnricher, parse_resolver
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database, read_record_payload
from panelmap.storage.models import AddressObservation, Capture, DnsObservation, IpAddress
from sandbox_tiny import BIG_TXT, EDGE_IP, SHOP_IP, SHOP_IPV6, tiny_world

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tiny_world(), tmp_path_factory.mktemp("sandbox")) as box:
        yield box


def observations(database: Database, run_id: int) -> dict[tuple[str, str], DnsObservation]:
    with database.session() as session:
        rows = session.scalars(select(DnsObservation).where(DnsObservation.run_id == run_id))
        return {(row.qname, row.rtype): row for row in rows}


def test_every_record_type_of_domain_and_www_matches_the_zone(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    stats = enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path, enrichers=[DnsEnricher])
    assert not stats.failures
    seen = observations(database, run_id)
    assert len(seen) == 16  # 8 types x (domain, www)
    zone = sb.world.dns.records["shop.example"]
    apex = {rtype: seen[("shop.example", rtype)] for rtype in ("A", "AAAA", "NS", "MX", "TXT", "SOA", "CAA")}
    assert all(row.status == "NOERROR" for row in apex.values())
    assert apex["A"].answers == [SHOP_IP]
    assert apex["AAAA"].answers == [SHOP_IPV6]
    assert apex["NS"].answers == sorted(zone["NS"])
    assert apex["MX"].answers == zone["MX"]
    assert apex["TXT"].answers == sorted(text.strip('"') for text in zone["TXT"])
    assert apex["SOA"].answers == zone["SOA"]
    assert apex["CAA"].answers == zone["CAA"]
    assert apex["A"].ttl == 300 and apex["A"].resolver == f"{sb.dns_address[0]}:{sb.dns_address[1]}"
    # www is a two-hop CNAME chain to another zone's address.
    assert seen[("www.shop.example", "CNAME")].answers == ["cdn.shop.example.", "edge.edgecolo.example."]
    assert seen[("www.shop.example", "A")].answers == [EDGE_IP]
    assert seen[("shop.example", "CNAME")].answers == []


def test_addresses_are_observed_per_host(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path, enrichers=[DnsEnricher])
    with database.session() as session:
        rows = session.execute(
            select(AddressObservation.hostname, IpAddress.address, IpAddress.version)
            .join(IpAddress, IpAddress.id == AddressObservation.ip_id)
            .where(AddressObservation.run_id == run_id)
        ).all()
    assert sorted(rows) == sorted([("shop.example", SHOP_IP, 4), ("shop.example", SHOP_IPV6, 6),
                                   ("www.shop.example", EDGE_IP, 4)])


def test_raw_answer_is_kept_byte_for_byte_with_its_digest(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path, enrichers=[DnsEnricher])
    observation = observations(database, run_id)[("shop.example", "MX")]
    with database.session() as session:
        capture = session.get(Capture, observation.capture_id)
    assert capture.kind == "dns" and capture.url == "dns:shop.example?type=MX"
    assert capture.content_type == "application/dns-message" and capture.server_ip == sb.dns_address[0]
    payload = read_record_payload(capture.warc_file, capture.warc_offset)
    assert hashlib.sha256(payload).hexdigest() == capture.sha256
    message = dns.message.from_wire(payload)
    assert [rdata.to_text() for rdataset in message.answer for rdata in rdataset] == ["10 mail.shop.example."]


def test_cname_chain_hops_are_all_captured(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path, enrichers=[DnsEnricher])
    first = observations(database, run_id)[("www.shop.example", "CNAME")]
    with database.session() as session:
        hops = session.scalars(select(Capture.url).where(Capture.parent_id == first.capture_id)).all()
    assert sorted(hops) == ["dns:cdn.shop.example?type=CNAME", "dns:edge.edgecolo.example?type=CNAME"]


def test_servfail_and_nxdomain_are_results(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    stats = enrich(database, run_id, ["broken.shop.example", "absent.example"], sandbox_settings(sb), tmp_path,
                   enrichers=[DnsEnricher])
    assert not stats.failures
    seen = observations(database, run_id)
    assert {seen[("broken.shop.example", rtype)].status for rtype in ("A", "MX", "TXT")} == {"SERVFAIL"}
    assert {seen[("absent.example", rtype)].status for rtype in ("A", "NS")} == {"NXDOMAIN"}
    assert seen[("absent.example", "A")].answers == [] and seen[("absent.example", "A")].capture_id is not None


def test_truncated_udp_answer_is_retried_over_tcp(sb: Sandbox) -> None:
    async def ask():  # type: ignore[no-untyped-def]
        client = DnsClient(f"{sb.dns_address[0]}:{sb.dns_address[1]}", timeout=2, attempts=1, slots=asyncio.Semaphore(4))
        return await client.query("big.shop.example", "TXT")

    with loopback_only():
        result = asyncio.run(ask())
    assert result.status == "NOERROR" and result.transport == "tcp"
    assert result.records()[0] == sorted(text.strip('"') for text in BIG_TXT)


class SilentUdp:
    """A UDP port that takes queries and never answers (or answers `reply(query)` when given)."""

    def __init__(self, reply=None) -> None:  # type: ignore[no-untyped-def]
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.reply = reply
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, address = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            self.received += 1
            if self.reply is not None:
                self.socket.sendto(self.reply(data), address)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


def test_timeout_is_recorded_for_every_question(database: Database, tmp_path: Path, sb: Sandbox) -> None:
    silent = SilentUdp()
    try:
        run_id = new_run(database)
        settings = sandbox_settings(sb, resolver=f"127.0.0.1:{silent.port}", dns_timeout=0.3, dns_attempts=2)
        stats = enrich(database, run_id, ["shop.example"], settings, tmp_path, enrichers=[DnsEnricher])
    finally:
        silent.close()
    assert not stats.failures
    seen = observations(database, run_id)
    assert len(seen) == 16 and {row.status for row in seen.values()} == {"TIMEOUT"}
    assert all(row.capture_id is None and row.answers == [] for row in seen.values())
    assert silent.received == 32  # every question asked twice


def test_malformed_answer_is_recorded_and_its_bytes_kept(database: Database, tmp_path: Path, sb: Sandbox) -> None:
    garbage = b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\xff\xfe"
    broken = SilentUdp(reply=lambda query: query[:2] + garbage)  # right id, unparseable rest
    try:
        run_id = new_run(database)
        settings = sandbox_settings(sb, resolver=f"127.0.0.1:{broken.port}")
        stats = enrich(database, run_id, ["shop.example"], settings, tmp_path, enrichers=[DnsEnricher])
    finally:
        broken.close()
    assert not stats.failures
    seen = observations(database, run_id)
    assert {row.status for row in seen.values()} == {"MALFORMED"}
    with database.session() as session:
        capture = session.get(Capture, seen[("shop.example", "A")].capture_id)
    assert read_record_payload(capture.warc_file, capture.warc_offset)[2:] == garbage


def test_enriching_the_run_again_changes_no_observation(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path, enrichers=[DnsEnricher])
    before = {key: (row.status, row.answers) for key, row in observations(database, run_id).items()}
    enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path, enrichers=[DnsEnricher])
    after = {key: (row.status, row.answers) for key, row in observations(database, run_id).items()}
    assert after == before
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(AddressObservation)).scalar() == 3


@pytest.mark.parametrize(("spec", "expected"), [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("[::1]:5353", ("::1", 5353)),
    ("::1", ("::1", 53)),
])
def test_resolver_spec(spec: str, expected: tuple[str, int]) -> None:
    assert parse_resolver(spec) == expected


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(generate_world(seed=1), tmp_path_factory.mktemp("world")) as box:
        yield box


def test_every_site_of_the_generated_world_resolves_as_its_truth_says(world: Sandbox, database: Database,
                                                                      tmp_path: Path) -> None:
    truth = {domain: site for domain, site in json.loads(world.ground_truth_path.read_text())["sites"].items()
             if site["served"]}
    run_id = new_run(database)
    stats = enrich(database, run_id, list(truth), sandbox_settings(world), tmp_path, enrichers=[DnsEnricher])
    assert not stats.failures
    seen = observations(database, run_id)
    checked = 0
    for domain, site in truth.items():
        hosting = site["hosting"]
        if hosting is None:  # the world's SERVFAIL corner
            assert {seen[(host, "A")].status for host in (domain, f"www.{domain}")} == {"SERVFAIL"}
            continue
        assert seen[(domain, "A")].answers == sorted(hosting["ipv4"]), domain
        assert seen[(domain, "AAAA")].answers == sorted(hosting["ipv6"]), domain
        assert seen[(domain, "NS")].answers == sorted(f"{ns}." for ns in hosting["ns"]), domain
        assert hosting["soa_rname"] in seen[(domain, "SOA")].answers[0], domain
        www = f"www.{domain}"
        assert seen[(www, "CNAME")].answers == ([f"{domain}."] if hosting["www_cname"] else []), domain
        assert seen[(www, "A")].answers == sorted(hosting["ipv4"]), domain
        assert (seen[(domain, "MX")].answers == []) == (hosting["mail"] == "none"), domain
        checked += 1
    assert checked == len(truth) - 1
