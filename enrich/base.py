"""What every enricher shares: its settings, the context it runs in, and the one method it implements.

Each enricher is a small class with one job (Bellingcat auto-archiver style):
`enrich(site)` observes one site and writes what it saw through
`panelmap.storage`, each observation pointing at the capture that holds the raw
bytes it came from. Enrichers never raise for what the world did (an NXDOMAIN,
an expired certificate, a 404 from RDAP): that is an observation. They raise
only when they could not observe, and the runner records that and goes on.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from panelmap import __version__
from panelmap.storage import Database, WarcFileWriter, record_capture
from panelmap.storage.models import Capture

if TYPE_CHECKING:
    from .dns import DnsClient
    from .http import HttpClient
    from .rdap import RdapClient

log = logging.getLogger(__name__)

# Decoded bytes read from one stored response: far above any panel page, far below a gzip bomb.
MAX_PAGE_BYTES = 8 * 1024 * 1024

# Requests per second each registry tolerates from one client: LACNIC about 10 a
# minute; RIPE answers 429 after a few thousand in a row; a few a second is polite elsewhere.
DEFAULT_RDAP_RATES: Mapping[str, float] = MappingProxyType({
    "arin": 5.0, "ripencc": 5.0, "apnic": 5.0, "afrinic": 2.0, "lacnic": 10 / 60, "domain": 2.0, "default": 1.0,
})


@dataclass(frozen=True)
class EnrichmentSettings:
    """Plain settings, as `panelmap` options or a config file give them.

    `resolver` is `HOST[:PORT]` (IPv6 in brackets) or None for the system's
    resolver; `rdap_url` is one RDAP base serving `/ip/<address>` and
    `/domain/<name>` (None: each registry's own server, and a bootstrap
    redirector for domains); `asn_table` switches hosting to offline mode (see
    `hosting.AsnTable` for the file format). `rdap_rates` are requests per
    second by registry (`arin`, `ripencc`..., `domain` or `domain:<tld>`, `default`).
    """

    resolver: str | None = None
    rdap_url: str | None = None
    proxy_url: str | None = None
    ca_bundle: str | Path | None = None
    dns_timeout: float = 2.0
    dns_attempts: int = 2
    http_timeout: float = 15.0  # one whole HTTP exchange (RDAP, favicon)
    tls_timeout: float = 10.0  # connect (through the proxy) and handshake
    concurrency: int = 64  # network operations in flight: DNS queries, handshakes, fetches
    site_concurrency: int = 16  # sites enriched at once
    rdap_rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RDAP_RATES))
    rdap_max_attempts: int = 6  # failed attempts (connection errors, 5xx) before a query is given up
    rdap_max_wait: float = 900.0  # seconds one query may be held back by 429s before it is given up
    rdap_backoff: float = 1.0  # first retry delay when the server names none; doubles each time
    rdap_backoff_max: float = 300.0
    asn_table: str | Path | None = None
    cache_max_age: timedelta = timedelta(days=7)
    user_agent: str = f"panelmap/{__version__} (research crawler)"

    def rdap_rate(self, registry: str) -> float:
        """Requests per second for a registry key: `ripencc`, or `domain:<tld>` (falling back to `domain`)."""
        for key in (registry, registry.split(":")[0], "default"):
            if key in self.rdap_rates:
                return self.rdap_rates[key]
        return DEFAULT_RDAP_RATES["default"]


@dataclass(frozen=True)
class SiteTarget:
    """The site an enricher works on, for one run."""

    site_id: int
    domain: str

    @property
    def hosts(self) -> tuple[str, str]:
        """The names a site answers to: the domain and its `www` host."""
        return self.domain, f"www.{self.domain}"


@dataclass
class EnricherFailure:
    domain: str
    enricher: str
    error: str


@dataclass
class EnrichmentStats:
    """What one enrichment pass did; counters are only touched from the event loop's thread."""

    sites: int = 0
    observations: Counter[str] = field(default_factory=Counter)  # enricher name -> rows written
    failures: list[EnricherFailure] = field(default_factory=list)
    dns_queries: int = 0
    rdap_requests: int = 0  # every HTTP request sent to RDAP, retries included
    rdap_ip_queries: int = 0  # distinct IP-network lookups that reached RDAP
    rdap_rate_limited: int = 0  # 429 answers received (each one retried)
    rdap_cache_hits: int = 0
    networks: set[str] = field(default_factory=set)  # CIDRs of the networks the sites' addresses fall in
    counters: Counter[str] = field(default_factory=Counter)  # anything else worth a number
    elapsed: float = 0.0

    def failed(self, domain: str, enricher: str, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"
        self.failures.append(EnricherFailure(domain, enricher, message))
        log.warning("enricher %s failed on %s: %s", enricher, domain, message)

    @property
    def lookups(self) -> int:
        """Network lookups made: DNS questions, RDAP requests, TLS handshakes, favicon fetches."""
        return (self.dns_queries + self.rdap_requests + self.counters["tls_handshakes"]
                + self.counters["favicon_fetches"])

    def as_dict(self) -> dict[str, object]:
        return {
            "sites": self.sites,
            "observations": dict(self.observations),
            "failures": [failure.__dict__ for failure in self.failures],
            "dns_queries": self.dns_queries,
            "rdap_requests": self.rdap_requests,
            "rdap_ip_queries": self.rdap_ip_queries,
            "rdap_rate_limited": self.rdap_rate_limited,
            "rdap_cache_hits": self.rdap_cache_hits,
            "networks": len(self.networks),
            "lookups": self.lookups,
            "counters": dict(self.counters),
            "elapsed": round(self.elapsed, 3),
        }


@dataclass
class EnrichmentContext:
    """Everything an enricher needs for one run: where to write and the shared clients."""

    database: Database
    run_id: int
    settings: EnrichmentSettings
    warc: WarcFileWriter
    dns: DnsClient
    http: HttpClient
    rdap: RdapClient
    stats: EnrichmentStats
    lookups: asyncio.Semaphore  # bounds network operations across all enrichers

    def capture(self, session: Session, site: SiteTarget | None, kind: str, uri: str, content_type: str,
                payload: bytes, *, at: datetime, extra_headers: dict[str, str] | None = None, **fields: object) -> int:
        """Keep `payload` as a WARC resource record and return the id of its Capture row.

        `fields` are Capture columns (server_ip, http_status, duration_ms...).
        """
        written = self.warc.write_resource(uri, content_type, payload, at=at, extra_headers=extra_headers)
        return record_capture(session, self.run_id, kind, uri, written, site_id=site.site_id if site else None,
                              content_type=content_type, fetched_at=at, **fields)


@dataclass(frozen=True)
class StoredResponse:
    headers: list[tuple[str, str]]
    body: bytes  # Content-Encoding undone, at most `max_bytes`
    complete: bool  # False when the body went on past `max_bytes`

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


def read_capture(capture: Capture, max_bytes: int = MAX_PAGE_BYTES) -> StoredResponse:
    """A captured response's headers and decoded body, reading at most `max_bytes` of it.

    `storage.read_record_payload` inflates the whole body, and a site's gzip bomb
    (1 GiB in the sandbox) would take the enrichment with it.
    """
    with open(capture.warc_file, "rb") as handle:
        handle.seek(capture.warc_offset)
        record = next(iter(ArchiveIterator(handle)))
        headers = list(record.http_headers.headers) if record.http_headers else []
        body = record.content_stream().read(max_bytes + 1)
    return StoredResponse(headers, body[:max_bytes], len(body) <= max_bytes)


class Enricher(ABC):
    """One job per site. Subclasses set `name` and implement `enrich`."""

    name: ClassVar[str]

    def __init__(self, context: EnrichmentContext) -> None:
        self.context = context

    @property
    def run_id(self) -> int:
        return self.context.run_id

    def session(self) -> AbstractContextManager[Session]:
        return self.context.database.session()

    @abstractmethod
    async def enrich(self, site: SiteTarget) -> int:
        """Observe `site` for this run; return the number of observation rows written."""
