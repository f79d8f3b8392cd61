"""DNS: every record type an investigator pivots on, for a site's domain and its `www` host.

The client speaks DNS on the wire itself (dnspython builds and parses the
messages) so that the exact bytes the resolver sent back can be kept as a WARC
`resource` record: a re-encoded message would not be what was received. A
SERVFAIL, an NXDOMAIN, a timeout or an answer that does not parse is a result
(DnsObservation.status), never an exception.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap.storage import upsert
from panelmap.storage.models import AddressObservation, DnsObservation, IpAddress

from .base import Enricher, SiteTarget

RECORD_TYPES = ("A", "AAAA", "CNAME", "NS", "MX", "TXT", "SOA", "CAA")
ADDRESS_TYPES = ("A", "AAAA")
MAX_CNAME_CHAIN = 8
UDP_PAYLOAD = 1232  # the EDNS buffer size DNS Flag Day 2020 settled on

# Statuses beside the RCODEs (NOERROR, NXDOMAIN, SERVFAIL, REFUSED...).
TIMEOUT = "TIMEOUT"
MALFORMED = "MALFORMED"  # an answer came back but does not parse or does not answer our question
UNREACHABLE = "UNREACHABLE"  # the resolver's host said nothing listens there (ICMP port unreachable)


def parse_resolver(spec: str | None) -> tuple[str, int]:
    """`HOST[:PORT]` (IPv6 as `[::1]:53` or bare `::1`) -> (host, port); None or "system":
    the first nameserver of the system's configuration."""
    if spec is None or spec.strip().lower() in ("", "system"):
        return str(dns.resolver.Resolver().nameservers[0]), 53
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, 53


@dataclass(frozen=True)
class DnsResult:
    """One question and what came back for it."""

    qname: str
    rtype: str
    status: str
    resolver: str  # host:port
    at: datetime
    duration_ms: int
    transport: str = "udp"
    wire: bytes | None = None  # the response exactly as received
    message: dns.message.Message | None = None

    def records(self) -> tuple[list[str], int | None]:
        """(rdata texts for the question's type, after any CNAME chain in the answer; minimum TTL)."""
        if self.message is None:
            return [], None
        wanted = dns.rdatatype.from_text(self.rtype)
        name = dns.name.from_text(self.qname)
        ttls: list[int] = []
        for _ in range(MAX_CNAME_CHAIN + 1):
            rrset = _find(self.message, name, wanted)
            if rrset is not None:
                ttls.append(rrset.ttl)
                return sorted(rdata_text(rdata) for rdata in rrset), min(ttls)
            cname = _find(self.message, name, dns.rdatatype.CNAME)
            if cname is None:
                break
            ttls.append(cname.ttl)
            name = cname[0].target
        return [], min(ttls) if ttls else None


def _find(message: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType):  # type: ignore[no-untyped-def]
    return next((rrset for rrset in message.answer if rrset.name == name and rrset.rdtype == rdtype), None)


def rdata_text(rdata: object) -> str:
    """Zone-file text, except TXT: its strings joined and decoded, as a person reads a token."""
    strings = getattr(rdata, "strings", None)
    if strings is not None:
        return b"".join(strings).decode("utf-8", "replace")
    return rdata.to_text()  # type: ignore[attr-defined]


class _OneAnswer(asyncio.DatagramProtocol):
    """Waits for the datagram that answers one query id; ignores strays."""

    def __init__(self, query_id: int) -> None:
        self.query_id = query_id.to_bytes(2, "big")
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data[:2] == self.query_id and not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


class DnsClient:
    """Asks one resolver (`--dns HOST[:PORT]`, else the system's) over UDP, then TCP when truncated."""

    def __init__(self, resolver: str | None, *, timeout: float, attempts: int, slots: asyncio.Semaphore,
                 on_query: Callable[[], None] | None = None) -> None:
        self.host, self.port = parse_resolver(resolver)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.slots = slots
        self.on_query = on_query  # called once per query sent, for the statistics

    @property
    def name(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def server_ip(self) -> str | None:
        try:
            return str(ipaddress.ip_address(self.host))
        except ValueError:
            return None

    async def query(self, qname: str, rtype: str) -> DnsResult:
        request = dns.message.make_query(qname, rtype, use_edns=0, payload=UDP_PAYLOAD)
        wire = request.to_wire()
        at = datetime.now(timezone.utc)
        started = time.monotonic()
        status, answer, transport = TIMEOUT, None, "udp"
        async with self.slots:
            for _attempt in range(self.attempts):
                if self.on_query:
                    self.on_query()
                try:
                    answer = await self._udp(wire, request.id)
                except TimeoutError:
                    continue
                except OSError:
                    status = UNREACHABLE
                    break
                if _truncated(answer):
                    transport = "tcp"
                    try:
                        answer = await self._tcp(wire)
                    except (OSError, TimeoutError, asyncio.IncompleteReadError):
                        answer, status = None, TIMEOUT
                break
        duration_ms = int((time.monotonic() - started) * 1000)
        if answer is None:
            return DnsResult(qname, rtype, status, self.name, at, duration_ms, transport)
        try:
            message = dns.message.from_wire(answer)
        except (dns.exception.DNSException, ValueError):
            return DnsResult(qname, rtype, MALFORMED, self.name, at, duration_ms, transport, answer)
        if not request.is_response(message):
            return DnsResult(qname, rtype, MALFORMED, self.name, at, duration_ms, transport, answer)
        return DnsResult(qname, rtype, dns.rcode.to_text(message.rcode()), self.name, at, duration_ms, transport,
                         answer, message)

    async def _udp(self, wire: bytes, query_id: int) -> bytes:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _OneAnswer(query_id), remote_addr=(self.host, self.port)
        )
        try:
            transport.sendto(wire)
            return await asyncio.wait_for(protocol.answer, self.timeout)
        finally:
            transport.close()

    async def _tcp(self, wire: bytes) -> bytes:
        async def exchange() -> bytes:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(len(wire).to_bytes(2, "big") + wire)
                await writer.drain()
                length = int.from_bytes(await reader.readexactly(2), "big")
                return await reader.readexactly(length)
            finally:
                writer.transport.abort()

        return await asyncio.wait_for(exchange(), self.timeout)


