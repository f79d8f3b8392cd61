"""The sandbox's protocol servers (proxy, TLS, DNS, RDAP) and their lifecycle, over loopback."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

import dns.flags
import dns.message
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import httpx
import pytest
from click.testing import CliRunner
from ipwhois import IPWhois
from ipwhois.exceptions import HTTPRateLimitError
from sandbox_tiny import (
    ARIN_BLOCK,
    EDGE_IP,
    RIPE_BLOCK,
    SHOP_IP,
    SHOP_IPV6,
    TinySite,
    tiny_world,
)

from panelmap.sandbox.cli import sandbox as sandbox_cli
from panelmap.sandbox.rdap import ipwhois_opener
from panelmap.sandbox.server import Sandbox, require_loopback

pytestmark = pytest.mark.timeout(60)

# Every socket connect and name lookup this process makes, while a test records them.
_NETWORK_EVENTS: list[tuple[str, object]] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _NETWORK_EVENTS is not None and event in ("socket.connect", "socket.getaddrinfo"):
        _NETWORK_EVENTS.append((event, args[1] if event == "socket.connect" else args[0]))


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def site() -> TinySite:
    return TinySite()


@pytest.fixture(scope="module")
def sb(site: TinySite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tiny_world(site), tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture(scope="module")
def ca_context(sb: Sandbox) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sb.ca_bundle))


@pytest.fixture
def proxied(sb: Sandbox, ca_context: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(proxy=sb.proxy_url, verify=ca_context, trust_env=False, timeout=10) as client:
        yield client


def _query(sb: Sandbox, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, sb.dns_address[0], port=sb.dns_address[1], timeout=3)


def _rdata(response: dns.message.Message, rdtype: str) -> set[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return {rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset}


def _raw_proxy_exchange(sb: Sandbox, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", int(sb.proxy_url.rsplit(":", 1)[1])), timeout=5) as sock:
        sock.sendall(payload)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


# -- DNS -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rdtype", "expected"),
    [
        ("A", {SHOP_IP}),
        ("AAAA", {SHOP_IPV6}),
        ("NS", {"ns1.perfectdns.example.", "ns2.perfectdns.example."}),
        ("MX", {"10 mail.shop.example."}),
        ("TXT", {'"google-site-verification=tinytoken123"', '"v=spf1 -all"'}),
        ("SOA", {"ns1.perfectdns.example. hostmaster.shop.example. 2024010101 3600 600 1209600 300"}),
        ("CAA", {'0 issue "letsencrypt.org"'}),
    ],
)
def test_dns_answers_each_record_type_authoritatively(sb: Sandbox, rdtype: str, expected: set[str]) -> None:
    response = _query(sb, "shop.example", rdtype)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert _rdata(response, rdtype) == expected


def test_dns_follows_cname_chains_like_a_resolver_sees_them(sb: Sandbox) -> None:
    response = _query(sb, "WWW.Shop.Example", "A")
    assert [(rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in response.answer] == [
        ("www.shop.example.", "CNAME"), ("cdn.shop.example.", "CNAME"), ("edge.edgecolo.example.", "A"),
    ]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(*sb.dns_address)]
    answer = resolver.resolve("www.shop.example", "A")
    assert [rdata.address for rdata in answer] == [EDGE_IP]
    assert answer.canonical_name.to_text() == "edge.edgecolo.example."
    assert _rdata(_query(sb, "www.shop.example", "CNAME"), "CNAME") == {"cdn.shop.example."}


def test_dns_negative_answers(sb: Sandbox) -> None:
    missing = _query(sb, "nothing-here.shop.example", "A")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert [rrset.rdtype for rrset in missing.authority] == [dns.rdatatype.SOA]
    no_data = _query(sb, "mail.shop.example", "TXT")
    assert (no_data.rcode(), no_data.answer) == (dns.rcode.NOERROR, [])
    dangling = _query(sb, "dangling.shop.example", "A")
    assert dangling.rcode() == dns.rcode.NXDOMAIN
    assert _rdata(dangling, "CNAME") == {"gone.shop.example."}


def test_dns_servfail_for_broken_names_and_cname_loops(sb: Sandbox) -> None:
    assert _query(sb, "broken.shop.example", "A").rcode() == dns.rcode.SERVFAIL
    assert _query(sb, "broken.shop.example", "MX").rcode() == dns.rcode.SERVFAIL
    assert _query(sb, "loop-a.shop.example", "A").rcode() == dns.rcode.SERVFAIL


def test_dns_truncates_over_udp_and_answers_in_full_over_tcp(sb: Sandbox) -> None:
    over_udp = _query(sb, "big.shop.example", "TXT")
    assert over_udp.flags & dns.flags.TC
    assert over_udp.answer == []
    over_tcp = _query(sb, "big.shop.example", "TXT", tcp=True)
    assert len(_rdata(over_tcp, "TXT")) == 12
    response, used_tcp = dns.query.udp_with_fallback(
        dns.message.make_query("big.shop.example", "TXT"), sb.dns_address[0], port=sb.dns_address[1], timeout=3
    )
    assert used_tcp and len(_rdata(response, "TXT")) == 12


def test_dns_team_cymru_zone(sb: Sandbox) -> None:
    reversed_ip = ".".join(reversed(SHOP_IP.split(".")))
    origin = _query(sb, f"{reversed_ip}.origin.asn.cymru.com", "TXT")
    assert _rdata(origin, "TXT") == {'"64500 | 185.212.40.0/22 | NL | ripencc | 2016-03-01"'}
    nibbles = ".".join(reversed(ipaddress.ip_address(SHOP_IPV6).exploded.replace(":", "")))
    origin6 = _query(sb, f"{nibbles}.origin6.asn.cymru.com", "TXT")
    assert _rdata(origin6, "TXT") == {'"64500 | 2a0e:fd45:b1::/48 | NL | ripencc | 2019-06-12"'}
    autnum = _query(sb, "AS64500.asn.cymru.com", "TXT")
    assert _rdata(autnum, "TXT") == {'"64500 | AE | ripencc | 2016-03-01 | HOSTBRIDGE-AS, AE"'}
    assert _query(sb, "4.3.2.1.origin.asn.cymru.com", "TXT").rcode() == dns.rcode.NXDOMAIN
    assert _query(sb, "AS1.asn.cymru.com", "TXT").rcode() == dns.rcode.NXDOMAIN


def test_dns_survives_garbage(sb: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"\x12\x34garbage that is not a DNS message", sb.dns_address)
        formerr = dns.message.from_wire(sock.recv(512))
    assert (formerr.id, formerr.rcode()) == (0x1234, dns.rcode.FORMERR)
    with socket.create_connection(sb.dns_address, timeout=2) as sock:
        sock.sendall(b"\x00\x05abc")  # announces 5 bytes, sends 3, hangs up
    assert _rdata(_query(sb, "shop.example", "A", tcp=True), "A") == {SHOP_IP}


# -- RDAP ------------------------------------------------------------------------------


def _ipwhois(sb: Sandbox, address: str) -> IPWhois:
    whois = IPWhois(address, timeout=3, proxy_opener=ipwhois_opener(sb.rdap_url))
    whois.net.dns_resolver.nameservers = [dns.nameserver.Do53Nameserver(*sb.dns_address)]
    return whois


@pytest.mark.parametrize(
    ("address", "block", "network_country", "abuse_handle"),
    [(EDGE_IP, ARIN_BLOCK, None, "ABUSE1001-ARIN"), (SHOP_IP, RIPE_BLOCK, "NL", "AR1000-RIPE")],
    ids=["arin", "ripencc"],
)
def test_ipwhois_lookup_rdap_reads_our_answers(
    sb: Sandbox, address: str, block, network_country: str | None, abuse_handle: str
) -> None:
    before = sb.rdap.counts.get("ip", 0)
    result = _ipwhois(sb, address).lookup_rdap(asn_methods=["dns"], retry_count=0)
    assert sb.rdap.counts.get("ip", 0) - before == 1  # one query per network, no entity follow-ups
    assert (result["asn"], result["asn_cidr"]) == (str(block.asn), block.cidr)
    assert result["asn_country_code"] == block.country  # Cymru's origin CC is the prefix's
    assert (result["asn_registry"], result["asn_description"]) == (block.rir, block.asn_name)
    network = result["network"]
    # ARIN's real network objects carry no country; RIPE's do.
    assert (network["cidr"], network["name"], network["handle"], network["country"]) == (
        block.cidr, block.name, block.handle, network_country,
    )
    abuse = result["objects"][abuse_handle]
    assert abuse["roles"] == ["abuse"]
    assert [email["value"] for email in abuse["contact"]["email"]] == [block.abuse_email]


def test_rdap_autnum_and_entity(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.rdap_url, trust_env=False) as client:
        autnum = client.get("/autnum/64500").json()
        assert (autnum["objectClassName"], autnum["handle"], autnum["name"]) == ("autnum", "AS64500", "HOSTBRIDGE-AS")
        entity = client.get("/entity/ABUSE1001-ARIN")
        assert entity.headers["content-type"] == "application/rdap+json"
        assert ["email", {}, "text", ARIN_BLOCK.abuse_email] in entity.json()["vcardArray"][1]
        assert client.get("/ip/8.8.8.8").status_code == 404
        assert client.get("/ip/not-an-address").status_code == 400
        assert client.get("/domain/shop.example").status_code == 400


def test_rdap_rate_limit_by_requests_and_by_time(sb: Sandbox) -> None:
    sb.rdap.rate_limit(requests=1)
    with pytest.raises(HTTPRateLimitError):
        _ipwhois(sb, SHOP_IP).lookup_rdap(asn_methods=["dns"], retry_count=0)
    assert _ipwhois(sb, SHOP_IP).lookup_rdap(asn_methods=["dns"], retry_count=0)["network"]["name"] == RIPE_BLOCK.name

    sb.rdap.rate_limit(seconds=0.5)
    limited_before = sb.rdap.counts.get("rate_limited", 0)
    with httpx.Client(base_url=sb.rdap_url, trust_env=False) as client:
        refused = client.get(f"/ip/{SHOP_IP}")
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
        assert client.get("/autnum/64500").status_code == 429
        time.sleep(0.6)
        assert client.get(f"/ip/{SHOP_IP}").status_code == 200
    assert sb.rdap.counts["rate_limited"] - limited_before == 2


def test_ipwhois_opener_refuses_anything_but_rdap() -> None:
    global _NETWORK_EVENTS
    _NETWORK_EVENTS = []
    try:
        with pytest.raises(URLError, match="refusing"):
            ipwhois_opener("http://127.0.0.1:9").open("http://whois.arin.net/rest/nets;q=23.94.12.20", timeout=2)
        assert _NETWORK_EVENTS == []
    finally:
        _NETWORK_EVENTS = None


# -- proxy and TLS ---------------------------------------------------------------------


def test_proxy_serves_plain_http_in_absolute_form(proxied: httpx.Client) -> None:
    response = proxied.post("http://shop.example/api/v2?x=1", data={"key": "k", "action": "services"})
    echo = response.json()
    assert (echo["method"], echo["scheme"], echo["host"]) == ("POST", "http", "shop.example")
    assert echo["target"] == "/api/v2?x=1"
    assert echo["body"] == "key=k&action=services"
    assert not any(name.lower().startswith("proxy-") for name, _ in echo["headers"])


def test_proxy_serves_origin_form_by_host_header(sb: Sandbox) -> None:
    with httpx.Client(trust_env=False) as client:
        echo = client.get(f"{sb.proxy_url}/services", headers={"Host": "www.shop.example"}).json()
    assert (echo["scheme"], echo["host"], echo["target"]) == ("http", "www.shop.example", "/services")


def test_proxy_terminates_tls_with_the_hosts_certificate(sb: Sandbox, proxied: httpx.Client) -> None:
    first = proxied.get("https://www.shop.example/orders?page=2").json()
    second = proxied.get("https://www.shop.example/services").json()  # same tunnel, kept alive
    assert (first["scheme"], first["host"], first["target"]) == ("https", "www.shop.example", "/orders?page=2")
    assert second["target"] == "/services"

    truth = json.loads(sb.ground_truth_path.read_text())
    assert truth["sites"] == {"shop.example": {"kind": "panel"}}
    certificates = truth["certificates"]
    assert certificates["shop.example"]["sha256"] == certificates["www.shop.example"]["sha256"]
    assert certificates["www.shop.example"]["sans"] == ["shop.example", "www.shop.example"]
    served = _served_certificate(sb, "www.shop.example")
    assert hashlib.sha256(served).hexdigest() == certificates["www.shop.example"]["sha256"]
    assert certificates["expired.example"]["profile"] == "expired"
    assert certificates["expired.example"]["not_after"] < certificates["shop.example"]["not_before"]


def _served_certificate(sb: Sandbox, host: str) -> bytes:
    proxy_port = int(sb.proxy_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as sock:
        sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        context = ssl.create_default_context(cafile=str(sb.ca_bundle))
        with context.wrap_socket(sock, server_hostname=host) as tls:
            certificate = tls.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate


@pytest.mark.parametrize(
    ("host", "reason"),
    [("expired.example", "certificate has expired"), ("wrong.example", "Hostname mismatch")],
)
def test_bad_certificates_fail_verification(proxied: httpx.Client, host: str, reason: str) -> None:
    with pytest.raises(httpx.ConnectError, match=reason):
        proxied.get(f"https://{host}/")


def test_bad_certificates_still_serve_when_verification_is_off(sb: Sandbox) -> None:
    with httpx.Client(proxy=sb.proxy_url, verify=False, trust_env=False) as client:
        assert client.get("https://expired.example/").json()["host"] == "expired.example"


def test_unknown_host_gets_502_and_nothing_leaves_loopback(sb: Sandbox, proxied: httpx.Client) -> None:
    global _NETWORK_EVENTS
    _NETWORK_EVENTS = []
    try:
        response = proxied.get("http://unknown-panel.example/")
        with pytest.raises(httpx.ProxyError, match="502"):
            proxied.get("https://unknown-panel.example/")
        events = list(_NETWORK_EVENTS)
    finally:
        _NETWORK_EVENTS = None
    assert response.status_code == 502
    assert "never forwards" in response.text
    assert events, "the audit hook saw no connection at all: it is not recording"
    for event, detail in events:
        if event == "socket.connect":
            assert isinstance(detail, tuple) and ipaddress.ip_address(detail[0]).is_loopback, detail
        else:
            assert "unknown-panel" not in str(detail)


def test_plain_only_host_has_no_tls_and_odd_ports_are_refused(sb: Sandbox) -> None:
    assert _raw_proxy_exchange(sb, b"CONNECT plain.example:443 HTTP/1.1\r\nHost: plain.example\r\n\r\n").startswith(
        b"HTTP/1.1 502"
    )
    assert _raw_proxy_exchange(sb, b"GET http://shop.example:8080/ HTTP/1.1\r\nHost: shop.example\r\n\r\n").startswith(
        b"HTTP/1.1 502"
    )


def test_malformed_requests_cost_only_their_connection(sb: Sandbox, proxied: httpx.Client) -> None:
    assert _raw_proxy_exchange(sb, b"\x16\x03\x01 not http at all\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw_proxy_exchange(sb, b"GET /x HTTP/1.1\r\nHost: shop.example\r\nContent-Length: zz\r\n\r\n").startswith(
        b"HTTP/1.1 400"
    )
    with socket.create_connection(("127.0.0.1", int(sb.proxy_url.rsplit(":", 1)[1])), timeout=2):
        pass  # connect and vanish
    assert proxied.get("http://shop.example/still-up").status_code == 200


def test_trickling_body_is_streamed_not_buffered(proxied: httpx.Client) -> None:
    arrivals = []
    started = time.monotonic()
    with proxied.stream("GET", "https://shop.example/trickle") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic() - started, chunk))
    assert b"".join(chunk for _, chunk in arrivals) == b"chunk 0\nchunk 1\nchunk 2\n"
    first_byte, last_byte = arrivals[0][0], arrivals[-1][0]
    assert last_byte - first_byte >= 2 * TinySite.TRICKLE_DELAY * 0.8


def test_client_leaving_a_huge_stream_closes_it(site: TinySite, proxied: httpx.Client) -> None:
    site.huge_stream_closed.clear()
    with proxied.stream("GET", "http://shop.example/huge") as response:
        first = next(response.iter_raw(64 * 1024))
    assert first
    assert site.huge_stream_closed.wait(5), "the site's generator was left running after the client left"


# -- lifecycle and CLI -----------------------------------------------------------------


def _port_is_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_sandbox_stops_cleanly(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    with Sandbox(tiny_world(), tmp_path) as box:
        proxy_port = int(box.proxy_url.rsplit(":", 1)[1])
        rdap_port = int(box.rdap_url.rsplit(":", 1)[1])
        dns_port = box.dns_address[1]
        assert not _port_is_free(dns_port, socket.SOCK_DGRAM)
        # A keep-alive client idle at stop time, and one that has only just connected.
        idle = socket.create_connection(("127.0.0.1", proxy_port), timeout=2)
        idle.sendall(b"HEAD / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        fresh = socket.create_connection(("127.0.0.1", proxy_port), timeout=2)
        assert box.running
    assert not box.running
    assert set(threading.enumerate()) <= threads_before
    assert idle.recv(1) == b""  # the server closed its end
    with contextlib.suppress(ConnectionResetError):  # reset if still in the listen backlog
        assert fresh.recv(1) == b""
    idle.close()
    fresh.close()
    for port in (proxy_port, rdap_port, dns_port):
        assert _port_is_free(port, socket.SOCK_STREAM)
    assert _port_is_free(dns_port, socket.SOCK_DGRAM)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy_port), timeout=1)


def test_sandbox_listens_on_loopback_only(tmp_path: Path) -> None:
    assert require_loopback("127.0.0.2") == "127.0.0.2"
    for host in ("0.0.0.0", "10.0.0.1", "::1", "localhost"):
        with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
            Sandbox(tiny_world(), tmp_path, host=host)
    result = CliRunner().invoke(sandbox_cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "127.0.0.0/8" in result.output


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    # The world generator is another module's job: stand the tiny world in for it here.
    script = textwrap.dedent(
        f"""
        import sys, types
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from sandbox_tiny import tiny_world
        generate = types.ModuleType("panelmap.sandbox.generate")
        generate.generate_world = lambda seed, sites=None: tiny_world()
        sys.modules["panelmap.sandbox.generate"] = generate
        from panelmap.sandbox.cli import sandbox
        sandbox(["serve", "--workdir", {str(tmp_path)!r}])
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = {}
        for line in iter(process.stdout.readline, ""):
            if line.startswith("Ctrl-C"):
                break
            label, _, value = line.strip().partition("  ")
            banner[label] = value.strip()
        proxy_url = banner["proxy"].split()[0]
        with httpx.Client(proxy=proxy_url, trust_env=False) as client:
            assert client.get("http://shop.example/").json()["host"] == "shop.example"
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, errors
    assert "sandbox stopped" in output
    assert banner["CA bundle"] == str(tmp_path / "ca.pem")
    assert banner["ground truth"] == str(tmp_path / "ground_truth.json")


def test_sites_answer_after_the_sandbox_latency(tmp_path: Path) -> None:
    # A lower bound only: the answer may come later on a busy machine, never sooner.
    with Sandbox(tiny_world(), tmp_path, latency=0.3) as box:
        proxy_port = int(box.proxy_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as client:
            started = time.monotonic()
            client.sendall(b"HEAD / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
            assert time.monotonic() - started >= 0.3
