"""Where the world's sites live: network blocks, addresses, nameservers, mail and the DNS
zone data built from them.

Addresses are ordinary public ones (ipwhois refuses reserved ranges), grouped so that
pivots behave as in the wild: an operator's sites share an IP or a /24, child panels
share Perfect Panel's nameservers, Cloudflare-fronted sites share anycast addresses with
many strangers (a pivot that means nothing), and self-hosted mail names the operator.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from .world import DnsZoneData, NetworkBlock

WORLD_DATE = date(2024, 6, 15)


def _block(
    cidr: str,
    name: str,
    country: str,
    rir: Literal["arin", "ripencc"],
    asn: int,
    asn_name: str,
    asn_country: str,
    org: str,
    abuse: str,
    allocated: date,
) -> NetworkBlock:
    network = ipaddress.ip_network(cidr)
    if rir == "arin":
        handle = "NET6-" if network.version == 6 else "NET-"
        handle += str(network.network_address).upper().replace(":", "-").replace(".", "-").strip("-") + "-1"
    else:
        handle = cidr if network.version == 6 else f"{network.network_address} - {network.broadcast_address}"
    return NetworkBlock(cidr, handle, name, country, rir, asn, asn_name, asn_country, org, abuse, allocated)


NETWORKS: tuple[NetworkBlock, ...] = (
    # "A Russian company in Dubai with an IP address in the Netherlands": the JAP profile.
    _block(
        "193.233.48.0/22",
        "NL-DATAFORT-20220315",
        "NL",
        "ripencc",
        210644,
        "DATAFORT-AS, AE",
        "AE",
        "Datafort Technologies FZE",
        "abuse@datafort-tech.ae",
        date(2022, 3, 15),
    ),
    _block(
        "2a0e:97c0::/29",
        "NL-DATAFORT-V6-20220315",
        "NL",
        "ripencc",
        210644,
        "DATAFORT-AS, AE",
        "AE",
        "Datafort Technologies FZE",
        "abuse@datafort-tech.ae",
        date(2022, 3, 15),
    ),
    _block(
        "198.54.112.0/20",
        "VPSCORE-NET",
        "US",
        "arin",
        397142,
        "VPSCORE, US",
        "US",
        "VPS Core LLC",
        "abuse@vpscore.net",
        date(2019, 8, 2),
    ),
    _block(
        "2602:fd50::/36",
        "VPSCORE-V6",
        "US",
        "arin",
        397142,
        "VPSCORE, US",
        "US",
        "VPS Core LLC",
        "abuse@vpscore.net",
        date(2020, 1, 21),
    ),
    _block(
        "142.202.188.0/22",
        "HOSTNEXUS-BLK",
        "CA",
        "arin",
        400512,
        "HOSTNEXUS, CA",
        "CA",
        "HostNexus Inc.",
        "noc@hostnexus.ca",
        date(2021, 5, 11),
    ),
    _block(
        "45.142.212.0/22",
        "DE-NETKAMP-20191104",
        "DE",
        "ripencc",
        208476,
        "NETKAMP-AS, DE",
        "DE",
        "Netkamp GmbH",
        "abuse@netkamp.de",
        date(2019, 11, 4),
    ),
    _block(
        "91.215.84.0/22",
        "RU-TELESETI-20070801",
        "RU",
        "ripencc",
        57724,
        "TELESETI-AS, RU",
        "RU",
        "Teleseti LLC",
        "abuse@teleseti.ru",
        date(2007, 8, 1),
    ),
    _block(
        "185.241.52.0/22",
        "TR-BULUTHOST-20180912",
        "TR",
        "ripencc",
        211508,
        "BULUTHOST, TR",
        "TR",
        "Bulut Host Bilisim Ltd.",
        "abuse@buluthost.com.tr",
        date(2018, 9, 12),
    ),
    _block(
        "104.16.0.0/13",
        "CLOUDFLARENET",
        "US",
        "arin",
        13335,
        "CLOUDFLARENET, US",
        "US",
        "Cloudflare, Inc.",
        "abuse@cloudflare.com",
        date(2014, 3, 28),
    ),
    _block(
        "172.64.0.0/13",
        "CLOUDFLARENET",
        "US",
        "arin",
        13335,
        "CLOUDFLARENET, US",
        "US",
        "Cloudflare, Inc.",
        "abuse@cloudflare.com",
        date(2015, 2, 25),
    ),
    _block(
        "2606:4700::/32",
        "CLOUDFLARENET",
        "US",
        "arin",
        13335,
        "CLOUDFLARENET, US",
        "US",
        "Cloudflare, Inc.",
        "abuse@cloudflare.com",
        date(2011, 11, 1),
    ),
)


@dataclass(frozen=True)
class Hoster:
    key: str
    v4: str  # CIDR of its IPv4 block
    v6: str | None
    rdns: str  # reverse-DNS domain of its generic PTR names
    server: str  # the Server header its stock images send


HOSTERS: dict[str, Hoster] = {
    h.key: h
    for h in (
        Hoster("datafort", "193.233.48.0/22", "2a0e:97c0::/29", "datafort.host", "nginx"),
        Hoster("vpscore", "198.54.112.0/20", "2602:fd50::/36", "static.vpscore.net", "nginx/1.18.0 (Ubuntu)"),
        Hoster("hostnexus", "142.202.188.0/22", None, "cloud.hostnexus.ca", "Apache"),
        Hoster("netkamp", "45.142.212.0/22", None, "rev.netkamp.de", "nginx"),
        Hoster("teleseti", "91.215.84.0/22", None, "dynamic.teleseti.ru", "nginx/1.20.1"),
        Hoster("buluthost", "185.241.52.0/22", None, "srv.buluthost.com.tr", "LiteSpeed"),
    )
}
_HOSTER_WEIGHTS = (("vpscore", 40), ("netkamp", 15), ("hostnexus", 12), ("teleseti", 12), ("buluthost", 11), ("datafort", 10))
_CLOUDFLARE_NAMES = (
    "ada",
    "amir",
    "beth",
    "carl",
    "dana",
    "elle",
    "finn",
    "gina",
    "hank",
    "ivy",
    "jack",
    "kara",
    "leo",
    "maya",
    "nash",
    "olga",
    "pete",
    "rita",
    "sam",
    "tara",
    "uma",
    "vick",
    "walt",
    "yara",
    "zoe",
)
MX_SETS = {
    "google": (
        "1 aspmx.l.google.com.",
        "5 alt1.aspmx.l.google.com.",
        "5 alt2.aspmx.l.google.com.",
        "10 alt3.aspmx.l.google.com.",
        "10 alt4.aspmx.l.google.com.",
    ),
    "privateemail": ("10 mx1.privateemail.com.", "10 mx2.privateemail.com."),
    "zoho": ("10 mx.zoho.com.", "20 mx2.zoho.com."),
    "yandex": ("10 mx.yandex.net.",),
}
SPF = {
    "google": "v=spf1 include:_spf.google.com ~all",
    "privateemail": "v=spf1 include:spf.privateemail.com ~all",
    "zoho": "v=spf1 include:zoho.com ~all",
    "yandex": "v=spf1 redirect=_spf.yandex.net",
}


@dataclass
class OperatorInfra:
    """Choices an operator makes once: where it hosts, who runs its DNS, its mail."""

    hoster: str
    cdn: bool
    ns_kind: str  # cloudflare | cloudns | perfectdns | self | registrar
    nameservers: tuple[str, ...]
    soa_rname: str
    mail: str  # google | privateemail | zoho | yandex | self | none
    home24: int | None = None  # index of the operator's /24 inside its hoster block
    main_ipv4: str | None = None
    main_ipv6: str | None = None
    cdn_pair: tuple[str, ...] = ()


@dataclass
class Hosting:
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    cdn: bool
    nameservers: tuple[str, ...]
    ns_kind: str
    soa_rname: str
    mail: str
    hoster: str
    www_cname: bool = True
    caa: tuple[str, ...] = ('0 issue "letsencrypt.org"',)

    def networks(self) -> list[NetworkBlock]:
        out: list[NetworkBlock] = []
        for address in self.ipv4 + self.ipv6:
            block = network_for(address)
            if block and block not in out:
                out.append(block)
        return out


_PARSED = tuple((ipaddress.ip_network(block.cidr), block) for block in NETWORKS)


def network_for(address: str) -> NetworkBlock | None:
    ip = ipaddress.ip_address(address)
    return next((block for network, block in _PARSED if ip in network), None)


@dataclass
class Allocator:
    """Hands out addresses without repeats: per hoster /24s, and a small Cloudflare
    anycast pool that many unrelated sites share."""

    rng: random.Random
    _free: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    _cdn_pool: list[tuple[str, str, str, str]] = field(default_factory=list)

    def ipv4(self, hoster: str, home24: int | None) -> tuple[str, int]:
        network = ipaddress.ip_network(HOSTERS[hoster].v4)
        subnets = network.num_addresses // 256
        start = self.rng.randrange(subnets) if home24 is None else home24
        for step in range(subnets):
            index = (start + step) % subnets
            free = self._free.get((hoster, index))
            if free is None:
                free = self._free[(hoster, index)] = list(range(2, 254))
                self.rng.shuffle(free)
            if free:
                return str(network.network_address + index * 256 + free.pop()), index
        raise RuntimeError(f"hoster {hoster} has no free address left")

    def ipv6(self, hoster: str, ipv4: str) -> str | None:
        prefix = HOSTERS[hoster].v6
        if prefix is None:
            return None
        host = int(ipaddress.ip_address(ipv4)) & 0xFFFF
        return str(ipaddress.ip_network(prefix).network_address + (0x1000 << 64) + host)

    def cdn(self) -> tuple[str, ...]:
        """Two anycast IPv4 and two IPv6 addresses from a pool of 24 sets."""
        if not self._cdn_pool:
            for _ in range(24):
                a, b = self.rng.randrange(256), self.rng.randrange(256)
                self._cdn_pool.append(
                    (
                        f"104.21.{a}.{b}",
                        f"172.67.{b}.{a}",
                        f"2606:4700:3030::6815:{a * 256 + b:x}",
                        f"2606:4700:3036::ac43:{b * 256 + a:x}",
                    )
                )
        return self.rng.choice(self._cdn_pool)


def operator_infra(
    rng: random.Random,
    allocator: Allocator,
    primary: str,
    *,
    child_panel: bool = False,
    hoster: str | None = None,
    ns_kind: str | None = None,
) -> OperatorInfra:
    """An operator's hosting and DNS set-up; `child_panel` sites use Perfect Panel's NS."""
    hoster = hoster or rng.choices([k for k, _ in _HOSTER_WEIGHTS], [w for _, w in _HOSTER_WEIGHTS])[0]
    if child_panel:
        kind = "perfectdns"
    else:
        kind = ns_kind or rng.choices(("cloudflare", "cloudns", "self", "registrar"), (35, 30, 15, 20))[0]
    if kind == "cloudflare":
        first, second = rng.sample(_CLOUDFLARE_NAMES, 2)
        nameservers: tuple[str, ...] = (f"{first}.ns.cloudflare.com", f"{second}.ns.cloudflare.com")
        rname = "dns.cloudflare.com"
    elif kind == "cloudns":
        nameservers = tuple(f"dns{i}.cloudns.net" for i in range(1, rng.choice((3, 5))))
        rname = "support.cloudns.net"
    elif kind == "perfectdns":
        nameservers, rname = ("ns1.perfectdns.com", "ns2.perfectdns.com"), "hostmaster.perfectdns.com"
    elif kind == "self":
        nameservers, rname = (f"ns1.{primary}", f"ns2.{primary}"), f"admin.{primary}"
    else:
        nameservers, rname = ("dns1.registrar-servers.com", "dns2.registrar-servers.com"), "hostmaster.registrar-servers.com"
    mail = rng.choices(("google", "privateemail", "zoho", "yandex", "self", "none"), (30, 20, 10, 8, 17, 15))[0]
    infra = OperatorInfra(hoster, kind == "cloudflare" and rng.random() < 0.85, kind, nameservers, rname, mail)
    infra.main_ipv4, infra.home24 = allocator.ipv4(hoster, None)
    infra.main_ipv6 = allocator.ipv6(hoster, infra.main_ipv4) if rng.random() < 0.5 else None
    if infra.cdn:
        infra.cdn_pair = allocator.cdn()
    return infra


def site_hosting(rng: random.Random, allocator: Allocator, op: OperatorInfra, *, share_ip: bool) -> Hosting:
    """One site's addresses: the operator's main IP, or a neighbour in its /24."""
    if op.cdn:
        pair = op.cdn_pair if share_ip else allocator.cdn()
        ipv4, ipv6 = pair[:2], pair[2:]
    else:
        v4 = op.main_ipv4 if share_ip and op.main_ipv4 else allocator.ipv4(op.hoster, op.home24)[0]
        v6 = allocator.ipv6(op.hoster, v4) if op.main_ipv6 else None
        ipv4, ipv6 = (v4,), ((v6,) if v6 else ())
    caa = (
        ('0 issue "letsencrypt.org"', '0 issue "pki.goog"', '0 issue "digicert.com"')
        if op.cdn
        else ('0 issue "letsencrypt.org"',)
    )
    return Hosting(ipv4, ipv6, op.cdn, op.nameservers, op.ns_kind, op.soa_rname, op.mail, op.hoster, rng.random() < 0.6, caa)


def moved(hosting: Hosting, allocator: Allocator, rng: random.Random) -> Hosting:
    """The same site after a move to another hoster (new IP, new ASN)."""
    current = hosting.hoster
    target = rng.choice([key for key in HOSTERS if key != current])
    v4, _ = allocator.ipv4(target, None)
    v6 = allocator.ipv6(target, v4) if hosting.ipv6 else None
    return replace(hosting, ipv4=(v4,), ipv6=(v6,) if v6 else (), cdn=False, hoster=target)


def add_zone(dns: DnsZoneData, domain: str, hosting: Hosting, txt_tokens: dict[str, str]) -> None:
    """Apex, www, mail and reverse records of one site."""
    records = dns.records
    apex: dict[str, list[str]] = {
        "A": list(hosting.ipv4),
        "NS": [f"{ns}." for ns in hosting.nameservers],
        "SOA": [f"{hosting.nameservers[0]}. {hosting.soa_rname}. {WORLD_DATE:%Y%m%d}01 7200 3600 1209600 3600"],
        "CAA": list(hosting.caa),
    }
    if hosting.ipv6:
        apex["AAAA"] = list(hosting.ipv6)
    txt = [f'"{name}={value}"' for name, value in txt_tokens.items()]
    if hosting.mail == "self":
        apex["MX"] = [f"10 mail.{domain}."]
        txt.append(f'"v=spf1 a mx ip4:{hosting.ipv4[0]} ~all"')
        records[f"mail.{domain}"] = {"A": [hosting.ipv4[0]]}
    elif hosting.mail != "none":
        apex["MX"] = list(MX_SETS[hosting.mail])
        txt.append(f'"{SPF[hosting.mail]}"')
    if txt:
        apex["TXT"] = txt
    records[domain] = apex
    if hosting.www_cname:
        records[f"www.{domain}"] = {"CNAME": [f"{domain}."]}
    else:
        www = {"A": list(hosting.ipv4)}
        if hosting.ipv6:
            www["AAAA"] = list(hosting.ipv6)
        records[f"www.{domain}"] = www
    if hosting.ns_kind == "self" and hosting.nameservers[0].endswith("." + domain):
        for ns in hosting.nameservers:
            records.setdefault(ns, {"A": [hosting.ipv4[0]]})
    if not hosting.cdn:
        for address in hosting.ipv4 + hosting.ipv6:
            ptr = (
                f"mail.{domain}."
                if hosting.mail == "self"
                else f"{address.replace('.', '-').replace(':', '-')}.{HOSTERS[hosting.hoster].rdns}."
            )
            records.setdefault(ipaddress.ip_address(address).reverse_pointer, {"PTR": [ptr]})


def hosting_truth(hosting: Hosting) -> dict:
    return {
        "ipv4": list(hosting.ipv4),
        "ipv6": list(hosting.ipv6),
        "cdn": hosting.cdn,
        "hoster": hosting.hoster,
        "networks": [
            {"cidr": b.cidr, "asn": b.asn, "asn_name": b.asn_name, "org": b.org_name, "country": b.country, "rir": b.rir}
            for b in hosting.networks()
        ],
        "ns": list(hosting.nameservers),
        "ns_kind": hosting.ns_kind,
        "soa_rname": hosting.soa_rname,
        "mail": hosting.mail,
        "www_cname": hosting.www_cname,
    }