def _truncated(answer: bytes) -> bool:
    return len(answer) >= 4 and bool(int.from_bytes(answer[2:4], "big") & dns.flags.TC)


class DnsEnricher(Enricher):
    """A, AAAA, CNAME chain, NS, MX, TXT, SOA and CAA for the domain and its `www` host."""

    name = "dns"

    async def enrich(self, site: SiteTarget) -> int:
        questions = [(host, rtype) for host in site.hosts for rtype in RECORD_TYPES]
        answered = await asyncio.gather(*(self._ask(host, rtype) for host, rtype in questions))
        written = 0
        with self.session() as session:
            for results in answered:
                written += self._store(session, site, results)
        return written

    async def _ask(self, host: str, rtype: str) -> list[DnsResult]:
        """The answer to (host, rtype); for CNAME, every hop of the chain."""
        first = await self.context.dns.query(host, rtype)
        if rtype != "CNAME":
            return [first]
        chain = [first]
        seen = {host.lower()}
        while len(chain) <= MAX_CNAME_CHAIN:
            targets, _ttl = chain[-1].records()
            if not targets:
                break
            target = targets[0].rstrip(".").lower()
            if target in seen:
                break  # a loop: what we have is the evidence
            seen.add(target)
            chain.append(await self.context.dns.query(target, "CNAME"))
        return chain

    def _store(self, session: Session, site: SiteTarget, results: list[DnsResult]) -> int:
        first = results[0]
        captures = []
        for result in results:
            if result.wire is not None:
                captures.append(self._capture(session, site, result, parent_id=captures[0] if captures else None))
        if first.rtype == "CNAME":
            answers = [target for result in results for target in result.records()[0]]
            ttls = [ttl for ttl in (result.records()[1] for result in results) if ttl is not None]
            ttl = min(ttls) if ttls else None
        else:
            answers, ttl = first.records()
        values = {
            "run_id": self.run_id, "site_id": site.site_id, "capture_id": captures[0] if captures else None,
            "qname": first.qname, "rtype": first.rtype, "status": first.status, "answers": answers, "ttl": ttl,
            "resolver": first.resolver, "observed_at": first.at,
        }
        observation_id = upsert(session, DnsObservation, values, conflict=["run_id", "qname", "rtype"],
                                update=[name for name in values if name not in ("run_id", "qname", "rtype")])
        written = 1
        if first.rtype in ADDRESS_TYPES:
            for address in answers:
                written += self._store_address(session, site, first, address, observation_id)
        return written

    def _capture(self, session: Session, site: SiteTarget, result: DnsResult, parent_id: int | None) -> int:
        assert result.wire is not None
        headers = {"WARC-Panelmap-Resolver": result.resolver, "WARC-Panelmap-Transport": result.transport,
                   "WARC-Panelmap-Dns-Status": result.status}
        server_ip = self.context.dns.server_ip
        if server_ip:
            headers["WARC-IP-Address"] = server_ip
        return self.context.capture(
            session, site, "dns", f"dns:{result.qname}?type={result.rtype}", "application/dns-message", result.wire,
            at=result.at, extra_headers=headers, server_ip=server_ip, duration_ms=result.duration_ms,
            parent_id=parent_id,
        )

    def _store_address(self, session: Session, site: SiteTarget, result: DnsResult, address: str,
                       observation_id: int) -> int:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return 0
        ip_id = upsert(session, IpAddress,
                       {"address": str(parsed), "version": parsed.version, "first_seen": result.at,
                        "last_seen": result.at},
                       conflict=["address"], update=["last_seen"])
        upsert(session, AddressObservation,
               {"run_id": self.run_id, "site_id": site.site_id, "ip_id": ip_id, "hostname": result.qname,
                "dns_observation_id": observation_id, "observed_at": result.at},
               conflict=["run_id", "site_id", "hostname", "ip_id"], update=["dns_observation_id", "observed_at"])
        return 1


def addresses_of(session: Session, run_id: int, site_id: int) -> list[tuple[int, str, str]]:
    """(ip id, address, host name) of what the site's names resolved to in this run."""
    rows = session.execute(
        select(IpAddress.id, IpAddress.address, AddressObservation.hostname)
        .join(AddressObservation, AddressObservation.ip_id == IpAddress.id)
        .where(AddressObservation.run_id == run_id, AddressObservation.site_id == site_id)
        .order_by(AddressObservation.hostname, IpAddress.address)
    )
    return [(ip_id, address, hostname) for ip_id, address, hostname in rows]
