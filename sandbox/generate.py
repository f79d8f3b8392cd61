"""Generate a deterministic sandbox world: upstream panels serving real price lists, their
resellers, a decoy, hostile corners, the infrastructure under all of them, and the ground
truth that says what a perfect crawl would find.

`generate_world(seed, sites, epoch)` depends on nothing but its arguments: one
`random.Random(seed)` draws the world, and `random.Random(f"{seed}:{epoch}")` each later
epoch's changes, so the same arguments give the same world byte for byte.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from typing import Any

from .catalogue import load_price_list
from .generate_cast import DEFAULT_SITES, UPSTREAMS, Planner, SitePlan
from .generate_epochs import catalogue_changes, derive_all, evolve
from .generate_infra import HOSTERS, NETWORKS, add_zone
from .generate_truth import site_truth, world_truth
from .site_base import STYLES, Offer, PanelSite
from .site_hostile import ErrorAsOk, GzipBomb, HugeBody, MalformedPanel, RedirectLoop, Trickle
from .world import CertificateSpec, DnsZoneData, SiteHandler, World


def _site_object(plan: SitePlan, offers: tuple[Offer, ...]) -> PanelSite:
    assert plan.kit is not None and plan.style is not None and plan.hosting is not None
    return PanelSite(
        domain=plan.domain,
        brand=plan.brand,
        style_name=plan.style,
        currency=plan.currency,
        catalogue=offers,
        api_key=plan.api_key,
        session=plan.session,
        analytics=plan.own_analytics or plan.kit.analytics,
        favicon=plan.own_favicon or plan.kit.favicon,
        payments=plan.kit.payments,
        contacts=plan.kit.contacts,
        tenant_code=plan.kit.tenant_code if STYLES[plan.style].software in ("perfectpanel", "rental") else None,
        links=plan.links,
        options=plan.options,
    )


def _handler(plan: SitePlan, offers: tuple[Offer, ...]) -> tuple[SiteHandler, PanelSite | None]:
    if plan.style is not None:
        site = _site_object(plan, offers)
        return site.handle, site
    kind = plan.hostile
    if kind == "malformed_html":
        return MalformedPanel(plan.domain, plan.brand, offers), None
    if kind == "error_200":
        return ErrorAsOk(plan.domain, plan.brand), None
    streams: dict[str | None, Callable[[str], SiteHandler]] = {
        "redirect_loop": RedirectLoop,
        "trickle": Trickle,
        "huge_body": HugeBody,
        "gzip_bomb": GzipBomb,
    }
    return streams[kind](plan.domain), None


def _certificates(planner: Planner) -> dict[str, CertificateSpec]:
    certs: dict[str, CertificateSpec] = {}
    for op in planner.operators.values():
        served = [d for d in op.domains if planner.plans[d].served]
        if op.shared_cert and len(served) > 1:
            spec = CertificateSpec(tuple(name for d in served for name in (d, f"www.{d}")))
            certs.update({name: spec for name in spec.names})
            continue
        for domain in served:
            plan = planner.plans[domain]
            assert plan.hosting is not None
            if plan.tls == "wrong_name":
                names: tuple[str, ...] = (f"srv{plan.hosting.ipv4[0].split('.')[-1]}.{HOSTERS[plan.hosting.hoster].rdns}",)
            else:
                names = (domain, f"www.{domain}")
            spec = CertificateSpec(names, plan.tls)
            certs[domain] = certs[f"www.{domain}"] = spec
    return certs


def generate_world(seed: int = 1, sites: int = DEFAULT_SITES, epoch: int = 1) -> World:
    """The world for `seed` with `sites` panels (upstreams, resellers, decoy) plus the
    hostile corners, as it stands at `epoch` (1 = first crawl; each later epoch applies
    one round of changes, listed in `ground_truth["changes"]`)."""
    if sites < DEFAULT_SITES:
        raise ValueError(f"a world needs at least {DEFAULT_SITES} sites (its fixed cast), got {sites}")
    if epoch < 1:
        raise ValueError("epochs start at 1")
    # A large world is hundreds of thousands of acyclic objects: the cyclic collector would
    # rescan them again and again while they are built, for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(seed, sites, epoch)
    finally:
        if collecting:
            gc.enable()


def _generate(seed: int, sites: int, epoch: int) -> World:
    planner = Planner(random.Random(seed))
    planner.upstreams()
    planner.fixed_resellers()
    planner.decoy()
    planner.hostile()
    for _ in range(sites - DEFAULT_SITES):
        planner.extra_reseller()
    lists = {u.key: {s.service_id: s for s in load_price_list(u.key)} for u in UPSTREAMS}
    changes: list[dict[str, Any]] = []
    previous: dict[str, tuple[Offer, ...]] | None = None
    for step in range(2, epoch + 1):
        if step == epoch:
            previous = derive_all(planner, lists, lists_changed=step > 2)
        changes = evolve(planner, lists, random.Random(f"{seed}:{step}"), step)
    catalogues = derive_all(planner, lists, lists_changed=epoch > 1)
    if previous is not None:
        changes = catalogue_changes(previous, catalogues) + changes
    return _assemble(seed, sites, epoch, planner, catalogues, changes)


def _assemble(
    seed: int, sites: int, epoch: int, planner: Planner, catalogues: dict[str, tuple[Offer, ...]], changes: list[dict[str, Any]]
) -> World:
    handlers: dict[str, SiteHandler] = {}
    dns = DnsZoneData()
    secrets: dict[str, dict[str, str]] = {}
    certificates = _certificates(planner)
    truth_sites: dict[str, Any] = {}
    for domain, plan in planner.plans.items():
        offers = catalogues.get(domain)
        site: PanelSite | None = None
        if plan.served:
            assert plan.hosting is not None
            handler, site = _handler(plan, offers or ())
            handlers[domain] = handlers[f"www.{domain}"] = handler
            if plan.hostile == "dns_servfail":
                dns.servfail.update({domain, f"www.{domain}"})
            else:
                add_zone(dns, domain, plan.hosting, plan.dns_tokens)
            if site is not None:
                secrets[domain] = {"api_key": site.api_key, "cookie": site.cookie}
        truth_sites[domain] = site_truth(plan, site, offers, planner, certificates.get(domain))
    ground_truth = world_truth(seed, sites, epoch, planner, truth_sites, changes)
    return World(seed, handlers, dns, list(NETWORKS), certificates, ground_truth, secrets)
