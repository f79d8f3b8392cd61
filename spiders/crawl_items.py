"""What a crawl hands to storage, one record per fact, in crawl order.

The spider yields the site and catalogue records (through the storage pipeline);
the capture middleware sends the captures. All of them go to the storage
process (`panelmap.spiders.writer`) in the order they happened.
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
class CatalogueItem:
    """Entries from one services page (or one API answer), with the capture they came from."""

    domain: str
    source: str  # html / api
    url: str
    capture: str | None  # WARC-Record-ID of the page or API answer
    entries: list[CatalogueEntry]

    def __repr__(self) -> str:  # Scrapy logs every item: a whole catalogue would drown the log
        return f"CatalogueItem({self.domain}, {self.source}, {self.url}, {len(self.entries)} entries)"


@dataclass
class SiteFinishedItem:
    """The end of a site's crawl: how it went and why."""

    domain: str
    status: str  # complete / partial / failed
    reason: str | None
    pages: int
    services: int
    details: dict[str, Any] = field(default_factory=dict)
