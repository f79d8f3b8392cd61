"""What a sandbox world is, apart from the servers that make it reachable.

A `World` holds content (sites, their pages and API, their infrastructure, the
ground truth); the servers in this package (proxy, DNS, RDAP) only speak the
protocols over it. Generation lives in `generate.py`, the servers in
`proxy.py`, `dns.py` and `rdap.py`, their lifecycle in `server.py`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

TlsProfile = Literal["valid", "expired", "wrong_name"]


@dataclass
class HttpRequest:
    method: str
    scheme: Literal["http", "https"]
    host: str  # lower case, no port
    target: str  # path with query string, e.g. "/services?page=2"
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    # bytes for ordinary pages; an async iterator for bodies that trickle or are huge.
    body: bytes | AsyncIterator[bytes] = b""


SiteHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@dataclass(frozen=True)
class NetworkBlock:
    """An allocated network with its origin AS, as RDAP and Team Cymru describe it."""

    cidr: str  # e.g. "185.212.40.0/22"
    handle: str  # e.g. "NET-185-212-40-0-1" (ARIN) or "185.212.40.0 - 185.212.43.255" (RIPE inetnum)
    name: str  # e.g. "SERVERIUS-NL"
    country: str  # ISO 3166 alpha-2
    rir: Literal["arin", "ripencc"]
    asn: int
    asn_name: str  # e.g. "SERVERIUS-AS, NL"
    asn_country: str
    org_name: str
    abuse_email: str
    allocated: date

    def contains(self, address: str) -> bool:
        return ipaddress.ip_address(address) in ipaddress.ip_network(self.cidr)


@dataclass(frozen=True)
class CertificateSpec:
    """A certificate the proxy serves: `names` go in the SANs (the first is the CN).

    Several hosts may share one spec: names co-hosted on one certificate are a pivot.
    """

    names: tuple[str, ...]
    profile: TlsProfile = "valid"


@dataclass
class DnsZoneData:
    """Authoritative data: `records[name][rtype]` lists rdata in zone-file text form,
    e.g. records["example.com"]["MX"] == ["10 mail.example.com."]. Names are lower case
    with no trailing dot. Names in `servfail` answer SERVFAIL whatever the type."""

    records: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    servfail: set[str] = field(default_factory=set)
    ttl: int = 300


@dataclass
class World:
    seed: int
    sites: dict[str, SiteHandler]  # host (both "example.com" and "www.example.com") -> handler
    dns: DnsZoneData
    networks: list[NetworkBlock]
    certificates: dict[str, CertificateSpec]  # host -> the certificate it serves
    # Everything tests need to measure precision and recall; JSON-ready, see ground_truth.md.
    ground_truth: dict[str, Any]
    # Secrets a test crawl needs (API keys, session cookies per site): never logged.
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    def network_for(self, address: str) -> NetworkBlock | None:
        return next((block for block in self.networks if block.contains(address)), None)
