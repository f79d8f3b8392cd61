"""How each site's served catalogue follows from a real price list or from its upstreams.

A reseller keeps an upstream's min/max and applies one markup, currency and rounding rule
to every imported service (section 4 of DOMAIN.md); renaming, re-categorising and own ids
are the cosmetic layer on top. Per-service pseudo-randomness (average times, which names
get an emoji) hashes the site and service, so it is stable across epochs and sizes.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

from .catalogue import RATES_PER_USD, PanelService, Pricing, Rounding, categorise, load_price_list, platform_of, round_rate
from .site_base import NumberFormat, Offer

MUSIC_PLATFORMS = {"Spotify", "SoundCloud", "Apple Music", "Deezer", "Audiomack", "Mixcloud", "Shazam", "YouTube"}
AverageStyle = Literal["classic", "constructor", "none"]
_EMOJI = ("🔥", "⚡", "⭐", "💎", "✅", "🚀")
_REFILL = re.compile(r"\bR(?:\d+|∞)\b|refill|guarantee|lifetime", re.IGNORECASE)
_NO_REFILL = re.compile(r"\bno[\s-]?refill|\bnon[\s-]?refill", re.IGNORECASE)


def _hash(first: object, second: object) -> int:
    return zlib.crc32(f"{first}:{second}".encode())


@dataclass(frozen=True)
class Presentation:
    """How one site prints its catalogue."""

    domain: str
    brand: str
    currency: str
    number_format: NumberFormat
    average: AverageStyle


@dataclass
class Feed:
    """A reseller's import from one upstream: `ids` maps each imported upstream service id
    to the reseller's own id, in the reseller's order."""

    upstream: str
    pricing: Pricing
    ids: dict[int, int]
    id_scheme: str = "keep"  # keep | offset | sequential
    renaming: str = "keep"  # keep | emoji | id_prefix | debrand | reorder
    recategorise: str = "keep"  # keep | emoji | platform | strip
    descriptions: bool = True


@dataclass(frozen=True)
class Independent:
    """A service priced on its own, with no markup relation to anything served: decoys and
    the few services resellers source elsewhere."""

    source: str  # price list key
    service_id: int
    own_id: int
    factor: Decimal
    min: int
    max: int


@cache
def flags(service: PanelService) -> tuple[str, bool, bool, bool]:
    """(type, refill, cancel, dripfeed) as a panel would set them for this service."""
    text = f"{service.name} {service.description}"
    lower = text.lower()
    refill = bool(_REFILL.search(text)) and not _NO_REFILL.search(text)
    if "comment" in lower and "custom" in lower:
        kind = "Custom Comments"
    elif "package" in lower:
        kind = "Package"
    elif "subscription" in lower or "auto " in lower:
        kind = "Subscriptions"
    else:
        kind = "Default"
    return kind, refill, _hash("cancel", service.service_id) % 3 == 0, "drip" in lower


def average_time(seed: int, style: AverageStyle, measured: str = "") -> str:
    """A Perfect Panel "Average time": the panel's own measure, or one made up for the site."""
    if style == "none":
        return ""
    if not measured:
        if seed % 5 < 2:
            measured = "Not enough data"
        else:
            hours, minutes = seed // 7 % 180, seed // 11 % 60
            parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
            parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
            measured = " and ".join(parts)
    return measured.replace(" and ", " ") if style == "constructor" else measured


def _offer(
    pres: Presentation,
    service_id: int,
    category: str,
    name: str,
    rate: Decimal,
    low: int,
    high: int,
    average: str,
    description: str,
    kind: str,
    refill: bool,
    cancel: bool,
    dripfeed: bool,
    upstream: tuple[str, int] | None,
) -> Offer:
    fmt = pres.number_format
    return Offer(
        service_id,
        category,
        name,
        rate,
        fmt.money(rate),
        low,
        high,
        fmt.quantity(low),
        fmt.quantity(high),
        average,
        description,
        kind,
        refill,
        cancel,
        dripfeed,
        upstream,
    )


def upstream_offers(pres: Presentation, services: Iterable[PanelService]) -> tuple[Offer, ...]:
    """An upstream panel serves its real price list as published."""
    return tuple(
        _offer(
            pres,
            s.service_id,
            s.category,
            s.name,
            s.rate,
            s.min,
            s.max,
            average_time(_hash(pres.domain, s.service_id), pres.average, s.average_time),
            s.description,
            *flags(s),
            None,
        )
        for s in services
    )


def rename(name: str, own_id: int, rule: str, brand: str) -> str:
    if rule == "emoji":
        h = zlib.crc32(name.encode())
        return f"{name} {_EMOJI[h % len(_EMOJI)]}" if h % 2 else name
    if rule == "id_prefix":
        return f"ID {own_id} - {name}"
    if rule == "debrand":
        return re.sub(r"\bJAP\b", brand.split()[0].upper(), name)
    if rule == "reorder":
        groups = re.findall(r"\[[^\]]*\]", name)
        text = " ".join(re.sub(r"\[[^\]]*\]", " ", name).split())
        return " ".join([*groups, text]) if groups and text else name
    return name


