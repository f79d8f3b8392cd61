"""A hand-built World small enough to read in one screen, for the sandbox server tests.

Names end in `.example`, organisations are invented, ASNs are from the documentation
range; the addresses are ordinary public-looking ones because ipwhois refuses reserved
ranges (traffic only ever goes to loopback).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from datetime import date

from panelmap.sandbox.world import (
    CertificateSpec,
    DnsZoneData,
    HttpRequest,
    HttpResponse,
    NetworkBlock,
    World,
)

RIPE_BLOCK = NetworkBlock(
    cidr="185.212.40.0/22",
    handle="185.212.40.0 - 185.212.43.255",
    name="HOSTBRIDGE-NL",
    country="NL",
    rir="ripencc",
    asn=64500,
    asn_name="HOSTBRIDGE-AS, AE",  # an AS registered in Dubai announcing a Dutch block
    asn_country="AE",
    org_name="Hostbridge B.V.",
    abuse_email="abuse@hostbridge.example",
    allocated=date(2016, 3, 1),
)
RIPE_V6_BLOCK = NetworkBlock(
    cidr="2a0e:fd45:b1::/48",
    handle="2a0e:fd45:b1::/48",
    name="HOSTBRIDGE-NL-V6",
    country="NL",
    rir="ripencc",
    asn=64500,
    asn_name="HOSTBRIDGE-AS, AE",
    asn_country="AE",
    org_name="Hostbridge B.V.",
    abuse_email="abuse@hostbridge.example",
    allocated=date(2019, 6, 12),
)
ARIN_BLOCK = NetworkBlock(
    cidr="23.94.0.0/15",
    handle="NET-23-94-0-0-1",
    name="EDGECOLO-03",
    country="US",
    rir="arin",
    asn=64501,
    asn_name="EDGECOLO-AS, US",
    asn_country="US",
    org_name="EdgeColo LLC",
    abuse_email="abuse@edgecolo.example",
    allocated=date(2013, 5, 7),
)

SHOP_IP = "185.212.40.10"
SHOP_IPV6 = "2a0e:fd45:b1::10"
EDGE_IP = "23.94.12.20"
BIG_TXT = [f'"{"verification-token-" + str(i) * 90}"' for i in range(12)]  # far over 512 bytes


class TinySite:
    """Every host's handler: echoes the request as JSON, plus two streamed pages.

    `/trickle` sends three chunks 0.3 s apart; `/huge` would send 64 MiB and records,
    in `huge_stream_closed`, that the proxy closed it when the client went away.
    """

    TRICKLE_CHUNKS = 3
    TRICKLE_DELAY = 0.3

    def __init__(self) -> None:
        self.huge_stream_closed = threading.Event()

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.target == "/trickle":
            return HttpResponse(200, [("Content-Type", "text/plain")], self._trickle())
        if request.target == "/huge":
            return HttpResponse(200, [("Content-Type", "application/octet-stream")], self._huge())
        echo = {
            "method": request.method,
            "scheme": request.scheme,
            "host": request.host,
            "target": request.target,
            "headers": [[name, value] for name, value in request.headers],
            "body": request.body.decode("utf-8", "replace"),
        }
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(echo).encode())

    async def _trickle(self) -> AsyncIterator[bytes]:
        for index in range(self.TRICKLE_CHUNKS):
            if index:
                await asyncio.sleep(self.TRICKLE_DELAY)
            yield f"chunk {index}\n".encode()

    async def _huge(self) -> AsyncIterator[bytes]:
        block = b"x" * (1024 * 1024)
        try:
            for _ in range(64):
                yield block
        finally:
            self.huge_stream_closed.set()


def tiny_world(site: TinySite | None = None) -> World:
    handler = site or TinySite()
    shop_certificate = CertificateSpec(("shop.example", "www.shop.example"))
    records: dict[str, dict[str, list[str]]] = {
        "shop.example": {
            "A": [SHOP_IP],
            "AAAA": [SHOP_IPV6],
            "NS": ["ns1.perfectdns.example.", "ns2.perfectdns.example."],
            "MX": ["10 mail.shop.example."],
            "TXT": ['"google-site-verification=tinytoken123"', '"v=spf1 -all"'],
            "SOA": ["ns1.perfectdns.example. hostmaster.shop.example. 2024010101 3600 600 1209600 300"],
            "CAA": ['0 issue "letsencrypt.org"'],
        },
        "mail.shop.example": {"A": [SHOP_IP]},
        "www.shop.example": {"CNAME": ["cdn.shop.example."]},
        "cdn.shop.example": {"CNAME": ["edge.edgecolo.example."]},
        "edge.edgecolo.example": {"A": [EDGE_IP]},
        "dangling.shop.example": {"CNAME": ["gone.shop.example."]},
        "loop-a.shop.example": {"CNAME": ["loop-b.shop.example."]},
        "loop-b.shop.example": {"CNAME": ["loop-a.shop.example."]},
        "big.shop.example": {"TXT": BIG_TXT},
        "expired.example": {"A": [EDGE_IP]},
        "wrong.example": {"A": [EDGE_IP]},
        "plain.example": {"A": [SHOP_IP]},
    }
    hosts = ["shop.example", "www.shop.example", "expired.example", "wrong.example", "plain.example"]
    return World(
        seed=0,
        sites={host: handler for host in hosts},
        dns=DnsZoneData(records=records, servfail={"broken.shop.example"}, ttl=300),
        networks=[RIPE_BLOCK, RIPE_V6_BLOCK, ARIN_BLOCK],
        certificates={
            "shop.example": shop_certificate,
            "www.shop.example": shop_certificate,
            "expired.example": CertificateSpec(("expired.example",), "expired"),
            "wrong.example": CertificateSpec(("wrong.example",), "wrong_name"),
        },
        ground_truth={"sites": {"shop.example": {"kind": "panel"}}},
    )
