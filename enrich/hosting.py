"""Hosting: for each address a site resolved to, its origin AS and its registry network.

ASN comes from Team Cymru's DNS interface through the configured resolver (one
TXT query, fast, no rate limit) or, offline, from an ip-to-ASN table file.
The network (name, handle, range, country, abuse contacts) comes from RDAP,
once per network: a fresh Network row covering the address answers without a
query, and addresses in one announced prefix are looked up one after another
so that the second finds the first's network in the cache.

ipwhois does the parsing (`IPASN.parse_fields_dns` for Cymru's TXT,
`RDAP.lookup(response=...)` for the network object); the fetching is ours,
because ipwhois sleeps a fixed 120 s on a 429 whatever `Retry-After` says,
keeps no raw bytes and is synchronous. Giving `RDAP.lookup` the `response`
skips its own HTTP query; with `root_ent_check=False` it fetches no entities.
"""

from __future__ import annotations

import asyncio
import csv
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ipwhois.asn import IPASN
from ipwhois.exceptions import ASNParseError, ASNRegistryError, IPDefinedError
from ipwhois.net import Net
from ipwhois.rdap import RDAP
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap.storage import upsert
from panelmap.storage.models import IpAddress, Network

from .base import Enricher, EnrichmentContext, SiteTarget
from .dns import DnsResult, addresses_of
from .rdap import RdapError, vcard_values

log = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AsnInfo:
    """An address's origin AS as Team Cymru (or the offline table) states it."""

    asn: int
    cidr: str  # the announced prefix
    country: str | None  # the AS's country
    registry: str | None  # arin / ripencc / apnic / lacnic / afrinic
    name: str | None = None  # "SERVERIUS-AS, NL"


class PrefixMap:
    """Longest-prefix match over networks, by trying each prefix length (33 or 129 dict look-ups)."""

    def __init__(self) -> None:
        self._by_length: dict[tuple[int, int], dict[IpNetwork, Any]] = {}

    def add(self, network: IpNetwork, value: Any) -> None:
        self._by_length.setdefault((network.version, network.prefixlen), {})[network] = value

    def lookup(self, address: str) -> tuple[IpNetwork, Any] | None:
        parsed = ipaddress.ip_address(address)
        lengths = sorted((length for version, length in self._by_length if version == parsed.version), reverse=True)
        for length in lengths:
            network = ipaddress.ip_network(f"{parsed}/{length}", strict=False)
            value = self._by_length[(parsed.version, length)].get(network)
            if value is not None:
                return network, value
        return None


class AsnTable:
    """The offline ip-to-ASN table: a CSV file with the header

        cidr,asn,asn_name,country,registry

    one announced prefix a line (`185.212.40.0/22,64500,"HOSTBRIDGE-AS, NL",NL,ripencc`);
    lines starting with `#` are comments. The most specific prefix wins.
    """

    COLUMNS = ("cidr", "asn", "asn_name", "country", "registry")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._prefixes = PrefixMap()
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = csv.DictReader(line for line in handle if line.strip() and not line.startswith("#"))
            missing = set(self.COLUMNS) - set(rows.fieldnames or ())
            if missing:
                raise ValueError(f"{self.path}: missing columns {sorted(missing)}; expected {','.join(self.COLUMNS)}")
            for row in rows:
                network = ipaddress.ip_network(row["cidr"].strip(), strict=False)
                self._prefixes.add(network, AsnInfo(
                    asn=int(row["asn"].strip().upper().removeprefix("AS")), cidr=str(network),
                    country=row["country"].strip().upper() or None, registry=row["registry"].strip().lower() or None,
                    name=row["asn_name"].strip() or None,
                ))

    def lookup(self, address: str) -> AsnInfo | None:
        found = self._prefixes.lookup(address)
        return found[1] if found else None


def reverse_name(address: str) -> str:
    """Team Cymru's query name: `<reversed octets>.origin.asn.cymru.com` or the nibble form for IPv6."""
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        return ".".join(reversed(str(parsed).split("."))) + ".origin.asn.cymru.com"
    nibbles = parsed.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + ".origin6.asn.cymru.com"


