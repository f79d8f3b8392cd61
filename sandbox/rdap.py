"""RDAP for the sandbox's network blocks, shaped like ARIN's and RIPE's real answers.

`GET /ip/<address or prefix>`, `/autnum/<n>` and `/entity/<handle>` answer JSON that
ipwhois parses as it parses the RIRs': ARIN nests its points of contact inside the
registrant org and lists the network's abuse POC beside it, gives no network country;
RIPE lists org and abuse-c role side by side, with `country`. Like real RIRs it can be
told to answer 429 for a while, and it counts what it served.

Pointing ipwhois at it (`--rdap URL`): ipwhois builds RDAP URLs from hard-coded RIR
bases (`ipwhois.rdap.RIR_RDAP`, `BOOTSTRAP_URL`) but fetches them through the urllib
`OpenerDirector` it accepts as `proxy_opener`. `ipwhois_opener(url)` returns an opener
that rewrites those bases to `url` (keeping `/ip/...`, `/entity/...`) and refuses any
other URL, so a lookup never leaves for the internet. ipwhois takes the registry from
Team Cymru's DNS zone, so its resolver must point at the same vantage:

    whois = IPWhois(address, proxy_opener=ipwhois_opener(rdap_url))
    whois.net.dns_resolver.nameservers = [dns.nameserver.Do53Nameserver(dns_host, dns_port)]
    result = whois.lookup_rdap(asn_methods=["dns"])
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any
from urllib.parse import unquote, urlsplit

from ipwhois.rdap import BOOTSTRAP_URL, RIR_RDAP

from panelmap.sandbox.proxy import HttpServer
from panelmap.sandbox.world import HttpRequest, HttpResponse, NetworkBlock

RDAP_CONTENT_TYPE = "application/rdap+json"
_SANDBOX_NOTICE = {
    "title": "Sandbox",
    "description": ["Simulated registration data served by the panelmap sandbox; not a real registry."],
}
_INACCURACY = "If you see inaccuracies in the results, please visit the inaccuracy reporting page."
_RIR = {
    "arin": {
        "port43": "whois.arin.net",
        "conformance": ["nro_rdap_profile_0", "rdap_level_0", "cidr0", "arin_originas0"],
        "notices": [
            {
                "title": "Terms of Service",
                "description": [
                    "By using the ARIN RDAP/Whois service, you are agreeing to the RDAP/Whois Terms of Use"
                ],
            },
            {"title": "Whois Inaccuracy Reporting", "description": [_INACCURACY]},
            {"title": "Copyright Notice", "description": ["Copyright American Registry for Internet Numbers"]},
        ],
        "net_type": "DIRECT ALLOCATION",
    },
    "ripencc": {
        "port43": "whois.ripe.net",
        "conformance": ["cidr0", "rdap_level_0", "nro_rdap_profile_0", "redacted"],
        "notices": [
            {"title": "Filtered", "description": ["This output has been filtered."]},
            {"title": "Whois Inaccuracy Reporting", "description": [_INACCURACY]},
            {"title": "Source", "description": ["Objects returned came from source", "RIPE"]},
            {
                "title": "Terms and Conditions",
                "description": ["This is the RIPE Database query service. The objects are in RDAP format."],
            },
        ],
        "net_type": "ASSIGNED PA",
    },
}


class RdapServer:
    """The RDAP API over a world's network blocks.

    Thread-safe where tests touch it from outside the event loop: `rate_limit`,
    `counts`, `reset_counts`.
    """

    def __init__(self, networks: list[NetworkBlock]) -> None:
        self._networks = networks
        self._registry = _Registry(networks)
        self._http = HttpServer(lambda _host: self.handle)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._limited_requests = 0
        self._limited_until = 0.0
        self._retry_after = 1
        self.url = ""

    async def start(self, host: str, port: int = 0) -> int:
        bound = await self._http.start(host, port)
        self.url = f"http://{host}:{bound}"
        return bound

    async def close(self) -> None:
        await self._http.close()

    @property
    def port(self) -> int:
        return self._http.port

    def rate_limit(self, *, requests: int = 0, seconds: float = 0.0, retry_after: int | None = None) -> None:
        """Answer 429 to the next `requests` queries and/or to all queries for `seconds`,
        with `Retry-After: retry_after` (default: `seconds` rounded up, at least 1).
        Each call replaces the previous limit; `rate_limit()` lifts it."""
        with self._lock:
            self._limited_requests = requests
            self._limited_until = time.monotonic() + seconds if seconds else 0.0
            self._retry_after = retry_after if retry_after is not None else max(1, math.ceil(seconds))

    @property
    def counts(self) -> dict[str, int]:
        """Queries so far by kind: 'ip', 'autnum', 'entity', 'other' (answered, found or
        not) and 'rate_limited' (refused with 429)."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = unquote(urlsplit(request.target).path)
        kind, _, argument = path.strip("/").partition("/")
        kind = kind if kind in ("ip", "autnum", "entity") else "other"
        retry_after = self._admit(kind)
        if retry_after is not None:
            retry = [("Retry-After", str(retry_after))]
            return _error(429, "Too Many Requests", "Rate limit exceeded; retry later.", retry)
        if request.method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed", "RDAP answers GET and HEAD only.")
        if kind == "ip":
            return self._lookup_ip(argument)
        if kind == "autnum":
            found = self._registry.autnum(argument, self.url)
            return _json(found) if found else _error(404, "Not Found", f"No autnum {argument!r}.")
        if kind == "entity":
            entity = self._registry.entity(argument, self.url)
            return _json(entity) if entity else _error(404, "Not Found", f"No entity {argument!r}.")
        return _error(400, "Bad Request", f"Unsupported query {path!r}: use /ip/, /autnum/ or /entity/.")

    def _admit(self, kind: str) -> int | None:
        """Count the query; the Retry-After seconds when it is to be refused."""
        with self._lock:
            if self._limited_requests > 0 or time.monotonic() < self._limited_until:
                self._limited_requests = max(0, self._limited_requests - 1)
                self._counts["rate_limited"] += 1
                return self._retry_after
            self._counts[kind] += 1
            return None

    def _lookup_ip(self, argument: str) -> HttpResponse:
        try:
            queried = ipaddress.ip_network(argument, strict=False)
        except ValueError:
            return _error(400, "Bad Request", f"Not an IP address or prefix: {argument!r}.")
        candidates = [
            block for block in self._networks
            if queried.version == ipaddress.ip_network(block.cidr).version
            and queried.subnet_of(ipaddress.ip_network(block.cidr))
        ]
        if not candidates:
            return _error(404, "Not Found", f"No network registered for {argument}.")
        block = max(candidates, key=lambda b: ipaddress.ip_network(b.cidr).prefixlen)
        return _json(self._registry.network(block, self.url))


