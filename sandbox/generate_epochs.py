"""Catalogues under the current price lists, and what changes from one epoch to the next:
upstream prices move and services go (resellers follow), a site moves, a reseller appears.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from .catalogue import PanelService, load_price_list
from .generate_cast import Planner
from .generate_catalogues import reseller_offers, upstream_offers
from .generate_infra import hosting_truth, moved
from .site_base import Offer, SiteLink


def evolve(planner: Planner, lists: dict[str, dict[int, PanelService]], rng: random.Random, epoch: int) -> list[dict[str, Any]]:
    """One epoch later: upstream prices move and a few services go, one reseller moves to
    another hoster, and a new reseller appears (linked from an existing one)."""
    changes: list[dict[str, Any]] = []
    for services in lists.values():
        ids = sorted(services)
        for sid in rng.sample(ids, max(10, len(ids) // 20)):
            old = services[sid]
            if old.rate == 0:
                continue
            new_rate = (old.rate * Decimal(rng.choice(("0.8", "0.9", "1.1", "1.2", "1.25")))).quantize(old.rate)
            if new_rate == old.rate or new_rate == 0:
                continue
            services[sid] = PanelService(
                old.service_id, old.category, old.name, new_rate, old.min, old.max, old.average_time, old.description
            )
        for sid in rng.sample(ids, 2):
            services.pop(sid, None)
    planner.rng = planner.allocator.rng = rng  # all this epoch draws comes from the epoch's own generator
    movable = sorted(d for d, p in planner.plans.items() if p.role == "reseller" and p.hosting and not p.hosting.cdn and p.served)
    mover = planner.plans[rng.choice(movable)]
    assert mover.hosting is not None
    before = hosting_truth(mover.hosting)
    mover.hosting = moved(mover.hosting, planner.allocator, rng)
    changes.append({"kind": "move_ip", "domain": mover.domain, "old": before, "new": hosting_truth(mover.hosting)})
    newcomer = planner.extra_reseller(epoch)
    referrer = planner.plans[
        sorted(d for d, p in planner.plans.items() if p.role == "reseller" and p.first_epoch == 1 and d != newcomer.domain)[0]
    ]
    referrer.links.append(SiteLink(newcomer.domain, "partner"))
    changes.append({"kind": "new_site", "domain": newcomer.domain, "linked_from": referrer.domain})
    return changes


def derive_all(
    planner: Planner, lists: dict[str, dict[int, PanelService]], *, lists_changed: bool
) -> dict[str, tuple[Offer, ...]]:
    """Every site's catalogue under the current price lists, upstreams before resellers;
    while the lists are the original ones, what the planner derived for picking is reused."""
    out: dict[str, tuple[Offer, ...]] = {} if lists_changed else dict(planner.base_offers)

    def derive(domain: str) -> tuple[Offer, ...]:
        if domain in out:
            return out[domain]
        plan = planner.plans[domain]
        if plan.price_list:
            source = [s for s in load_price_list(plan.price_list) if s.service_id in lists[plan.price_list]]
            current = [lists[plan.price_list][s.service_id] for s in source]
            out[domain] = upstream_offers(plan.presentation(), current)
        else:
            upstreams = {f.upstream: planner.view(f.upstream, derive(f.upstream)) for f in plan.feeds}
            out[domain] = reseller_offers(plan.presentation(), plan.feeds, upstreams, plan.independents, plan.rounding)
        return out[domain]

    for domain, plan in planner.plans.items():
        if plan.style is not None or plan.hostile == "malformed_html":
            derive(domain)
    return out


def catalogue_changes(before: dict[str, tuple[Offer, ...]], after: dict[str, tuple[Offer, ...]]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for domain in sorted(before.keys() & after.keys()):
        old = {o.service_id: o for o in before[domain]}
        new = {o.service_id: o for o in after[domain]}
        for sid in sorted(old.keys() | new.keys()):
            if sid not in new:
                changes.append({"kind": "removed", "domain": domain, "service_id": sid})
            elif sid not in old:
                changes.append({"kind": "added", "domain": domain, "service_id": sid})
            elif old[sid].rate != new[sid].rate:
                changes.append(
                    {
                        "kind": "price",
                        "domain": domain,
                        "service_id": sid,
                        "old_rate": str(old[sid].rate),
                        "new_rate": str(new[sid].rate),
                        "old_display": old[sid].rate_display,
                        "new_display": new[sid].rate_display,
                    }
                )
    return changes
