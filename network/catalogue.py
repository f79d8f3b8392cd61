"""What the linker compares: each site's current catalogue and its price history, in memory.

Plain records with no database in them, so that the linker can be tested on
hand-built worlds and benchmarked on synthetic ones; `store.load_catalogues`
builds them from the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Listing:
    """One service as a site's latest snapshot shows it.

    Rates are floats: the linker compares ratios within a tolerance, and the exact
    Decimal stays in the database behind `observation_id`.
    """

    key: str  # the panel's own service id
    name: str
    rate: float  # per 1000, in the site's currency
    rate_usd: float | None = None  # None when the currency has no conversion
    min: int | None = None
    max: int | None = None  # None when unlimited or not shown
    description: str | None = None
    category: str | None = None
    platform: str | None = None
    metric: str | None = None
    observation_id: int | None = None

    @property
    def price(self) -> float:
        """The price compared across sites: USD when known, else the site's own currency
        (ratios within one currency still hold)."""
        return self.rate_usd if self.rate_usd is not None else self.rate


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A service's price at one moment of its history."""

    observed_at: datetime
    price: float
    observation_id: int | None = None


@dataclass(slots=True)
class Catalogue:
    """A site's current services, and for each service key its prices over time (oldest first)."""

    site: str
    listings: list[Listing]
    currency: str = "USD"
    history: dict[str, list[PricePoint]] = field(default_factory=dict)
