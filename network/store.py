"""The network stage's reads and writes: catalogues and infrastructure observations in,
generations of Link rows out.

History: each computation writes a new generation of Link rows that all carry the same
`computed_at`; the current network is the newest generation, older ones stay for
comparison (what changed since last week). Each row's evidence also records the data
version it was computed from (the highest observation ids), so `panelmap network` can
tell whether the stored generation is stale.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmap.storage.models import (
    AddressObservation,
    Certificate,
    CertificateObservation,
    CrawlRun,
    DnsObservation,
    Fingerprint,
    IpAddress,
    Link,
    Network,
    PaymentEndpoint,
    PriceObservation,
    Service,
    Site,
    utcnow,
)

from .catalogue import Catalogue, Listing, PricePoint
from .linker import LinkResult
from .pivots import PivotEdge, PivotObservation, subnet_of

_SOURCE_PREFERENCE = {"api": 0, "html": 1}  # the API is authoritative for ids and rates; anything else last
_VERSIONED = (CrawlRun, PriceObservation, AddressObservation, DnsObservation, CertificateObservation, Fingerprint,
              PaymentEndpoint)


def load_catalogues(session: Session) -> list[Catalogue]:
    """Every site's latest catalogue (its newest run with prices; per service the API's
    observation over the page's), with each service's price history across runs."""
    rows = session.execute(
        select(Site.domain, Service.service_key, PriceObservation)
        .join(Service, Service.site_id == Site.id)
        .join(PriceObservation, PriceObservation.service_id == Service.id)
        .order_by(Site.domain, PriceObservation.run_id)
    )
    observations: dict[str, dict[str, dict[int, PriceObservation]]] = {}
    latest_run: dict[str, int] = {}
    for domain, key, observation in rows:
        per_run = observations.setdefault(domain, {}).setdefault(key, {})
        chosen = per_run.get(observation.run_id)
        if chosen is None or _rank(observation) < _rank(chosen):
            per_run[observation.run_id] = observation
        latest_run[domain] = max(latest_run.get(domain, 0), observation.run_id)
    catalogues = []
    for domain, services in observations.items():
        listings: list[Listing] = []
        history: dict[str, list[PricePoint]] = {}
        currencies: Counter[str] = Counter()
        for key, per_run in services.items():
            points = sorted(per_run.values(), key=lambda o: o.observed_at)
            history[key] = [PricePoint(o.observed_at, float(o.rate_usd if o.rate_usd is not None else o.rate), o.id)
                            for o in points]
            current = per_run.get(latest_run[domain])
            if current is not None:
                listings.append(_listing(key, current))
                currencies[current.currency] += 1
        currency = currencies.most_common(1)[0][0] if currencies else "USD"
        catalogues.append(Catalogue(domain, listings, currency, history))
    return catalogues


def _rank(observation: PriceObservation) -> int:
    return _SOURCE_PREFERENCE.get(observation.source, 2)


def _listing(key: str, observation: PriceObservation) -> Listing:
    return Listing(
        key=key, name=observation.name, rate=float(observation.rate),
        rate_usd=float(observation.rate_usd) if observation.rate_usd is not None else None,
        min=observation.min_quantity, max=None if observation.max_unlimited else observation.max_quantity,
        description=observation.description, category=observation.category, platform=observation.platform,
        metric=observation.metric, observation_id=observation.id,
    )


def _latest_runs(session: Session, model: Any, *conditions: Any) -> Any:
    """A subquery of (site_id, newest run_id) for `model`'s observations."""
    return (select(model.site_id, func.max(model.run_id).label("run_id")).where(*conditions)
            .group_by(model.site_id).subquery())