class CymruAsn:
    """ASN by Team Cymru's DNS interface, through the enrichment resolver.

    The origin answer gives the AS and its announced prefix; the AS answer (cached per
    AS) its name and its own country, which may differ from where the prefix is used
    (a company registered in Dubai announcing Dutch addresses).
    """

    def __init__(self, context: EnrichmentContext) -> None:
        self.context = context
        self._autonomous_systems: dict[int, asyncio.Task[tuple[str | None, str | None]]] = {}

    async def lookup(self, address: str, site: SiteTarget) -> AsnInfo | None:
        result = await self.context.dns.query(reverse_name(address), "TXT")
        self._keep(result, site)
        texts, _ttl = result.records()
        candidates = [info for info in (_parse_origin(address, text) for text in texts) if info is not None]
        if not candidates:
            return None
        # Several origins: the most specific announcement is the one that routes the address.
        best = max(candidates, key=lambda info: ipaddress.ip_network(info.cidr).prefixlen)
        if best.asn not in self._autonomous_systems:
            self._autonomous_systems[best.asn] = asyncio.ensure_future(self._describe(best.asn, site))
        name, country = await self._autonomous_systems[best.asn]
        return AsnInfo(best.asn, best.cidr, country or best.country, best.registry, name)

    async def _describe(self, asn: int, site: SiteTarget) -> tuple[str | None, str | None]:
        """(AS name, AS country) from `"64500 | NL | ripencc | 2016-03-01 | HOSTBRIDGE-AS, NL"`."""
        result = await self.context.dns.query(f"AS{asn}.asn.cymru.com", "TXT")
        self._keep(result, site)
        texts, _ttl = result.records()
        for text in texts:
            fields = [field.strip() for field in text.split("|")]
            if len(fields) >= 5 and fields[0] == str(asn):
                return "|".join(fields[4:]).strip() or None, fields[1].upper() or None
        return None, None

    def _keep(self, result: DnsResult, site: SiteTarget) -> None:
        """The answer is the evidence for the AS attribution: keep its bytes."""
        if result.wire is None:
            return
        with self.context.database.session() as session:
            self.context.capture(
                session, site, "dns", f"dns:{result.qname}?type={result.rtype}", "application/dns-message",
                result.wire, at=result.at, server_ip=self.context.dns.server_ip, duration_ms=result.duration_ms,
                extra_headers={"WARC-Panelmap-Resolver": result.resolver, "WARC-Panelmap-Dns-Status": result.status},
            )


def _parse_origin(address: str, text: str) -> AsnInfo | None:
    """`"64500 | 185.212.40.0/22 | NL | ripencc | 2016-03-01"` through ipwhois's parser."""
    try:
        fields = IPASN(Net(address)).parse_fields_dns(text)
    except (ASNParseError, ASNRegistryError, IPDefinedError):
        return None
    asn = fields["asn"].split()[0]  # several origins print as "64500 64501"
    if not asn.isdigit():
        return None
    return AsnInfo(int(asn), fields["asn_cidr"], fields["asn_country_code"] or None, fields["asn_registry"])


@dataclass(frozen=True)
class RegistryNetwork:
    """What RDAP says about the network holding an address."""

    cidrs: list[str]  # the range as CIDRs (a range need not be one prefix)
    name: str | None
    handle: str | None
    country: str | None
    abuse_emails: list[str]


def parse_rdap_network(address: str, data: dict[str, Any]) -> RegistryNetwork:
    """ipwhois parses the network object; abuse contacts are read from every level of
    entities, since ARIN nests its abuse POC inside the registrant org."""
    parsed = RDAP(Net(address)).lookup(response=data, bootstrap=True, root_ent_check=False)
    network = parsed["network"] or {}
    cidrs = [cidr.strip() for cidr in (network.get("cidr") or "").split(",") if cidr.strip()]
    country = network.get("country") or _registrant_country(data)
    return RegistryNetwork(cidrs, network.get("name"), network.get("handle"), country, abuse_emails(data))


