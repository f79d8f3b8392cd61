"""What a crawl hands to storage, one record per fact, in crawl order.

The spider yields the site records (through the storage pipeline) and asks the
storage process to read each catalogue page; the capture middleware sends the
captures. All of them go to the storage process (`panelmap.spiders.writer`) in
the order they happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from panelmap.spiders.items import CatalogueEntry, SoftwareDetection


@dataclass
class SiteStarted:
    """A seed the crawl is starting on: its run record opens as `running`."""

    domain: str


@dataclass
class ResponseCaptured:
    """A response as received (before redirects or decompression) and the request that got it."""

    record_id: str  # the WARC-Record-ID its response record will have
    domain: str | None
    url: str  # as requested
    final_url: str
    method: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    request_headers: list[tuple[str, str]]
    request_body: bytes
    fetched_at: datetime
    ip_address: str | None
    duration_ms: int | None

    def __repr__(self) -> str:
        return f"ResponseCaptured({self.method} {self.url}, {self.status}, {len(self.body)} bytes)"


@dataclass
class PageRendered:
    """A page Chromium rendered: its DOM, and the screenshots its request asked for."""

    record_id: str  # of the DOM's resource record
    domain: str | None
    url: str
    final_url: str
    status: int
    dom: bytes
    raw_record_id: str | None  # the static fetch of the same page, which the DOM refers to
    fetched_at: datetime
    screenshots: list[tuple[str, bytes]] = field(default_factory=list)  # (record id, PNG)

    def __repr__(self) -> str:
        return f"PageRendered({self.url}, {len(self.dom)} bytes, {len(self.screenshots)} screenshots)"


@dataclass
class SiteSoftwareItem:
    """A site's panel software, as the home page showed it."""

    domain: str
    detection: SoftwareDetection


@dataclass
class CataloguePage:
    """A services page (or API answer) for the storage process to read.

    Pages travel apart from the records, so that the crawl, which waits for
    the answer (a `CatalogueRead`: what to fetch next), never waits behind the
    records queue. The entries read are stored when `StoreCatalogue` comes
    through in the records' order, after the page's own capture.
    """

    domain: str
    source: str  # html / api
    url: str
    capture: str | None  # WARC-Record-ID of the page or API answer
    body: bytes  # decompressed, as the spider saw it
    headers: dict[str, str]  # lower-case names
    currency: str | None = None  # the API account's currency, as `balance` named it
    request_id: int = 0  # set by the storage process's `ask`, to match the answer
    entries: list[CatalogueEntry] | None = None  # set by the storage process once it has read the page

    def __repr__(self) -> str:
        return f"CataloguePage({self.domain}, {self.source}, {self.url}, {len(self.body)} bytes)"


@dataclass
class CatalogueRead:
    """The storage process's answer to a CataloguePage: the services it found and the
    pages that continue the catalogue (pagination, categories); or why it could not."""

    request_id: int
    service_ids: list[str] = field(default_factory=list)
    next_pages: list[str] = field(default_factory=list)
    category_pages: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class StoreCatalogue:
    """Store the entries read from catalogue page `request_id`."""

    request_id: int


@dataclass
class SiteFinishedItem:
    """The end of a site's crawl: how it went and why."""

    domain: str
    status: str  # complete / partial / failed
    reason: str | None
    pages: int
    services: int
    details: dict[str, Any] = field(default_factory=dict)