def load_pivot_observations(session: Session) -> list[PivotObservation]:
    """Each site's current infrastructure values (from its newest run observing each kind)."""
    found: list[PivotObservation] = []
    latest = _latest_runs(session, AddressObservation)
    for domain, address, asn, observation_id in session.execute(
        select(Site.domain, IpAddress.address, Network.asn, AddressObservation.id)
        .join(AddressObservation, AddressObservation.site_id == Site.id)
        .join(latest, (latest.c.site_id == AddressObservation.site_id) & (latest.c.run_id == AddressObservation.run_id))
        .join(IpAddress, IpAddress.id == AddressObservation.ip_id)
        .outerjoin(Network, Network.id == IpAddress.network_id)
    ):
        found.append(PivotObservation(domain, "shares_ip", address, observation_id))
        subnet = subnet_of(address)
        if subnet:
            found.append(PivotObservation(domain, "shares_ip24", subnet, observation_id))
        if asn is not None:
            found.append(PivotObservation(domain, "shares_asn", f"AS{asn}", observation_id))
    ns_condition = (DnsObservation.rtype == "NS",)
    latest = _latest_runs(session, DnsObservation, *ns_condition)
    for domain, answers, observation_id in session.execute(
        select(Site.domain, DnsObservation.answers, DnsObservation.id)
        .join(DnsObservation, DnsObservation.site_id == Site.id)
        .join(latest, (latest.c.site_id == DnsObservation.site_id) & (latest.c.run_id == DnsObservation.run_id))
        .where(DnsObservation.qname == Site.domain, *ns_condition)
    ):
        for answer in answers or []:
            found.append(PivotObservation(domain, "shares_ns", str(answer).rstrip(".").lower(), observation_id))
    latest = _latest_runs(session, CertificateObservation, CertificateObservation.position == 0)
    for domain, sha256, observation_id in session.execute(
        select(Site.domain, Certificate.sha256, CertificateObservation.id)
        .join(CertificateObservation, CertificateObservation.site_id == Site.id)
        .join(latest, (latest.c.site_id == CertificateObservation.site_id)
              & (latest.c.run_id == CertificateObservation.run_id))
        .join(Certificate, Certificate.id == CertificateObservation.certificate_id)
        .where(CertificateObservation.position == 0)
    ):
        found.append(PivotObservation(domain, "shares_cert", sha256, observation_id))
    kinds = {"favicon_mmh3": "shares_favicon", "tracking_id": "shares_tracking_id",
             "tenant_code": "shares_tenant_code", "dns_txt_token": "shares_txt_token"}
    latest = _latest_runs(session, Fingerprint)
    for domain, kind, value, observation_id in session.execute(
        select(Site.domain, Fingerprint.kind, Fingerprint.value, Fingerprint.id)
        .join(Fingerprint, Fingerprint.site_id == Site.id)
        .join(latest, (latest.c.site_id == Fingerprint.site_id) & (latest.c.run_id == Fingerprint.run_id))
        .where(Fingerprint.kind.in_(kinds))
    ):
        found.append(PivotObservation(domain, kinds[kind], value, observation_id))
    for domain, tenant_code in session.execute(select(Site.domain, Site.tenant_code).where(Site.tenant_code.is_not(None))):
        found.append(PivotObservation(domain, "shares_tenant_code", tenant_code))
    latest = _latest_runs(session, PaymentEndpoint)
    for domain, processor, identifier, observation_id in session.execute(
        select(Site.domain, PaymentEndpoint.processor, PaymentEndpoint.identifier, PaymentEndpoint.id)
        .join(PaymentEndpoint, PaymentEndpoint.site_id == Site.id)
        .join(latest, (latest.c.site_id == PaymentEndpoint.site_id) & (latest.c.run_id == PaymentEndpoint.run_id))
        .where(PaymentEndpoint.identifier != "")
    ):
        found.append(PivotObservation(domain, "shares_merchant", f"{processor}:{identifier}", observation_id))
    return found


def data_version(session: Session) -> list[int]:
    """The highest id of every table the network is computed from: equal versions, equal input."""
    return [int(session.execute(select(func.max(model.id))).scalar() or 0) for model in _VERSIONED]


def save_generation(session: Session, result: LinkResult, pivots: Iterable[PivotEdge],
                    computed_at: datetime | None = None) -> datetime:
    """Store a new generation of links; returns its `computed_at`."""
    computed_at = computed_at or utcnow()
    version = data_version(session)
    site_ids = {domain: site_id for domain, site_id in session.execute(select(Site.domain, Site.id))}
    clusters = {cluster.id: cluster for cluster in result.clusters}
    rows: list[Link] = []
    for link in result.links:
        evidence = {**link.evidence(), "data_version": version}
        cluster = clusters.get(link.upstream)
        if cluster is not None:
            evidence["cluster"] = {"members": cluster.members, "markups": cluster.markups}
        rows.append(Link(
            kind="resells", source_site_id=site_ids[link.reseller],
            target_site_id=None if cluster else site_ids[link.upstream],
            target_cluster=link.upstream if cluster else None, confidence=link.confidence,
            markup=Decimal(str(round(link.markup, 6))), matched_services=link.agreeing, weak=False,
            evidence=evidence, computed_at=computed_at,
        ))
    for edge in pivots:
        rows.append(Link(
            kind=edge.kind, source_site_id=site_ids[edge.source],
            target_site_id=None if edge.hub else site_ids[edge.target], target_cluster=edge.target if edge.hub else None,
            value=edge.value[:512], confidence=1.0 / edge.pivot_count if edge.weak else 1.0,
            pivot_count=edge.pivot_count, weak=edge.weak,
            evidence={**edge.evidence(), "data_version": version}, computed_at=computed_at,
        ))
    session.add_all(rows)
    session.flush()
    return computed_at


def current_generation(session: Session) -> datetime | None:
    return session.execute(select(func.max(Link.computed_at))).scalar()


def is_stale(session: Session) -> bool:
    """Whether the newest generation is missing or was computed from other data than now."""
    computed_at = current_generation(session)
    if computed_at is None:
        return True
    stored = session.execute(select(Link.evidence).where(Link.computed_at == computed_at).limit(1)).scalar()
    return (stored or {}).get("data_version") != data_version(session)


def current_links(session: Session) -> list[dict[str, Any]]:
    """The newest generation's links as plain dicts (domains, not ids)."""
    computed_at = current_generation(session)
    if computed_at is None:
        return []
    domains = {site_id: domain for site_id, domain in session.execute(select(Site.id, Site.domain))}
    links = []
    for link in session.scalars(select(Link).where(Link.computed_at == computed_at).order_by(Link.id)):
        links.append({
            "id": link.id, "kind": link.kind, "source": domains[link.source_site_id],
            "target": domains[link.target_site_id] if link.target_site_id is not None else link.target_cluster,
            "target_is_site": link.target_site_id is not None, "value": link.value,
            "confidence": link.confidence, "markup": link.markup, "matched_services": link.matched_services,
            "pivot_count": link.pivot_count, "weak": link.weak, "evidence": link.evidence,
            "computed_at": link.computed_at,
        })
    return links


def site_facts(session: Session) -> dict[str, dict[str, Any]]:
    """Per site the facts a graph node shows: kind, software, tenant code."""
    return {domain: {"site_kind": kind, "software": software, "tenant_code": tenant}
            for domain, kind, software, tenant in session.execute(
                select(Site.domain, Site.kind, Site.software, Site.tenant_code))}