def recategorise(category: str, name: str, rule: str) -> str:
    if rule == "emoji":
        return f"{_EMOJI[zlib.crc32(category.encode()) % len(_EMOJI)]} {category}"
    if rule == "platform":
        return f"{platform_of(category) or platform_of(name) or 'Other'} Services"
    if rule == "strip":
        return category.lstrip("- ").strip() or category
    return category


def group_by_category(offers: Iterable[Offer]) -> tuple[Offer, ...]:
    """Stable sort by each category's first appearance: the order a services page shows."""
    offers = list(offers)
    order: dict[str, int] = {}
    for offer in offers:
        order.setdefault(offer.category, len(order))
    return tuple(sorted(offers, key=lambda o: order[o.category]))


UpstreamView = tuple[dict[int, Offer], str]  # an upstream's offers by service id, and its currency


def reseller_offers(
    pres: Presentation,
    feeds: Sequence[Feed],
    upstreams: dict[str, UpstreamView],
    independents: Sequence[Independent],
    rounding: Rounding,
) -> tuple[Offer, ...]:
    """A reseller's catalogue: each feed's imported services that the upstream still sells,
    then its independently priced services."""
    out: list[Offer] = []
    for feed in feeds:
        by_id, currency = upstreams[feed.upstream]
        factor, rule = feed.pricing.factor(currency), feed.pricing.rounding
        for upstream_id, own_id in feed.ids.items():
            u = by_id.get(upstream_id)
            if u is None:
                continue  # the upstream disabled it; the reseller's sync follows
            category = u.category if feed.recategorise == "keep" else recategorise(u.category, u.name, feed.recategorise)
            name = u.name if feed.renaming == "keep" else rename(u.name, own_id, feed.renaming, pres.brand)
            out.append(
                _offer(
                    pres,
                    own_id,
                    category,
                    name,
                    round_rate(u.rate * factor, rule),
                    u.min,
                    u.max,
                    average_time(_hash(pres.domain, own_id), pres.average),
                    u.description if feed.descriptions else "",
                    u.type,
                    u.refill,
                    u.cancel,
                    u.dripfeed,
                    (feed.upstream, upstream_id),
                )
            )
    out.extend(independent_offers(pres, independents, rounding))
    return group_by_category(out)


def independent_offers(pres: Presentation, independents: Sequence[Independent], rounding: Rounding) -> list[Offer]:
    sources = {key: {s.service_id: s for s in load_price_list(key)} for key in {i.source for i in independents}}
    out = []
    for item in independents:
        s = sources[item.source][item.service_id]
        rate = round_rate(s.rate * item.factor * RATES_PER_USD[pres.currency], rounding)
        out.append(
            _offer(
                pres,
                item.own_id,
                categorise(s.name),
                s.name,
                rate,
                item.min,
                item.max,
                average_time(_hash(pres.domain, item.own_id), pres.average),
                s.description,
                *flags(s),
                None,
            )
        )
    return out


@dataclass
class PickIndex:
    """An upstream's services by category, built once and shared by all its resellers."""

    position: dict[int, int]  # service id -> page position
    categories: dict[str, list[int]]
    music: list[str]  # categories about music platforms

    @classmethod
    def of(cls, offers: Sequence[Offer | PanelService]) -> PickIndex:
        categories: dict[str, list[int]] = {}
        names: dict[str, str] = {}
        for offer in offers:
            categories.setdefault(offer.category, []).append(offer.service_id)
            names.setdefault(offer.category, offer.name)
        music = [c for c in categories if (platform_of(c) or platform_of(names[c])) in MUSIC_PLATFORMS]
        return cls({o.service_id: i for i, o in enumerate(offers)}, categories, music)


def pick_services(rng: random.Random, index: PickIndex, size: int, *, music_only: bool = False) -> list[int]:
    """Which upstream services a reseller imports, in page order: whole categories at a
    time (at most a quarter of the wanted size from any one), as owners import by category."""
    names = list(index.music if music_only and index.music else index.categories)
    rng.shuffle(names)
    cap = max(12, size // 4)
    chosen: list[int] = []
    for name in names:
        members = index.categories[name]
        chosen.extend(members if len(members) <= cap else rng.sample(members, cap))
        if len(chosen) >= size:
            break
    if len(chosen) > size:
        chosen = rng.sample(chosen, size)
    return sorted(chosen, key=index.position.__getitem__)


def assign_ids(rng: random.Random, upstream_ids: list[int], scheme: str, start: int | None = None) -> dict[int, int]:
    """Own ids for imported services: the upstream's, a constant offset, or a counter."""
    if scheme == "keep":
        return {sid: sid for sid in upstream_ids}
    if scheme == "offset":
        offset = rng.choice((1000, 5000, 10000, 20000))
        return {sid: sid + offset for sid in upstream_ids}
    first = start if start is not None else rng.randint(1, 3000)
    return {sid: first + index for index, sid in enumerate(upstream_ids)}
