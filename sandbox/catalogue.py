"""Real price lists (Nevado-Catalán et al. 2023 sample) and the arithmetic resellers apply.

The CSVs in `data/` are the dataset's raw files, gzip'd byte for byte, so the sandbox
serves names, prices and limits that real panels published. Each file keeps its panel's
own header (`Rate/1000`, `Rate($USD)per1000`, `$RATE/1000`...), hence the header mapping.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Literal

# Currency units per 1 USD, fixed for the world's date: every conversion uses this table,
# and the ground truth publishes it so tests can undo conversions exactly.
RATES_PER_USD: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.79"),
    "INR": Decimal("83.20"),
    "RUB": Decimal("92.50"),
    "TRY": Decimal("32.10"),
    "BRL": Decimal("5.05"),
}

Rounding = Literal["2dp", "3dp", "4dp", "ceil2", "up_x9"]


@dataclass(frozen=True)
class PriceList:
    key: str
    panel: str  # the panel's name in the dataset
    crawled: str  # ISO date of the dataset's crawl
    filename: str


PRICE_LISTS: dict[str, PriceList] = {
    p.key: p
    for p in (
        PriceList("jap", "JustAnotherPanel", "2020-07-16", "justanotherpanel_2020_07_16.csv.gz"),
        PriceList("dripfeed", "Dripfeedpanel", "2020-07-16", "dripfeedpanel_2020_07_16.csv.gz"),
        PriceList("fivebbc", "Fivebbc", "2020-03-20", "fivebbc_2020_03_20.csv.gz"),
        PriceList("followersmm", "FollowerSMM", "2020-07-16", "followersmm_2020_07_16.csv.gz"),
        PriceList("followerskart", "FollowersKart", "2020-07-15", "followerskart_2020_07_15.csv.gz"),
    )
}


@dataclass(frozen=True, slots=True)
class PanelService:
    """One row of a real price list, cleaned of scraping debris."""

    service_id: int
    category: str
    name: str
    rate: Decimal  # per 1000, USD, exactly as the panel printed it ("0.30" keeps its zero)
    min: int
    max: int
    average_time: str  # "" when the panel did not show the column
    description: str


def _field(header: str) -> str | None:
    """Map a squeezed header ("Rate($USD)per1000", "call_receivedMinorder") to a field."""
    h = re.sub(r"[^a-z]", "", header.lower())
    for needle, field in (
        ("category", "category"),
        ("description", "description"),
        ("averagetime", "average_time"),
        ("rate", "rate"),
        ("price", "rate"),
        ("min", "min"),
        ("max", "max"),
        ("service", "name"),
        ("name", "name"),
        ("id", "service_id"),
    ):
        if needle in h:
            return field
    return None


# Saved pages glue button labels and lazy-loaded widgets into the description cell.
_DESCRIPTION_DEBRIS = (
    re.compile(r"^\s*(VIEW DETAILS Description|View Full Details|More)\s*"),
    re.compile(r"\s*example link Loading Start Time Loading guaranteed Loading speed Loading\s*$"),
)


def _clean_description(text: str) -> str:
    for pattern in _DESCRIPTION_DEBRIS:
        text = pattern.sub("", text)
    return " ".join(text.split(" ")).strip()


_PLATFORMS = (
    ("apple music", "Apple Music"),
    ("spotify", "Spotify"),
    ("soundcloud", "SoundCloud"),
    ("deezer", "Deezer"),
    ("audiomack", "Audiomack"),
    ("mixcloud", "Mixcloud"),
    ("shazam", "Shazam"),
    ("youtube", "YouTube"),
    ("instagram", "Instagram"),
    ("igtv", "Instagram"),
    ("tiktok", "TikTok"),
    ("tik tok", "TikTok"),
    ("facebook", "Facebook"),
    ("twitter", "Twitter"),
    ("telegram", "Telegram"),
    ("twitch", "Twitch"),
    ("linkedin", "LinkedIn"),
    ("pinterest", "Pinterest"),
    ("reddit", "Reddit"),
    ("discord", "Discord"),
    ("snapchat", "Snapchat"),
    ("vimeo", "Vimeo"),
    ("dailymotion", "Dailymotion"),
    ("quora", "Quora"),
    ("tumblr", "Tumblr"),
    ("likee", "Likee"),
    ("google", "Google"),
    ("pubg", "PUBG"),
)
_PRODUCTS = (
    "Monthly Listeners",
    "Followers",
    "Subscribers",
    "Members",
    "Likes",
    "Dislikes",
    "Views",
    "Plays",
    "Streams",
    "Comments",
    "Retweets",
    "Reposts",
    "Shares",
    "Saves",
    "Impressions",
    "Votes",
    "Reviews",
    "Mentions",
    "Downloads",
    "Reactions",
)


def platform_of(name: str) -> str | None:
    """The platform a service or category name is about ("Spotify", "YouTube"), if any."""
    lower = name.lower()
    return next((label for needle, label in _PLATFORMS if needle in lower), None)


def categorise(name: str) -> str:
    """A category the way panels name them ("Spotify Plays"), for lists published without one."""
    lower = name.lower()
    if "traffic" in lower:
        return "Website Traffic"
    platform = platform_of(name)
    product = next((p for p in _PRODUCTS if p.lower() in lower), None)
    if platform and product:
        return f"{platform} {product}"
    if platform:
        return f"{platform} Services"
    return "Other Services"


@cache
def load_price_list(key: str) -> tuple[PanelService, ...]:
    """The cleaned rows of one embedded price list, in page order, grouped by category.

    Grouping keeps each category's first appearance and the rows' order inside it, as a
    services page shows them.
    """
    source = PRICE_LISTS[key]
    raw = (resources.files("panelmap.sandbox") / "data" / source.filename).read_bytes()
    reader = csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    header = next(reader)
    columns = [(_field(title), index) for index, title in enumerate(header)]
    services: list[PanelService] = []
    for row in reader:
        cells = {field: row[index].strip() for field, index in columns if field and index < len(row)}
        if not cells.get("service_id", "").isdigit() or not cells.get("rate"):
            continue  # repeated header rows and footer tables
        name = " ".join(cells["name"].split())
        services.append(
            PanelService(
                service_id=int(cells["service_id"]),
                category=" ".join(cells.get("category", "").split()) or categorise(name),
                name=name,
                rate=Decimal(re.sub(r"[^0-9.]", "", cells["rate"])),
                min=int(cells["min"]),
                max=int(cells["max"]),
                average_time=" ".join(cells.get("average_time", "").split()),
                description=_clean_description(cells.get("description", "")),
            )
        )
    order: dict[str, int] = {}
    for service in services:
        order.setdefault(service.category, len(order))
    return tuple(sorted(services, key=lambda s: order[s.category]))


@dataclass(frozen=True)
class Pricing:
    """How a reseller turns an upstream rate into its own: markup, currency, rounding."""

    markup: Decimal
    currency: str = "USD"
    rounding: Rounding = "2dp"

    def factor(self, upstream_currency: str = "USD") -> Decimal:
        """What an upstream rate is multiplied by before rounding."""
        return self.markup * RATES_PER_USD[self.currency] / RATES_PER_USD[upstream_currency]


def round_rate(value: Decimal, rule: Rounding) -> Decimal:
    """Round a positive rate as panel scripts do; a free service stays free.

    "ceil2" rounds up to the cent, "up_x9" rounds up to the next x.x9 (1.231 -> 1.29), and
    no rule turns a paid service into a free one: the smallest unit is the floor.
    """
    if value <= 0:
        return Decimal("0.00")
    if rule == "up_x9":
        tenths = (value * 10).to_integral_value(rounding=ROUND_CEILING)
        candidate = tenths / 10 - Decimal("0.01")
        if candidate < value:
            candidate += Decimal("0.10")
        return candidate.quantize(Decimal("0.01"))
    places = {"2dp": 2, "3dp": 3, "4dp": 4, "ceil2": 2}[rule]
    unit = Decimal(1).scaleb(-places)
    rounded = value.quantize(unit, rounding=ROUND_CEILING if rule == "ceil2" else ROUND_HALF_UP)
    return max(rounded, unit)
