"""What else than price tells a reseller from its upstream: the ids it copied, and the
way its prices followed the upstream's over time."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import numpy as np

from .catalogue import PricePoint

# A price that moves by less than this share did not change.
_CHANGE = 0.005


def id_signals(upstream_ids: np.ndarray, reseller_ids: np.ndarray, upstream_cited: np.ndarray,
               reseller_cited: np.ndarray) -> dict[str, Any]:
    """For the services of one link (numeric ids, -1 where not numeric; ids their names start
    with, -1 where none): how many keep the upstream's id, the most common constant offset
    between the ids, and how many names cite the other side's id ("ID 1234 - ..."): a
    reseller naming services by its upstream's ids copied them."""
    numeric = (upstream_ids >= 0) & (reseller_ids >= 0)
    same = numeric & (upstream_ids == reseller_ids)
    offsets, counts = np.unique((reseller_ids - upstream_ids)[numeric & ~same], return_counts=True)
    best = int(np.argmax(counts)) if counts.size else -1
    shifted = int(counts[best]) if best >= 0 and counts[best] > 1 else 0
    return {
        "same_id": int(same.sum()),
        "offset": int(offsets[best]) if shifted else None,
        "offset_services": shifted,
        "cited_by_reseller": int(((reseller_cited >= 0) & (reseller_cited == upstream_ids)).sum()),
        "cited_by_upstream": int(((upstream_cited >= 0) & (upstream_cited == reseller_ids)).sum()),
    }


def _price_at(points: Sequence[PricePoint], times: Sequence[float], moment: float) -> PricePoint | None:
    index = bisect_right(times, moment)
    return points[index - 1] if index else None


def _agrees(down: float, up: float, markup: float, tolerance: float) -> bool:
    return up > 0 and abs(down - up * markup) <= tolerance * down


def history_signals(histories: Sequence[tuple[Sequence[PricePoint], Sequence[PricePoint]]], markup: float,
                    window: float, tolerance: float = 0.02) -> dict[str, Any]:
    """How a reseller's prices moved against its upstream's, over (upstream, reseller) price
    histories of the services of one link.

    At each moment the reseller was observed, the upstream's price in force is its latest one
    seen up to `window` seconds later (crawls of two sites a few hours apart are one moment).
    An upstream change is "followed" when the reseller's next observation agrees with the new
    price, "ignored" otherwise; "leads" counts follows where the upstream was seen changed
    before the reseller was (the upstream moved first), "lags" reseller changes that no
    upstream change explains, seen before the upstream moved to match them.
    """
    moments = followed = ignored = leads = lags = 0
    for up_points, down_points in histories:
        if len(up_points) < 2 and len(down_points) < 2:
            continue
        up_times = [point.observed_at.timestamp() for point in up_points]
        previous_up: PricePoint | None = None
        previous_down: PricePoint | None = None
        for down in down_points:
            moment = down.observed_at.timestamp()
            up = _price_at(up_points, up_times, moment + window)
            if up is None:
                continue
            moments += 1
            if previous_up is not None and previous_down is not None:
                up_changed = abs(up.price - previous_up.price) > _CHANGE * previous_up.price
                down_changed = abs(down.price - previous_down.price) > _CHANGE * max(previous_down.price, 1e-12)
                if up_changed:
                    if _agrees(down.price, up.price, markup, tolerance):
                        followed += 1
                        if down_changed and up.observed_at < down.observed_at:
                            leads += 1
                    else:
                        ignored += 1
                elif down_changed and not _agrees(down.price, up.price, markup, tolerance):
                    later = _price_at(up_points, up_times, float("inf"))
                    if later is not None and later is not up and _agrees(down.price, later.price, markup, tolerance):
                        lags += 1
            previous_up, previous_down = up, down
    return {"moments": moments, "followed": followed, "ignored": ignored, "leads": leads, "lags": lags}
