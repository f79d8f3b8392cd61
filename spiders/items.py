"""What the page extractors hand to the crawler: plain, typed records.

They carry no parsing state and no Scrapy objects, so extractors can be tested
on saved pages and the pipeline can store them as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

Source = Literal["html", "api"]
Software = Literal["perfect_panel", "smartpanel", "rental_clone", "unknown"]


@dataclass(slots=True)
class CatalogueEntry:
    """One service as a panel lists it, with its normalised taxonomy.

    `rate` is per 1000 in `currency`; `rate_text` is the cell as displayed
    (white space collapsed), kept because it is what a person can check against
    a capture. `currency_assumed` is True when nothing on the page named the
    currency and USD was taken by default: a converted rate built on it is a
    guess, and an evidence report should say so. `max_quantity` is None with
    `max_unlimited` when the panel shows its integer ceiling (2147483647 or
    more, see `numbers.UNLIMITED_MAX`).
    """

    service_id: str
    name: str
    rate: Decimal
    rate_text: str
    currency: str
    currency_assumed: bool = False
    category: str | None = None
    min_quantity: int | None = None
    max_quantity: int | None = None
    max_unlimited: bool = False
    average_time: str | None = None
    description: str | None = None
    refill: bool | None = None
    cancel: bool | None = None
    dripfeed: bool | None = None
    source: Source = "html"
    platform: str | None = None
    metric: str | None = None
    geo: list[str] = field(default_factory=list)
    device: str | None = None
    premium: bool | None = None
    guarantee_days: int | None = None

    def price_fields(self, usd_rate: Decimal | None) -> dict[str, Any]:
        """The PriceObservation columns this entry fills, with its rate in USD (None when unknown)."""
        return {
            "name": self.name, "category": self.category, "description": self.description,
            "rate": self.rate, "rate_text": self.rate_text, "currency": self.currency,
            "currency_assumed": self.currency_assumed, "rate_usd": usd_rate,
            "min_quantity": self.min_quantity, "max_quantity": self.max_quantity,
            "max_unlimited": self.max_unlimited, "average_time": self.average_time,
            "refill": self.refill, "cancel": self.cancel, "dripfeed": self.dripfeed,
            "platform": self.platform, "metric": self.metric, "geo": self.geo,
            "device": self.device, "premium": self.premium, "guarantee_days": self.guarantee_days,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the rate as an exact string."""
        data = asdict(self)
        data["rate"] = format(self.rate, "f")
        return data


@dataclass(slots=True)
class SoftwareDetection:
    """Which panel software a site runs, with the strings that showed it.

    `tenant_code` is the Perfect Panel asset folder (`storage.perfectcdn.com/<code>/`),
    an infrastructure pivot between sites of one operator.
    """

    software: Software
    evidence: list[str] = field(default_factory=list)
    tenant_code: str | None = None


@dataclass(slots=True)
class PageExtraction:
    """What one services page gave: its entries and the pages to fetch next.

    `next_pages` are pagination links; `category_pages` are per-category listings
    some themes split the catalogue into. Both are absolute URLs, in page order,
    without the page itself.
    """

    url: str
    extractor: str
    entries: list[CatalogueEntry] = field(default_factory=list)
    next_pages: list[str] = field(default_factory=list)
    category_pages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "extractor": self.extractor,
            "entries": [entry.to_dict() for entry in self.entries],
            "next_pages": list(self.next_pages),
            "category_pages": list(self.category_pages),
        }