class _Registry:
    """Handles and JSON objects for the blocks' organisations and abuse contacts.

    Handles follow each RIR's style and are stable for a given world: one org handle per
    organisation name, one abuse contact per address, numbered in block order.
    """

    def __init__(self, networks: list[NetworkBlock]) -> None:
        self._org_handles: dict[tuple[str, str], str] = {}
        self._abuse_handles: dict[tuple[str, str], str] = {}
        self._entities: dict[str, tuple[str, NetworkBlock]] = {}  # HANDLE -> (kind, a block it serves)
        for block in networks:
            org_key, abuse_key = (block.rir, block.org_name), (block.rir, block.abuse_email)
            if org_key not in self._org_handles:
                handle = _org_handle(block, len(self._org_handles) + 1)
                self._org_handles[org_key] = handle
                self._entities[handle.upper()] = ("org", block)
            if abuse_key not in self._abuse_handles:
                number = 1000 + len(self._abuse_handles)
                handle = f"ABUSE{number}-ARIN" if block.rir == "arin" else f"AR{number}-RIPE"
                self._abuse_handles[abuse_key] = handle
                self._entities[handle.upper()] = ("abuse", block)
        self._networks = networks

    def network(self, block: NetworkBlock, base: str) -> dict[str, Any]:
        net = ipaddress.ip_network(block.cidr)
        org, abuse = self._org(block, base), self._abuse(block, base)
        prefix_key = "v4prefix" if net.version == 4 else "v6prefix"
        obj: dict[str, Any] = {
            "rdapConformance": _RIR[block.rir]["conformance"],
            "notices": [*_RIR[block.rir]["notices"], _SANDBOX_NOTICE],
            "objectClassName": "ip network",
            "handle": block.handle,
            "startAddress": str(net.network_address),
            "endAddress": str(net.broadcast_address),
            "ipVersion": f"v{net.version}",
            "name": block.name,
            "type": _RIR[block.rir]["net_type"],
            "parentHandle": _parent_handle(block),
            "status": ["active"],
            "events": _events(block),
            "links": [_link(f"{base}/ip/{net}", "self")],
            "port43": _RIR[block.rir]["port43"],
            "cidr0_cidrs": [{prefix_key: str(net.network_address), "length": net.prefixlen}],
        }
        if block.rir == "arin":
            # ARIN: the org carries its POCs inside; the net's own abuse POC sits beside it.
            obj["entities"] = [{**org, "entities": [abuse]}, abuse]
            obj["arin_originas0_originautnums"] = [block.asn]
        else:
            obj["country"] = block.country
            obj["entities"] = [org, abuse]
        return obj

    def autnum(self, argument: str, base: str) -> dict[str, Any] | None:
        match = re.fullmatch(r"(?i)(?:AS)?(\d+)", argument)
        blocks = [block for block in self._networks if match and block.asn == int(match.group(1))]
        if not blocks:
            return None
        block = min(blocks, key=lambda b: b.allocated)
        return {
            "rdapConformance": _RIR[block.rir]["conformance"],
            "notices": [*_RIR[block.rir]["notices"], _SANDBOX_NOTICE],
            "objectClassName": "autnum",
            "handle": f"AS{block.asn}",
            "startAutnum": block.asn,
            "endAutnum": block.asn,
            "name": block.asn_name.split(",")[0].strip(),
            "status": ["active"],
            "events": _events(block),
            "links": [_link(f"{base}/autnum/{block.asn}", "self")],
            "port43": _RIR[block.rir]["port43"],
            "entities": [self._org(block, base), self._abuse(block, base)],
        }

    def entity(self, handle: str, base: str) -> dict[str, Any] | None:
        found = self._entities.get(handle.upper())
        if found is None:
            return None
        kind, block = found
        entity = self._org(block, base) if kind == "org" else self._abuse(block, base)
        return {
            "rdapConformance": _RIR[block.rir]["conformance"],
            "notices": [*_RIR[block.rir]["notices"], _SANDBOX_NOTICE],
            **entity,
        }

    def _org(self, block: NetworkBlock, base: str) -> dict[str, Any]:
        handle = self._org_handles[(block.rir, block.org_name)]
        return _entity(handle, ["registrant"], block, base, [
            ["fn", {}, "text", block.org_name],
            ["kind", {}, "text", "org"],
            ["adr", {"label": f"{block.org_name}\n{block.country}"}, "text", ["", "", "", "", "", "", block.country]],
        ])

    def _abuse(self, block: NetworkBlock, base: str) -> dict[str, Any]:
        handle = self._abuse_handles[(block.rir, block.abuse_email)]
        name = "Abuse" if block.rir == "arin" else "Abuse contact role object"
        email_params = {} if block.rir == "arin" else {"type": "abuse"}
        return _entity(handle, ["abuse"], block, base, [
            ["fn", {}, "text", name],
            ["kind", {}, "text", "group"],
            ["email", email_params, "text", block.abuse_email],
        ])


