"""The world's cast and how each member is drawn: the upstream panels, the fixed resellers
of the default world, the decoy, the hostile corners, and generated resellers for larger
worlds. `Planner` decides everything about a site (its `SitePlan`) except its catalogue,
which `generate_epochs.derive_all` computes from the plans and the current price lists.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import site_generic, site_paginated, site_perfectpanel, site_smartpanel, site_xhr  # noqa: F401  (register styles)
from .catalogue import Pricing, Rounding, load_price_list
from .generate_catalogues import (
    AverageStyle,
    Feed,
    Independent,
    PickIndex,
    Presentation,
    UpstreamView,
    assign_ids,
    pick_services,
    reseller_offers,
    upstream_offers,
)
from .generate_identity import (
    HEX,
    LOWER_ALNUM,
    URLSAFE,
    Analytics,
    Favicon,
    OperatorKit,
    analytics,
    favicon,
    operator_kit,
    reseller_name,
    token,
)
from .generate_infra import HOSTERS, Allocator, Hosting, OperatorInfra, operator_infra, site_hosting
from .site_base import STYLES, NumberFormat, Offer, SiteLink, SiteOptions
from .site_smartpanel import DEFAULT_TITLE as SMARTPANEL_TITLE
from .world import TlsProfile


@dataclass(frozen=True)
class UpstreamSpec:
    key: str  # price list
    domain: str
    brand: str
    style: str
    variant: int
    title: str
    served: bool = True


UPSTREAMS = (
    UpstreamSpec("jap", "justanotherpanel.com", "JustAnotherPanel", "perfectpanel", 1, "Just Another Panel - The Best SMM Panel"),
    UpstreamSpec("dripfeed", "dripfeedpanel.com", "Dripfeedpanel", "perfectpanel", 2, "Dripfeedpanel - Drip-feed SMM Panel"),
    UpstreamSpec("fivebbc", "fivebbc.com", "Fivebbc", "perfectpanel_constructor", 0, "Fivebbc - Best SMM Panel"),
    # An upstream that exists (its resellers buy from it) but is never served or seeded.
    UpstreamSpec("followersmm", "followersmm.com", "FollowerSMM", "perfectpanel", 0, "FollowerSMM", served=False),
)
_UPSTREAM_BY_KEY = {u.key: u for u in UPSTREAMS}


@dataclass(frozen=True)
class ResellerSpec:
    """A fixed reseller of the default world; `feeds` are (upstream, markup, currency,
    rounding, size), the upstream a price-list key or "@n" for the n-th fixed reseller."""

    style: str
    feeds: tuple[tuple[str, str, str, Rounding, int], ...]
    id_scheme: str = "keep"
    renaming: str = "keep"
    recategorise: str = "keep"
    operator: str | None = None
    variant: int = 0
    music_only: bool = False
    own_services: int = 0
    descriptions: bool = True


FIXED_RESELLERS = (
    ResellerSpec("perfectpanel", (("jap", "1.08", "USD", "4dp", 1700),)),
    ResellerSpec("perfectpanel", (("jap", "3", "USD", "2dp", 800),), "sequential", "debrand", operator="A"),
    ResellerSpec("generic", (("jap", "1.5", "EUR", "2dp", 300),), "offset", "emoji", operator="B", variant=1),
    ResellerSpec(
        "generic", (("jap", "2", "INR", "2dp", 150),), "sequential", "id_prefix", operator="B", variant=2, own_services=6
    ),
    ResellerSpec(
        "perfectpanel_constructor", (("jap", "1.25", "USD", "4dp", 250), ("dripfeed", "1.4", "USD", "4dp", 120)), "sequential"
    ),
    ResellerSpec("smartpanel", (("jap", "1.3", "USD", "2dp", 350),), "sequential", recategorise="emoji"),
    ResellerSpec("xhr", (("jap", "1.2", "USD", "2dp", 140),), renaming="emoji", music_only=True),
    ResellerSpec("paginated", (("fivebbc", "1.6", "RUB", "2dp", 300),), "sequential", recategorise="strip"),
    ResellerSpec("perfectpanel", (("dripfeed", "1.75", "USD", "2dp", 200),), recategorise="platform", descriptions=False),
    ResellerSpec("perfectpanel", (("followersmm", "1.2", "USD", "4dp", 300),), operator="C"),
    ResellerSpec("generic", (("followersmm", "1.45", "TRY", "2dp", 280),), "offset", operator="C", variant=0),
    ResellerSpec("perfectpanel_constructor", (("followersmm", "2", "USD", "2dp", 260),), "sequential", "reorder"),
    ResellerSpec("perfectpanel", (("@2", "1.1", "USD", "2dp", 300),)),  # a child panel of reseller 2
    ResellerSpec("smartpanel", (("jap", "1.35", "GBP", "2dp", 200),), "sequential"),
    ResellerSpec("xhr", (("fivebbc", "1.35", "USD", "2dp", 150),)),
    ResellerSpec("perfectpanel", (("jap", "2.5", "BRL", "up_x9", 400),), renaming="reorder", operator="A", own_services=4),
)

# The default world: the served upstreams, the fixed resellers and the decoy.
DEFAULT_SITES = sum(u.served for u in UPSTREAMS) + len(FIXED_RESELLERS) + 1

HOSTILE = (
    (
        "redirect_loop",
        "smmloop-panel.com",
        "Every URL answers 302 in a cycle (/ -> /login?next=%2F -> /): stop at the redirect limit, no catalogue.",
    ),
    (
        "trickle",
        "slowfollowers.net",
        "200 whose body arrives one byte a second (~{seconds} s): the download timeout fires, no catalogue.",
    ),
    (
        "huge_body",
        "megapanel-bulk.com",
        "200 with Content-Length {size} streamed: the maximum response size aborts the download.",
    ),
    (
        "gzip_bomb",
        "compactsmm.net",
        "200, Content-Encoding gzip, {wire} bytes on the wire inflating to {inflated}: decompression must be capped.",
    ),
    (
        "malformed_html",
        "oldschoolsmm.com",
        "Broken markup (unclosed cells, no </table>, unterminated comment): recovering parsers extract the whole catalogue.",
    ),
    (
        "error_200",
        "downtime-smm.net",
        "200 pages saying 'Service temporarily unavailable' and a database exception on /services: an error page, no catalogue.",
    ),
    (
        "dns_servfail",
        "ghostsmm.org",
        "DNS answers SERVFAIL for the domain and www: enrichment records the failure; the site is reachable through the proxy.",
    ),
    ("tls_expired", "expiredcert-smm.com", "Expired certificate: recorded as invalid, the site is crawled anyway."),
    ("tls_wrong_name", "mismatchpanel.net", "Certificate for another name: recorded as invalid, the site is crawled anyway."),
)
_PANEL_HOSTILE = {"malformed_html", "dns_servfail", "tls_expired", "tls_wrong_name"}
_TLS_PROFILES: dict[str, TlsProfile] = {"tls_expired": "expired", "tls_wrong_name": "wrong_name"}

_CURRENCIES = (("USD", 70), ("EUR", 8), ("INR", 7), ("RUB", 5), ("TRY", 3), ("BRL", 4), ("GBP", 3))
_MARKUPS = ("1.08", "1.1", "1.15", "1.2", "1.25", "1.3", "1.4", "1.5", "1.75", "2", "2.5", "3")
_ROUNDINGS: tuple[tuple[Rounding, int], ...] = (("2dp", 50), ("4dp", 20), ("3dp", 10), ("ceil2", 10), ("up_x9", 10))
_STYLES = (
    ("perfectpanel", 45),
    ("perfectpanel_constructor", 15),
    ("smartpanel", 10),
    ("generic", 12),
    ("paginated", 9),
    ("xhr", 9),
)
_PP_TITLES = ("{brand} - #1 SMM Panel", "{brand} | Cheapest SMM Panel", "{brand} - SMM Reseller Panel", "{brand}")


def _weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in table], [weight for _, weight in table])[0]


@dataclass
class SitePlan:
    """Everything decided about one site before catalogues are derived."""

    domain: str
    brand: str
    role: str  # upstream | reseller | decoy | hostile
    operator: str
    style: str | None  # None for hostile sites that are not panels
    currency: str = "USD"
    rounding: Rounding = "2dp"
    price_list: str | None = None
    feeds: list[Feed] = field(default_factory=list)
    independents: list[Independent] = field(default_factory=list)
    seed: bool = True
    served: bool = True
    hostile: str | None = None
    tls: TlsProfile = "valid"
    options: SiteOptions = field(default_factory=SiteOptions)
    hosting: Hosting | None = None
    kit: OperatorKit | None = None
    own_analytics: Analytics | None = None
    own_favicon: Favicon | None = None
    dns_tokens: dict[str, str] = field(default_factory=dict)
    links: list[SiteLink] = field(default_factory=list)
    api_key: str = ""
    session: str = ""
    first_epoch: int = 1

    def presentation(self) -> Presentation:
        average: AverageStyle
        if self.style == "perfectpanel" and self.options.show_average_time:
            average = "classic"
        elif self.style == "perfectpanel_constructor":
            average = "constructor"
        else:
            average = "none"
        return Presentation(self.domain, self.brand, self.currency, self.options.number_format, average)


@dataclass
class Operator:
    key: str
    kit: OperatorKit
    infra: OperatorInfra
    shared_cert: bool
    domains: list[str] = field(default_factory=list)


class Planner:
    """Draws the world's sites in a fixed order (upstreams, fixed resellers, decoy, hostile,
    then extra resellers) so the default cast is the same at every size."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.allocator = Allocator(rng)
        self.taken = {u.domain for u in UPSTREAMS} | {domain for _, domain, _ in HOSTILE}
        self.operators: dict[str, Operator] = {}
        self.plans: dict[str, SitePlan] = {}
        self.base_offers: dict[str, tuple[Offer, ...]] = {}
        self.pick_indexes: dict[str, PickIndex] = {}
        self.child_parents: list[str] = []  # single-feed Perfect Panel resellers that may sell child panels
        self.extra_operators: list[str] = []
        self._views: dict[str, tuple[tuple[Offer, ...], UpstreamView]] = {}

    # --- operators and identities ------------------------------------------------------

    def operator(
        self,
        key: str,
        primary: str,
        *,
        shared_cert: bool | None = None,
        infra: dict[str, Any] | None = None,
        payments: dict[str, Any] | None = None,
    ) -> Operator:
        """The operator `key`, created on first use; `infra` and `payments` pin choices
        (see `operator_infra` and `payments`) that are otherwise drawn."""
        if key not in self.operators:
            rng = self.rng
            handle = primary.split(".")[0].replace("-", "")
            self.operators[key] = Operator(
                key,
                operator_kit(rng, handle, primary, **(payments or {})),
                operator_infra(rng, self.allocator, primary, **(infra or {})),
                rng.random() < 0.4 if shared_cert is None else shared_cert,
            )
        return self.operators[key]

    def _options(self, style: str, currency: str, brand: str, hosting: Hosting, variant: int, title: str | None) -> SiteOptions:
        rng = self.rng
        if style == "perfectpanel_constructor":
            fmt = NumberFormat(currency, symbol=True, thousands=" ")
        elif style == "perfectpanel":
            fmt = NumberFormat(currency, symbol=currency != "USD" or rng.random() < 0.4)
        elif style == "generic":
            comma = currency in ("EUR", "TRY", "RUB", "BRL")
            fmt = [
                NumberFormat(currency, symbol=True, symbol_after=comma, decimal_comma=comma, thousands=" " if comma else ","),
                NumberFormat(currency, decimal_comma=comma, thousands=" "),
                NumberFormat(currency, symbol=True),
            ][variant]
        elif style == "xhr":
            fmt = NumberFormat(currency, symbol=True, thousands=",")
        else:
            fmt = NumberFormat(currency, thousands=",")
        if title is None:
            title = (
                SMARTPANEL_TITLE if style == "smartpanel" and rng.random() < 0.5 else rng.choice(_PP_TITLES).format(brand=brand)
            )
        server = (
            "cloudflare"
            if hosting.cdn
            else ("Apache/2.4.41 (Ubuntu)" if style == "smartpanel" else HOSTERS[hosting.hoster].server)
        )
        extra: list[tuple[str, str]] = []
        if hosting.cdn:
            extra += [("CF-RAY", token(rng, 16, HEX) + "-AMS"), ("CF-Cache-Status", "DYNAMIC")]
        if style == "smartpanel":
            extra.append(("X-Powered-By", "PHP/7.4.3"))
        csrf = token(rng, 56, URLSAFE)
        if style == "paginated":
            extra.append(("Set-Cookie", f"XSRF-TOKEN={csrf[:40]}; Max-Age=7200; path=/; samesite=lax"))
        return SiteOptions(
            number_format=fmt,
            services_path=rng.choice(("/services", "/pricing", "/services-list", "/price-list"))
            if style in ("generic", "xhr")
            else "/services",
            contact_path=rng.choice(("/contact", "/contact-us", "/contacts")),
            addfunds_public=style != "smartpanel" and rng.random() < 0.4,
            www_redirect=rng.random() < 0.5,
            title=title,
            server=server,
            theme_variant=variant,
            block_id=rng.choice((27, 41, 59, 88, 103)),
            page_size=rng.choice((25, 50, 100)),
            show_average_time=style == "perfectpanel_constructor" or (style == "perfectpanel" and rng.random() < 0.7),
            csrf=csrf,
            extra_headers=tuple(extra),
        )

    def panel(
        self,
        domain: str,
        brand: str,
        role: str,
        style: str,
        op: Operator,
        *,
        currency: str = "USD",
        variant: int | None = None,
        title: str | None = None,
        share_ip: bool | None = None,
        share_favicon: bool | None = None,
        share_analytics: bool | None = None,
    ) -> SitePlan:
        """A served panel site of operator `op`; `share_*` default to a coin flip, except
        that an operator's first site is its reference."""
        rng = self.rng
        first = not op.domains
        if variant is None:
            variant = rng.randrange(3) if style in ("perfectpanel", "generic") else 0
            if style == "perfectpanel" and currency != "USD" and variant == 2:
                variant = 0
        share_ip = first or (rng.random() < 0.5 if share_ip is None else share_ip)
        share_favicon = first or (rng.random() < 0.5 if share_favicon is None else share_favicon)
        share_analytics = first or (rng.random() < 0.6 if share_analytics is None else share_analytics)
        hosting = site_hosting(rng, self.allocator, op.infra, share_ip=share_ip)
        options = self._options(style, currency, brand, hosting, variant, title)
        software = STYLES[style].software
        if software == "smartpanel":
            session = token(rng, 40, HEX)
        elif software == "laravel":
            session = "eyJpdiI6" + token(rng, 180, URLSAFE)
        else:
            session = token(rng, 26, LOWER_ALNUM)
        tokens = {name: value for name, value in op.kit.dns_tokens.items() if name == "facebook-domain-verification"}
        if rng.random() < 0.6:
            tokens["google-site-verification"] = token(rng, 43, URLSAFE)
        if rng.random() < 0.25:
            tokens["stripe-verification"] = token(rng, 64, HEX)
        plan = SitePlan(
            domain,
            brand,
            role,
            op.key,
            style,
            currency=currency,
            options=options,
            hosting=hosting,
            kit=op.kit,
            own_analytics=None if share_analytics else analytics(rng),
            own_favicon=None if share_favicon else favicon(rng),
            dns_tokens=tokens,
            api_key=token(rng, 32, HEX),
            session=session,
        )
        op.domains.append(domain)
        self.plans[domain] = plan
        return plan

    # --- catalogues at plan time (for picking) -------------------------------------------

    def offers_of(self, domain: str) -> tuple[Offer, ...]:
        if domain not in self.base_offers:
            plan = self.plans[domain]
            if plan.price_list:
                self.base_offers[domain] = upstream_offers(plan.presentation(), load_price_list(plan.price_list))
            else:
                upstreams = {f.upstream: self.view(f.upstream, self.offers_of(f.upstream)) for f in plan.feeds}
                self.base_offers[domain] = reseller_offers(
                    plan.presentation(), plan.feeds, upstreams, plan.independents, plan.rounding
                )
        return self.base_offers[domain]

    def view(self, domain: str, offers: tuple[Offer, ...]) -> UpstreamView:
        """`offers` by id with the site's currency, built once per catalogue."""
        cached = self._views.get(domain)
        if cached is None or cached[0] is not offers:
            cached = self._views[domain] = (offers, ({o.service_id: o for o in offers}, self.plans[domain].currency))
        return cached[1]

    def feed(
        self,
        upstream: str,
        markup: str,
        currency: str,
        rounding: Rounding,
        size: int,
        scheme: str,
        renaming: str,
        recategorise: str,
        *,
        music_only: bool = False,
        descriptions: bool = True,
        start: int | None = None,
    ) -> Feed:
        if upstream not in self.pick_indexes:
            self.pick_indexes[upstream] = PickIndex.of(self.offers_of(upstream))
        picks = pick_services(self.rng, self.pick_indexes[upstream], size, music_only=music_only)
        return Feed(
            upstream,
            Pricing(Decimal(markup), currency, rounding),
            assign_ids(self.rng, picks, scheme, start),
            scheme,
            renaming,
            recategorise,
            descriptions,
        )

    def independents(self, count: int, first_id: int, *, source: str = "followerskart") -> list[Independent]:
        """`count` services priced on their own: unrelated factor, min and max each."""
        rng = self.rng
        services = rng.sample(load_price_list(source), count)
        out = []
        for index, s in enumerate(services):
            low = rng.choice((10, 20, 50, 100, 500, 1000))
            high = max(low * 10, rng.choice((5000, 10000, 50000, 100000, 1000000)))
            factor = Decimal(str(round(rng.uniform(0.5, 4.0), 3)))
            out.append(Independent(source, s.service_id, first_id + index, factor, low, high))
        return out

    # --- the cast ----------------------------------------------------------------------------

    def upstreams(self) -> None:
        for u in UPSTREAMS:
            # JAP as the Brazilian order describes it: Dutch IP of a Dubai company, Payeer and
            # cards through a bank-branded Mastercard hosted checkout.
            if u.key == "jap":
                op = self.operator(
                    "op-jap",
                    u.domain,
                    shared_cert=False,
                    infra={"hoster": "datafort", "ns_kind": "cloudns"},
                    payments={"required": ("payeer", "mastercard"), "mastercard_host": "bobsal.gateway.mastercard.com"},
                )
            else:
                op = self.operator(f"op-{u.key}", u.domain, shared_cert=False)
            plan = self.panel(u.domain, u.brand, "upstream", u.style, op, variant=u.variant, title=u.title)
            plan.price_list, plan.seed, plan.served = u.key, u.served, u.served
            if u.key == "jap":
                plan.options.number_format = NumberFormat("USD")

    def fixed_resellers(self) -> list[SitePlan]:
        out: list[SitePlan] = []
        for index, spec in enumerate(FIXED_RESELLERS, start=1):
            domain, brand = reseller_name(self.rng, self.taken)
            upstreams = [
                out[int(ref[1:]) - 1].domain if ref.startswith("@") else _UPSTREAM_BY_KEY[ref].domain for ref, *_ in spec.feeds
            ]
            child_of = next((d for (ref, *_), d in zip(spec.feeds, upstreams, strict=True) if ref.startswith("@")), None)
            op_key = f"op-{spec.operator}" if spec.operator else f"op-r{index}"
            op = self.operator(
                op_key, domain, shared_cert=spec.operator == "A" or None, infra={"child_panel": child_of is not None}
            )
            currency = spec.feeds[0][2]
            kwargs: dict[str, Any] = {"share_ip": True, "share_favicon": True} if spec.operator in ("A", "C") else {}
            if spec.operator == "B":
                kwargs = {"share_ip": False, "share_favicon": False, "share_analytics": True}
            plan = self.panel(
                domain,
                brand,
                "reseller",
                spec.style,
                op,
                currency=currency,
                variant=spec.variant,
                title=SMARTPANEL_TITLE if index == 14 else None,
                **kwargs,
            )
            plan.rounding = spec.feeds[0][3]
            scheme = "sequential" if len(spec.feeds) > 1 else spec.id_scheme
            start = None
            for upstream_domain, (_, markup, cur, rounding, size) in zip(upstreams, spec.feeds, strict=True):
                feed = self.feed(
                    upstream_domain,
                    markup,
                    cur,
                    rounding,
                    size,
                    scheme,
                    spec.renaming,
                    spec.recategorise,
                    music_only=spec.music_only,
                    descriptions=spec.descriptions,
                    start=start,
                )
                plan.feeds.append(feed)
                start = max(feed.ids.values()) + 1 if scheme == "sequential" else None
            if spec.own_services:
                plan.independents = self.independents(spec.own_services, 90000 + index * 100)
            if child_of:
                plan.links.append(SiteLink(child_of, "child_panel_parent"))
            out.append(plan)
        for a, b in ((2, 3), (9, 10)):  # partner links inside operators B and C (0-based)
            out[a].links.append(SiteLink(out[b].domain, "partner"))
            out[b].links.append(SiteLink(out[a].domain, "partner"))
        served = {u.domain for u in UPSTREAMS if u.served}
        self.child_parents += [
            p.domain
            for p in out
            if p.style == "perfectpanel" and not p.links and len(p.feeds) == 1 and p.feeds[0].upstream in served
        ]
        return out

    def decoy(self) -> SitePlan:
        """Sells JAP's service names at prices with no relation to JAP's, plus its own list."""
        domain, brand = reseller_name(self.rng, self.taken)
        plan = self.panel(domain, brand, "decoy", "perfectpanel", self.operator("op-decoy", domain))
        jap = self.rng.sample([s for s in load_price_list("jap") if s.rate > 0], 150)
        plan.independents = [
            Independent(
                "jap",
                s.service_id,
                5000 + i,
                Decimal(str(round(self.rng.lognormvariate(0.4, 0.8), 3))),
                self.rng.choice((10, 50, 100, 250, 1000)),
                self.rng.choice((10000, 50000, 100000, 500000)),
            )
            for i, s in enumerate(jap)
        ] + self.independents(60, 8000)
        return plan

    def hostile(self) -> None:
        rng = self.rng
        for kind, domain, _ in HOSTILE:
            brand = domain.split(".")[0].replace("-", " ").title().replace(" ", "")
            op = self.operator(f"op-{kind}", domain, shared_cert=False)
            if kind in _PANEL_HOSTILE:
                plan = self.panel(domain, brand, "hostile", "perfectpanel", op, variant=0)
                plan.feeds.append(
                    self.feed(UPSTREAMS[0].domain, rng.choice(("1.3", "1.5", "2")), "USD", "2dp", 40, "keep", "keep", "keep")
                )
                if kind == "malformed_html":
                    plan.style = None
            else:
                hosting = site_hosting(rng, self.allocator, op.infra, share_ip=True)
                plan = SitePlan(domain, brand, "hostile", op.key, None, hosting=hosting, kit=op.kit)
                op.domains.append(domain)
                self.plans[domain] = plan
            plan.seed, plan.hostile = False, kind
            plan.tls = _TLS_PROFILES.get(kind, "valid")

    def extra_reseller(self, epoch: int = 1) -> SitePlan:
        """One more generated reseller, for worlds larger than the default and new epochs."""
        rng = self.rng
        domain, brand = reseller_name(rng, self.taken)
        style = _weighted(rng, _STYLES)
        parents = self.child_parents
        source = _weighted(rng, (("jap", 65), ("dripfeed", 12), ("fivebbc", 12), ("child", 11 if parents else 0)))
        parent = rng.choice(parents) if source == "child" else None
        if parent:
            style = "perfectpanel"
        if parent is None and self.extra_operators and rng.random() < 0.3:
            op = self.operators[rng.choice(self.extra_operators)]
        else:
            op = self.operator(f"op-x{len(self.operators)}", domain, infra={"child_panel": parent is not None})
            if parent is None:
                self.extra_operators.append(op.key)
        currency = "USD" if parent else _weighted(rng, _CURRENCIES)
        plan = self.panel(domain, brand, "reseller", style, op, currency=currency)
        plan.rounding = _weighted(rng, _ROUNDINGS)
        plan.first_epoch = epoch
        upstream = parent or _UPSTREAM_BY_KEY[source].domain
        renaming = _weighted(
            rng, (("keep", 50), ("emoji", 15), ("id_prefix", 10), ("debrand", 15 if source == "jap" else 0), ("reorder", 10))
        )
        recategorise = _weighted(
            rng, (("keep", 60), ("emoji", 15), ("platform", 15), ("strip", 10 if source == "fivebbc" else 0))
        )
        scheme = "keep" if parent else _weighted(rng, (("keep", 40), ("offset", 20), ("sequential", 40)))
        plan.feeds.append(
            self.feed(
                upstream,
                rng.choice(_MARKUPS),
                currency,
                plan.rounding,
                rng.randint(20, 90),
                scheme,
                renaming,
                recategorise,
                music_only=rng.random() < 0.1,
                descriptions=rng.random() < 0.85,
            )
        )
        if rng.random() < 0.2:
            plan.independents = self.independents(rng.randint(2, 6), 70000 + rng.randrange(9000))
        if parent:
            plan.links.append(SiteLink(parent, "child_panel_parent"))
        elif len(op.domains) > 1 and rng.random() < 0.5:
            plan.links.append(SiteLink(op.domains[0], "partner"))
        elif style == "perfectpanel" and epoch == 1:
            self.child_parents.append(domain)
        return plan
