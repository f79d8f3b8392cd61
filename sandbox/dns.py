"""Authoritative DNS for a sandbox world, over UDP and TCP on one loopback port.

Answers what a crawler's resolver would see for the world's names (CNAME chains
followed inside the data, NXDOMAIN, NODATA, SERVFAIL where the world says so) and
Team Cymru's IP-to-ASN zone from the world's network blocks, so that ipwhois and
`dig` work unchanged. Messages are dnspython's; this module only decides the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from panelmap.sandbox.proxy import StreamListener
from panelmap.sandbox.world import DnsZoneData, NetworkBlock

log = logging.getLogger(__name__)

TCP_IDLE_TIMEOUT = 30.0
MAX_CNAME_CHAIN = 16
_CYMRU_ORIGIN = dns.name.from_text("origin.asn.cymru.com.")
_CYMRU_ORIGIN6 = dns.name.from_text("origin6.asn.cymru.com.")
_CYMRU_ASN = dns.name.from_text("asn.cymru.com.")

Node = dict[dns.rdatatype.RdataType, dns.rrset.RRset]


class ZoneAnswers:
    """The answers for one world, independent of transport.

    Zone rdata is parsed once here, so a typo in generated data fails at start with
    the offending record named, not at query time.
    """

    def __init__(self, zone: DnsZoneData, networks: list[NetworkBlock]) -> None:
        self.ttl = zone.ttl
        self.networks = networks
        self._nodes: dict[dns.name.Name, Node] = {}
        self._names: set[dns.name.Name] = set()  # every owner name and its ancestors
        for owner, records in zone.records.items():
            name = dns.name.from_text(owner.lower().rstrip(".") + ".")
            node = self._nodes.setdefault(name, {})
            for rtype, rdatas in records.items():
                try:
                    rrset = dns.rrset.from_text_list(
                        name, zone.ttl, dns.rdataclass.IN, rtype.upper(), rdatas,
                        origin=dns.name.root, relativize=False,
                    )
                except dns.exception.DNSException as exc:
                    raise ValueError(f"bad {rtype} record for {owner}: {rdatas!r}: {exc}") from exc
                node[rrset.rdtype] = rrset
            while name != dns.name.root:
                self._names.add(name)
                name = name.parent()
        self._servfail = {dns.name.from_text(name.lower().rstrip(".") + ".") for name in zone.servfail}

    def respond(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        elif query.question[0].rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            question = query.question[0]
            rcode, answer = self.resolve(question.name, question.rdtype)
            response.set_rcode(rcode)
            response.answer.extend(answer)
            if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) and not self._answers(answer, question.rdtype):
                soa = self._enclosing_soa(answer[-1][0].target if answer else question.name)
                if soa is not None:
                    response.authority.append(soa)
        return response

    def resolve(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> tuple[dns.rcode.Rcode, list[dns.rrset.RRset]]:
        """(rcode, answer section) as a recursive resolver would hand them on."""
        answer: list[dns.rrset.RRset] = []
        name = qname.canonicalize()
        seen: set[dns.name.Name] = set()
        while True:
            if name in self._servfail or name in seen or len(seen) > MAX_CNAME_CHAIN:
                return dns.rcode.SERVFAIL, []
            seen.add(name)
            node = self._nodes.get(name) or self._cymru_node(name)
            if not node:
                exists = name in self._names
                return (dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN), answer
            if rdtype == dns.rdatatype.ANY:
                return dns.rcode.NOERROR, [*answer, *node.values()]
            if rdtype in node:
                return dns.rcode.NOERROR, [*answer, node[rdtype]]
            cname = node.get(dns.rdatatype.CNAME)
            if cname is None:
                return dns.rcode.NOERROR, answer
            answer.append(cname)
            name = cname[0].target.canonicalize()

    @staticmethod
    def _answers(answer: list[dns.rrset.RRset], rdtype: dns.rdatatype.RdataType) -> bool:
        return any(rrset.rdtype == rdtype or rdtype == dns.rdatatype.ANY for rrset in answer)

    def _enclosing_soa(self, name: dns.name.Name) -> dns.rrset.RRset | None:
        """The SOA of the closest enclosing zone, for negative answers (RFC 2308)."""
        while True:
            soa = self._nodes.get(name, {}).get(dns.rdatatype.SOA)
            if soa is not None or name == dns.name.root:
                return soa
            name = name.parent()

    def _cymru_node(self, name: dns.name.Name) -> Node | None:
        """Team Cymru's TXT answers: origin(6).asn.cymru.com by address, asn.cymru.com by AS."""
        if name.is_subdomain(_CYMRU_ORIGIN) or name.is_subdomain(_CYMRU_ORIGIN6):
            address = _address_from_reverse(name)
            blocks = [block for block in self.networks if address and block.contains(address)]
            texts = [
                f"{b.asn} | {b.cidr} | {b.country} | {b.rir} | {b.allocated.isoformat()}" for b in blocks
            ]
        elif name.is_subdomain(_CYMRU_ASN) and len(name) == len(_CYMRU_ASN) + 1:
            label = name.labels[0].decode("ascii", "replace").upper()
            blocks = [block for block in self.networks if label == f"AS{block.asn}"]
            texts = []
            if blocks:
                first = min(blocks, key=lambda block: block.allocated)
                allocated = first.allocated.isoformat()
                texts = [f"{first.asn} | {first.asn_country} | {first.rir} | {allocated} | {first.asn_name}"]
        else:
            return None
        if not texts:
            return None
        rrset = dns.rrset.from_text_list(
            name, self.ttl, dns.rdataclass.IN, dns.rdatatype.TXT, [_quote(text) for text in texts]
        )
        return {dns.rdatatype.TXT: rrset}

    def respond_wire(self, wire: bytes, max_size: int) -> bytes | None:
        """Answer one wire-format query; None for input too broken to answer at all.

        Over UDP (`max_size` 512 or the client's EDNS size) an answer that does not fit
        goes out empty with TC set, which sends the client to TCP.
        """
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - any parse failure of hostile bytes is a FORMERR
            if len(wire) < 2:
                return None
            formerr = dns.message.Message(id=int.from_bytes(wire[:2], "big"))
            formerr.flags = dns.flags.QR
            formerr.set_rcode(dns.rcode.FORMERR)
            return formerr.to_wire()
        if query.flags & dns.flags.QR:
            return None  # a response, not a query: never answer (no reflection loops)
        response = self.respond(query)
        if query.edns >= 0:
            max_size = max(max_size, min(query.payload, 65535))
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            truncated.set_rcode(response.rcode())
            return truncated.to_wire(max_size=max_size)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _address_from_reverse(name: dns.name.Name) -> str | None:
    """The address in `<reversed octets>.origin.asn.cymru.com` or `<reversed nibbles>.origin6...`."""
    if name.is_subdomain(_CYMRU_ORIGIN6):
        nibbles = [label.decode("ascii", "replace") for label in name.relativize(_CYMRU_ORIGIN6).labels]
        if not 0 < len(nibbles) <= 32 or any(len(n) != 1 for n in nibbles):
            return None
        # ipwhois strips trailing zero groups before reversing; pad them back.
        digits = "".join(reversed(nibbles)).ljust(32, "0")
        text = ":".join(digits[i : i + 4] for i in range(0, 32, 4))
    else:
        octets = [label.decode("ascii", "replace") for label in name.relativize(_CYMRU_ORIGIN).labels]
        if len(octets) != 4:
            return None
        text = ".".join(reversed(octets))
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, answers: ZoneAnswers) -> None:
        self.answers = answers
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            wire = self.answers.respond_wire(data, 512)
        except Exception:
            log.exception("DNS answer failed for a UDP query from %s", addr)
            return
        if wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)


class DnsServer:
    """UDP and TCP listeners on the same loopback port, answering from `ZoneAnswers`."""

    def __init__(self, zone: DnsZoneData, networks: list[NetworkBlock]) -> None:
        self.answers = ZoneAnswers(zone, networks)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp = StreamListener(self._serve_tcp)
        self.port = 0

    async def start(self, host: str, port: int = 0) -> int:
        """Bind UDP, then TCP on the port UDP got (retrying when that TCP port is taken)."""
        loop = asyncio.get_running_loop()
        for _attempt in range(20):
            udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self.answers), local_addr=(host, port))
            bound = udp.get_extra_info("sockname")[1]
            try:
                await self._tcp.start(host, bound)
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp = udp
            self.port = bound
            return bound
        raise OSError(f"no free port on {host} for both UDP and TCP")

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        await self._tcp.close()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """RFC 7766: length-prefixed messages, several per connection."""
        try:
            while True:
                length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT), "big")
                wire = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_TIMEOUT)
                answer = self.answers.respond_wire(wire, 65535)
                if answer is None:
                    break
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        except Exception:
            log.exception("DNS TCP connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)