def _entity(handle: str, roles: list[str], block: NetworkBlock, base: str, vcard: list[list[Any]]) -> dict[str, Any]:
    return {
        "objectClassName": "entity",
        "handle": handle,
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], *vcard]],
        "roles": roles,
        "events": _events(block),
        "links": [_link(f"{base}/entity/{handle}", "self")],
        "port43": _RIR[block.rir]["port43"],
    }


def _org_handle(block: NetworkBlock, number: int) -> str:
    letters = re.sub(r"[^A-Z0-9]", "", block.org_name.upper()) or "ORG"
    if block.rir == "arin":
        return f"{letters[:5]}-{number}"
    initials = "".join(word[0] for word in re.findall(r"[A-Z0-9]+", block.org_name.upper())[:3]) or "X"
    return f"ORG-{initials}{number}-RIPE"


def _parent_handle(block: NetworkBlock) -> str:
    net = ipaddress.ip_network(block.cidr)
    parent = net.supernet(new_prefix=min(net.prefixlen, 8 if net.version == 4 else 12))
    if block.rir == "ripencc":
        return f"{parent.network_address} - {parent.broadcast_address}" if net.version == 4 else str(parent)
    stem = "NET" if net.version == 4 else "NET6"
    return f"{stem}-{str(parent.network_address).replace('.', '-').replace(':', '-').strip('-')}-0"


def _events(block: NetworkBlock) -> list[dict[str, str]]:
    stamp = f"{block.allocated.isoformat()}T00:00:00Z"
    return [{"eventAction": "registration", "eventDate": stamp}, {"eventAction": "last changed", "eventDate": stamp}]


def _link(href: str, rel: str) -> dict[str, str]:
    return {"value": href, "rel": rel, "type": RDAP_CONTENT_TYPE, "href": href}


def _json(obj: dict[str, Any], status: int = 200, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    body = json.dumps(obj, indent=1).encode()
    return HttpResponse(status, [("Content-Type", RDAP_CONTENT_TYPE), *(headers or [])], body)


def _error(status: int, title: str, description: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return _json({"errorCode": status, "title": title, "description": [description]}, status, headers)


class RdapRedirect(urllib.request.BaseHandler):
    """urllib pre-processor: RIR RDAP URLs go to `base_url`; every other URL is refused."""

    handler_order = 100  # before the http(s) handlers fill in Host from the URL

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        bases = {urls["ip_url"].split("/ip/")[0] for urls in RIR_RDAP.values()} | {BOOTSTRAP_URL}
        self._bases = sorted(bases, key=len, reverse=True)

    def _rewrite(self, request: urllib.request.Request) -> urllib.request.Request:
        url = request.full_url
        if url.startswith(self.base_url + "/"):
            return request
        for base in self._bases:
            if url.startswith(base + "/"):
                request.full_url = self.base_url + url[len(base):]
                return request
        raise urllib.error.URLError(f"refusing {url}: only RDAP queries, sent to {self.base_url}")

    http_request = _rewrite
    https_request = _rewrite


def ipwhois_opener(rdap_url: str) -> urllib.request.OpenerDirector:
    """A `proxy_opener` for ipwhois that sends all its RDAP queries to `rdap_url`
    (environment proxies ignored, non-RDAP URLs refused)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), RdapRedirect(rdap_url))
