"""What the panel spider yields to the storage pipeline: one record per fact, in crawl order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from panelmap.spiders.items import CatalogueEntry, SoftwareDetection


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
    capture_id: int | None
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
