"""The ground truth: what a perfect crawl of the world would find, as JSON-ready dicts.
Its schema is documented in `ground_truth.md`.
"""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from typing import Any

import mmh3

from .catalogue import PRICE_LISTS, RATES_PER_USD
from .generate_cast import HOSTILE, UPSTREAMS, Planner, SitePlan
from .generate_infra import WORLD_DATE, hosting_truth
from .site_base import STYLES, Offer, PanelSite
from .site_hostile import (
    BIG_BODY_BYTES,
    GZIP_BOMB_INFLATED,
    MALFORMED_COLUMNS,
    TRICKLE_PAGE,
    TRICKLE_SECONDS_PER_BYTE,
    gzip_bomb_wire_size,
)
from .world import CertificateSpec


def hostile_truth(kind: str, expect: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if kind == "trickle":
        params = {"body_bytes": len(TRICKLE_PAGE), "seconds_per_byte": TRICKLE_SECONDS_PER_BYTE}
        expect = expect.format(seconds=int(len(TRICKLE_PAGE) * TRICKLE_SECONDS_PER_BYTE))
    elif kind == "huge_body":
        params = {"body_bytes": BIG_BODY_BYTES}
        expect = expect.format(size=BIG_BODY_BYTES)
    elif kind == "gzip_bomb":
        params = {"wire_bytes": gzip_bomb_wire_size(), "inflated_bytes": GZIP_BOMB_INFLATED}
        expect = expect.format(wire=params["wire_bytes"], inflated=GZIP_BOMB_INFLATED)
    elif kind == "redirect_loop":
        params = {"cycle": ["/", "/login?next=%2F"]}
    return {"kind": kind, "expect": expect, **params}


def site_truth(
    plan: SitePlan,
    site: PanelSite | None,
    offers: tuple[Offer, ...] | None,
    planner: Planner,
    certificate: CertificateSpec | None,
) -> dict[str, Any]:
    truth: dict[str, Any] = {
        "domain": plan.domain,
        "brand": plan.brand,
        "role": plan.role,
        "served": plan.served,
        "seed": plan.seed,
        "operator": plan.operator,
        "first_epoch": plan.first_epoch,
        "page_style": plan.style if plan.style else (plan.hostile if plan.served else None),
        "software": STYLES[plan.style].software if plan.style else None,
        "currency": plan.currency,
        "catalogue": [o.truth(plan.currency) for o in offers] if offers is not None else [],
        "upstreams": [
            {
                "domain": f.upstream,
                "markup": str(f.pricing.markup),
                "currency": f.pricing.currency,
                "upstream_currency": planner.plans[f.upstream].currency,
                "rate_per_usd": str(RATES_PER_USD[f.pricing.currency]),
                "rounding": f.pricing.rounding,
                "id_scheme": f.id_scheme,
                "renaming": f.renaming,
                "recategorise": f.recategorise,
                "descriptions_kept": f.descriptions,
                "services": sum(1 for o in offers or () if o.upstream and o.upstream[0] == f.upstream),
            }
            for f in plan.feeds
        ],
        "independent_services": len(plan.independents),
        "links": [{"target": link.target, "kind": link.kind} for link in plan.links],
        "hosting": hosting_truth(plan.hosting) if plan.hosting and plan.served and plan.hostile != "dns_servfail" else None,
        "tls": {"names": list(certificate.names), "profile": certificate.profile} if certificate else None,
    }
    if site is not None:
        style = site.style
        fav = site.favicon.data
        truth.update(
            title=site.options.title,
            server=site.options.server,
            services_urls=style.services_urls(site),
            category_urls=getattr(style, "category_urls", lambda _: [])(site),
            services_need_cookie=style.software == "smartpanel",
            render_required=plan.style == "xhr",
            columns=style.columns(site),
            signin_url=site.url(style.signin_path),
            api={"url": site.url(style.api_path), "docs": site.url(style.api_docs_path), "dialect": style.software},
            addfunds={"url": site.url(style.addfunds_path), "needs_cookie": not site.options.addfunds_public},
            www_redirects=site.options.www_redirect,
            favicon={
                "url": site.url("/favicon.ico"),
                "content_type": site.favicon.content_type,
                "mmh3": mmh3.hash(base64.encodebytes(fav)),
                "md5": hashlib.md5(fav).hexdigest(),
                "sha256": hashlib.sha256(fav).hexdigest(),
            },
            analytics=site.analytics.as_dict(),
            payments=[p.as_dict() for p in site.payments],
            contacts=site.contacts.as_dict(),
            tenant_code=site.tenant_code,
            dns_txt_tokens=dict(plan.dns_tokens),
        )
    elif plan.style is None and plan.hostile == "malformed_html":
        truth.update(services_urls=[f"https://{plan.domain}/services"], columns=list(MALFORMED_COLUMNS))
    return truth


def world_truth(
    seed: int, sites: int, epoch: int, planner: Planner, truth_sites: dict[str, Any], changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """The whole document: `truth_sites` (from `site_truth`) and everything world-wide."""
    hidden = [u.domain for u in UPSTREAMS if not u.served]
    groups = []
    for upstream in hidden:
        members = [d for d, p in planner.plans.items() if any(f.upstream == upstream for f in p.feeds)]
        factors = {d: next(f.pricing for f in planner.plans[d].feeds if f.upstream == upstream) for d in members}
        base = factors[members[0]].markup * RATES_PER_USD[factors[members[0]].currency]
        groups.append(
            {
                "upstream": upstream,
                "members": members,
                "ratio_to_first": {
                    d: str((p.markup * RATES_PER_USD[p.currency] / base).quantize(Decimal("0.000001")))
                    for d, p in factors.items()
                },
            }
        )
    return {
        "schema": 1,
        "seed": seed,
        "sites_param": sites,
        "epoch": epoch,
        "world_date": WORLD_DATE.isoformat(),
        "rates_per_usd": {k: str(v) for k, v in RATES_PER_USD.items()},
        "price_lists": {
            k: {"panel": p.panel, "crawled": p.crawled, "file": f"data/{p.filename}"} for k, p in PRICE_LISTS.items()
        },
        "seeds": [d for d, p in planner.plans.items() if p.seed and p.served],
        "hidden_upstreams": hidden,
        "unknown_upstream_groups": groups,
        "operators": {key: list(op.domains) for key, op in planner.operators.items()},
        "hostile": {domain: hostile_truth(kind, expect) for kind, domain, expect in HOSTILE},
        "changes": changes,
        "sites": truth_sites,
    }
