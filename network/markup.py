"""Fitting one markup (or a few tiers of markup) to the services two sites share.

A reseller's rate is round(upstream rate x markup) in its own rounding step, perhaps after
a currency conversion: at most a step away, whether it rounds half up, down (cutting
decimals) or up (to the cent, to the next x.x9). So each shared service allows an
interval of markups, [(down - step) / up, (down + step) / up], and the markup is the
point inside the most intervals: a sweep over sorted interval ends, exact under rounding and deaf to the
services a reseller priced by hand. A service whose rounding allows a wide interval
(a $0.0015 service rounded to cents) is left out of the count: it agrees with anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .settings import LinkSettings


@dataclass(frozen=True, slots=True)
class Tier:
    """One markup a pair agrees on, with the interval of markups all its services allow."""

    markup: float
    low: float
    high: float
    services: int  # informative services agreeing with it


@dataclass(frozen=True, slots=True)
class MarkupFit:
    """How the dearer side's prices follow the cheaper side's."""

    tiers: tuple[Tier, ...]
    informative: int  # matched services precise enough to speak about a markup
    tier_of: np.ndarray  # int8 per matched service: the first tier whose interval holds it, -1 for none
    informative_mask: np.ndarray

    @property
    def agrees(self) -> np.ndarray:
        """Per matched service: inside one tier's interval (informative or not)."""
        return self.tier_of >= 0

    @property
    def markup(self) -> float:
        return self.tiers[0].markup

    @property
    def agreeing(self) -> int:
        """Informative services that agree with one of the tiers."""
        return int((self.agrees & self.informative_mask).sum())

    @property
    def agreement(self) -> float:
        return self.agreeing / self.informative if self.informative else 0.0


def _deepest(low: np.ndarray, high: np.ndarray) -> tuple[int, float, float]:
    """(depth, start, end) of the stretch of markups covered by the most intervals."""
    values = np.concatenate([low, high])
    steps = np.concatenate([np.ones(len(low), dtype=np.int64), -np.ones(len(high), dtype=np.int64)])
    order = np.lexsort((-steps, values))  # openings before closings at one value: intervals are closed
    depth = np.cumsum(steps[order])
    best = int(np.argmax(depth))
    ordered = values[order]
    return int(depth[best]), float(ordered[best]), float(ordered[min(best + 1, len(ordered) - 1)])


def best_markup(start: float, end: float, ratios: np.ndarray, weights: np.ndarray) -> float:
    """The markup to report inside the deepest stretch [start, end]: the ratio of the most
    precisely priced services (a weighted median: a $250 service rounded to the cent pins the
    markup, a $0.36 one barely), snapped to two decimals when that is within 0.05%, as
    operators set "3x" or "+8%"."""
    order = np.argsort(ratios)
    cumulative = np.cumsum(weights[order])
    middle = float(ratios[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
    middle = min(max(middle, start), end)
    snapped = round(middle, 2)
    if abs(snapped - middle) <= 5e-4 * middle and start - 1e-12 <= snapped <= end + 1e-12:
        return snapped
    return round(middle, 6)


def decimals(value: float) -> int:
    """How many decimals `value` needs (3 -> 0, 1.08 -> 2, 1.15741 -> 5)."""
    for places in range(7):
        if abs(round(value, places) - value) < 1e-9:
            return places
    return 7


def fit_markup(up: np.ndarray, down: np.ndarray, step: np.ndarray, settings: LinkSettings) -> MarkupFit | None:
    """The tiers of markup of `down` over `up` (prices of the same services, in one unit), or
    None when too few services are precise enough to tell. `step` is the dearer side's
    rounding step for each of its prices, in the same unit."""
    slack = settings.relative_tolerance * down
    with np.errstate(divide="ignore", invalid="ignore"):
        informative = (up > 0) & (down > 0) & (2 * (step + slack) <= settings.informative_width * down)
        low = np.where(up > 0, (down - step - slack) / up, 0.0)
        high = np.where(up > 0, (down + step + slack) / up, 0.0)
    count = int(informative.sum())
    if count < 2:
        return None
    tier_of = np.full(len(up), -1, dtype=np.int8)
    remaining = informative.copy()
    tiers: list[Tier] = []
    needed = max(2, math.ceil(settings.tier_share * count))
    while len(tiers) < settings.max_tiers and remaining.sum() >= (needed if tiers else 2):
        depth, start, end = _deepest(low[remaining], high[remaining])
        if tiers and depth < max(needed, settings.min_matched):
            break
        deepest = remaining & (low <= end + 1e-12) & (high >= start - 1e-12)
        markup = best_markup(start, end, down[deepest] / up[deepest], down[deepest] / (step[deepest] + slack[deepest]))
        inside = (low <= markup + 1e-12) & (high >= markup - 1e-12) & (up > 0)
        tiers.append(Tier(markup, start, end, int((inside & remaining).sum())))
        tier_of[inside & (tier_of < 0)] = len(tiers) - 1
        remaining &= ~inside
    return MarkupFit(tuple(tiers), count, tier_of, informative)