def _entities(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for entity in data.get("entities") or []:
        if isinstance(entity, dict):
            found.append(entity)
            found.extend(_entities(entity))
    return found


def abuse_emails(data: dict[str, Any]) -> list[str]:
    emails = {
        str(value).strip().lower()
        for entity in _entities(data) if "abuse" in (entity.get("roles") or [])
        for value in vcard_values(entity, "email") if value
    }
    return sorted(emails)


def _registrant_country(data: dict[str, Any]) -> str | None:
    """ARIN gives networks no country; its registrant's postal address has one."""
    for entity in _entities(data):
        if "registrant" in (entity.get("roles") or []):
            for address in vcard_values(entity, "adr"):
                if isinstance(address, list) and address and len(str(address[-1])) == 2:
                    return str(address[-1]).upper()
    return None


@dataclass(frozen=True)
class NetworkLookup:
    network_id: int | None
    problem: str | None = None  # why the registry data is missing, when it is


class NetworkDirectory:
    """Finds or fetches the Network row covering an address: one RDAP query per network."""

    def __init__(self, context: EnrichmentContext) -> None:
        self.context = context
        self.offline = AsnTable(context.settings.asn_table) if context.settings.asn_table else None
        self.cymru = CymruAsn(context)
        self._cache = PrefixMap()  # network -> Network.id, only rows from a fresh RDAP answer
        self._locks: dict[str, asyncio.Lock] = {}
        self._load_fresh_networks()

    def _load_fresh_networks(self) -> None:
        oldest = datetime.now(timezone.utc) - self.context.settings.cache_max_age
        with self.context.database.session() as session:
            rows = session.execute(
                select(Network.id, Network.cidr)
                .where(Network.rdap_capture_id.is_not(None), Network.fetched_at >= oldest)
            )
            for network_id, cidr in rows:
                self._cache.add(ipaddress.ip_network(cidr), network_id)

    async def network_for(self, address: str, site: SiteTarget) -> NetworkLookup:
        """The Network row for `address`. Addresses no registry describes (private, reserved)
        get none; an RDAP failure still links the address to its AS when Cymru named one."""
        if not ipaddress.ip_address(address).is_global:
            return NetworkLookup(None)
        hit = self._hit(address)
        if hit is not None:
            return NetworkLookup(hit)
        if self.offline is not None:
            return NetworkLookup(self._store_offline(address))
        asn = await self.cymru.lookup(address, site)
        # One prefix at a time: the second address of a network then finds the first's answer.
        prefix = asn.cidr if asn else _neighbourhood(address)
        async with self._locks.setdefault(prefix, asyncio.Lock()):
            hit = self._hit(address)
            if hit is not None:
                return NetworkLookup(hit)
            try:
                return NetworkLookup(await self._fetch(address, asn, site))
            except RdapError as exc:
                return NetworkLookup(self._store_asn_only(asn), str(exc))

    def _hit(self, address: str) -> int | None:
        found = self._cache.lookup(address)
        if found is None:
            return None
        self.context.stats.rdap_cache_hits += 1
        self.context.stats.networks.add(str(found[0]))
        return found[1]

    async def _fetch(self, address: str, asn: AsnInfo | None, site: SiteTarget) -> int | None:
        rdap = self.context.rdap
        self.context.stats.rdap_ip_queries += 1
        response = await rdap.fetch(rdap.ip_url(address, asn.registry if asn else None),
                                    asn.registry if asn and asn.registry else "default")
        with self.context.database.session() as session:  # the answer is kept whatever it says
            capture_id = self.context.capture(
                session, site, "rdap", response.url, response.content_type, response.body,
                at=response.fetched_at, http_status=response.status, server_ip=response.peer_ip,
                duration_ms=response.duration_ms,
            )
        if not response.found:  # the registry has no record: an observation; the AS still stands
            self.context.stats.counters["rdap_not_found"] += 1
            return self._store_asn_only(asn)
        try:
            registered = parse_rdap_network(address, response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise RdapError(f"{response.url} answered an unreadable network object: {exc}") from exc
        if not registered.cidrs:
            raise RdapError(f"{response.url} gave no address range")
        with self.context.database.session() as session:
            ids = self._store(session, registered.cidrs, asn, registered, capture_id)
        for cidr, network_id in ids.items():
            self._cache.add(ipaddress.ip_network(cidr), network_id)
        found = self._cache.lookup(address)
        if found is None:
            raise RdapError(f"{response.url} describes {', '.join(registered.cidrs)}, which does not hold {address}")
        self.context.stats.networks.add(str(found[0]))
        return found[1]

    def _store_asn_only(self, asn: AsnInfo | None) -> int | None:
        if asn is None:
            return None
        self.context.stats.networks.add(asn.cidr)
        with self.context.database.session() as session:
            return self._store(session, [asn.cidr], asn, None, None)[asn.cidr]

    def _store(self, session: Session, cidrs: list[str], asn: AsnInfo | None, registered: RegistryNetwork | None,
               capture_id: int | None) -> dict[str, int]:
        now = datetime.now(timezone.utc)
        ids = {}
        for cidr in cidrs:
            values: dict[str, Any] = {"cidr": cidr, "fetched_at": now}
            if asn is not None:
                values.update(asn=asn.asn, asn_cidr=asn.cidr, asn_description=asn.name, asn_country=asn.country,
                              rir=asn.registry)
            if registered is not None:
                values.update(name=registered.name, handle=registered.handle, country=registered.country,
                              abuse_emails=registered.abuse_emails, rdap_capture_id=capture_id)
            ids[cidr] = upsert(session, Network, values, conflict=["cidr"],
                               update=[name for name in values if name != "cidr"])
        return ids

    def _store_offline(self, address: str) -> int | None:
        assert self.offline is not None
        info = self.offline.lookup(address)
        if info is None:
            return None
        self.context.stats.networks.add(info.cidr)
        with self.context.database.session() as session:
            # Only the AS columns: an RDAP answer stored earlier for the same prefix keeps its registry data.
            values = {"cidr": info.cidr, "asn": info.asn, "asn_cidr": info.cidr, "asn_description": info.name,
                      "asn_country": info.country, "rir": info.registry}
            return upsert(session, Network, values, conflict=["cidr"],
                          update=["asn", "asn_cidr", "asn_description", "asn_country", "rir"])


def _neighbourhood(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) around an address no AS was found for."""
    parsed = ipaddress.ip_address(address)
    return str(ipaddress.ip_network(f"{parsed}/{24 if parsed.version == 4 else 48}", strict=False))


class HostingEnricher(Enricher):
    """Links each address a site resolved to in this run to its Network (ASN, registry data)."""

    name = "hosting"

    def __init__(self, context: EnrichmentContext) -> None:
        super().__init__(context)
        self.directory = NetworkDirectory(context)

    async def enrich(self, site: SiteTarget) -> int:
        with self.session() as session:
            addresses = sorted({address for _id, address, _host in addresses_of(session, self.run_id, site.site_id)})
        lookups = await asyncio.gather(*(self.directory.network_for(address, site) for address in addresses))
        written = 0
        with self.session() as session:
            for address, lookup in zip(addresses, lookups, strict=True):
                if lookup.network_id is not None:
                    written += _link_address(session, address, lookup.network_id)
        problems = [f"{address}: {lookup.problem}"
                    for address, lookup in zip(addresses, lookups, strict=True) if lookup.problem]
        if problems:
            raise RdapError("; ".join(problems))
        return written


def _link_address(session: Session, address: str, network_id: int) -> int:
    parsed = ipaddress.ip_address(address)
    now = datetime.now(timezone.utc)
    upsert(session, IpAddress, {"address": address, "version": parsed.version, "network_id": network_id,
                                "first_seen": now, "last_seen": now},
           conflict=["address"], update=["network_id"])
    return 1
