"""What the database knows about a pack's sites, gathered for the report.

Every fact keeps the id of the capture it came from, so the report can point at
the artefact in the pack that a reader can open and check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from panelmap.storage import list_services
from panelmap.storage.models import (
    AddressObservation,
    Capture,
    Certificate,
    CertificateObservation,
    DnsObservation,
    IpAddress,
    Link,
    Network,
    PaymentEndpoint,
    PriceObservation,
    Site,
    SiteCrawl,
)

# Music and audio platforms whose fake plays and listeners hurt artists and royalty pools, the
# ones that pay royalties per stream first: that is the order the report lists them in.
STREAMING_ORDER = (
    "spotify", "apple_music", "amazon_music", "deezer", "tidal", "soundcloud", "audiomack", "napster",
    "google_play_music", "shazam", "mixcloud", "reverbnation", "datpiff", "radiojavan", "spreaker", "podcast",
)
STREAMING_PLATFORMS = frozenset(STREAMING_ORDER)


@dataclass
class LinkFact:
    kind: str
    direction: str  # "upstream" (this site buys from it) / "reseller" (it buys from this site) / "shared"
    other: str  # a domain, or an unknown-upstream cluster
    confidence: float
    markup: Decimal | None
    matched_services: int | None
    value: str | None
    weak: bool
    evidence: dict[str, Any]
    computed_at: datetime
    capture_ids: list[int] = field(default_factory=list)  # the price lists a resale link rests on


@dataclass
class SiteFacts:
    domain: str
    kind: str
    software: str | None
    tenant_code: str | None
    first_seen: datetime
    last_seen: datetime
    catalogue: list[dict[str, Any]] = field(default_factory=list)
    links: list[LinkFact] = field(default_factory=list)
    hosting: list[dict[str, Any]] = field(default_factory=list)
    dns: list[dict[str, Any]] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def streaming(self) -> list[dict[str, Any]]:
        rows = [row for row in self.catalogue if row["platform"] in STREAMING_PLATFORMS]
        return sorted(rows, key=lambda row: (STREAMING_ORDER.index(row["platform"]), row["metric"] or "",
                                             row["rate_usd"] is None, row["rate_usd"] or 0))

    @property
    def platform_summary(self) -> list[dict[str, Any]]:
        """Services per platform and metric, with the cheapest and dearest price per 1000 in USD."""
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in self.catalogue:
            groups[(row["platform"] or "unclassified", row["metric"] or "unclassified")].append(row)
        summary = []
        for (platform, metric), rows in groups.items():
            prices = [row["rate_usd"] for row in rows if row["rate_usd"] is not None]
            summary.append({"platform": platform, "metric": metric, "services": len(rows),
                            "cheapest_usd": min(prices) if prices else None,
                            "dearest_usd": max(prices) if prices else None,
                            "streaming": platform in STREAMING_PLATFORMS})
        return sorted(summary, key=lambda row: (not row["streaming"], -row["services"], row["platform"], row["metric"]))


def gather(session: Session, sites: Sequence[Site], since: datetime | None) -> list[SiteFacts]:
    return [_site_facts(session, site, since) for site in sites]


def _after(column: Any, since: datetime | None) -> Any:
    return column >= since if since else True


def _site_facts(session: Session, site: Site, since: datetime | None) -> SiteFacts:
    facts = SiteFacts(site.domain, site.kind, site.software, site.tenant_code, site.first_seen, site.last_seen)
    facts.catalogue = [row for row in list_services(session, domain=site.domain)
                       if not since or row["observed_at"] >= since]
    facts.links = _links(session, site.id)
    facts.hosting = _hosting(session, site.id, since)
    facts.dns = _dns(session, site.id, since)
    facts.certificates = _certificates(session, site.id, since)
    facts.payments = _payments(session, site.id, since)
    facts.timeline = _timeline(session, site.id, since)
    return facts


def _observation_ids(value: Any) -> set[int]:
    """Every id in a resale link's `observations` ([[upstream id, reseller id], ...])."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {value}
    if isinstance(value, list):
        return set().union(*(_observation_ids(item) for item in value)) if value else set()
    return set()


def _price_captures(session: Session, evidence: dict[str, Any]) -> list[int]:
    ids = _observation_ids(evidence.get("observations"))
    if not ids:
        return []
    query = select(PriceObservation.capture_id).where(PriceObservation.id.in_(ids),
                                                      PriceObservation.capture_id.is_not(None)).distinct()
    return sorted(session.scalars(query))


def _links(session: Session, site_id: int) -> list[LinkFact]:
    """The site's links in the linker's latest generation (each computation stores a whole new one)."""
    source, target = aliased(Site), aliased(Site)
    latest = select(func.max(Link.computed_at)).scalar_subquery()
    query = (
        select(Link, source.domain, target.domain)
        .join(source, source.id == Link.source_site_id)
        .outerjoin(target, target.id == Link.target_site_id)
        .where(or_(Link.source_site_id == site_id, Link.target_site_id == site_id), Link.computed_at == latest)
        .order_by(Link.kind, Link.confidence.desc(), Link.id)
    )
    links = []
    for link, source_domain, target_domain in session.execute(query):
        outgoing = link.source_site_id == site_id
        if link.kind == "resells":
            direction = "upstream" if outgoing else "reseller"
        else:
            direction = "shared"
        other = (target_domain or f"unknown upstream {link.target_cluster}") if outgoing else source_domain
        captures = _price_captures(session, link.evidence) if link.kind == "resells" else []
        links.append(LinkFact(link.kind, direction, other, link.confidence, link.markup, link.matched_services,
                              link.value, link.weak, link.evidence, link.computed_at, captures))
    return links


def _hosting(session: Session, site_id: int, since: datetime | None) -> list[dict[str, Any]]:
    query = (
        select(AddressObservation.hostname, IpAddress.address, Network,
               func.min(AddressObservation.observed_at), func.max(AddressObservation.observed_at))
        .join(IpAddress, IpAddress.id == AddressObservation.ip_id)
        .outerjoin(Network, Network.id == IpAddress.network_id)
        .where(AddressObservation.site_id == site_id, _after(AddressObservation.observed_at, since))
        .group_by(AddressObservation.hostname, IpAddress.address, Network.id)
        .order_by(AddressObservation.hostname, IpAddress.address)
    )
    return [{
        "hostname": hostname, "address": address, "first_seen": first, "last_seen": last,
        "cidr": network.cidr if network else None, "asn": network.asn if network else None,
        "as_name": network.asn_description if network else None, "network": network.name if network else None,
        "country": network.country if network else None, "rir": network.rir if network else None,
        "abuse": network.abuse_emails if network else [],
        "capture_id": network.rdap_capture_id if network else None,
    } for hostname, address, network, first, last in session.execute(query)]


def _dns(session: Session, site_id: int, since: datetime | None) -> list[dict[str, Any]]:
    """The latest answer to each question asked about the site."""
    latest = (
        select(DnsObservation.qname, DnsObservation.rtype, func.max(DnsObservation.id).label("id"))
        .where(DnsObservation.site_id == site_id, _after(DnsObservation.observed_at, since))
        .group_by(DnsObservation.qname, DnsObservation.rtype).subquery()
    )
    rows = session.scalars(select(DnsObservation).join(latest, latest.c.id == DnsObservation.id)
                           .order_by(DnsObservation.qname, DnsObservation.rtype))
    return [{"qname": row.qname, "rtype": row.rtype, "status": row.status, "answers": row.answers,
             "observed_at": row.observed_at, "capture_id": row.capture_id} for row in rows]


def _certificates(session: Session, site_id: int, since: datetime | None) -> list[dict[str, Any]]:
    query = (
        select(CertificateObservation, Certificate)
        .join(Certificate, Certificate.id == CertificateObservation.certificate_id)
        .where(CertificateObservation.site_id == site_id, CertificateObservation.position == 0,
               _after(CertificateObservation.observed_at, since))
        .order_by(CertificateObservation.observed_at.desc())
    )
    seen, rows = set(), []
    for observation, certificate in session.execute(query):
        if (observation.host, certificate.sha256) in seen:
            continue
        seen.add((observation.host, certificate.sha256))
        rows.append({"host": observation.host, "port": observation.port, "subject": certificate.subject,
                     "issuer": certificate.issuer, "sha256": certificate.sha256, "sans": certificate.sans,
                     "not_before": certificate.not_before, "not_after": certificate.not_after,
                     "valid": observation.valid, "problems": observation.problems,
                     "observed_at": observation.observed_at, "capture_id": observation.capture_id})
    return rows


def _payments(session: Session, site_id: int, since: datetime | None) -> list[dict[str, Any]]:
    query = (
        select(PaymentEndpoint.processor, PaymentEndpoint.identifier, PaymentEndpoint.host,
               PaymentEndpoint.crypto_network, func.min(PaymentEndpoint.observed_at),
               func.max(PaymentEndpoint.observed_at), func.max(PaymentEndpoint.capture_id))
        .where(PaymentEndpoint.site_id == site_id, _after(PaymentEndpoint.observed_at, since))
        .group_by(PaymentEndpoint.processor, PaymentEndpoint.identifier, PaymentEndpoint.host,
                  PaymentEndpoint.crypto_network)
        .order_by(PaymentEndpoint.processor, PaymentEndpoint.identifier)
    )
    return [{"processor": processor, "identifier": identifier, "host": host, "network": network,
             "first_seen": first, "last_seen": last, "capture_id": capture_id}
            for processor, identifier, host, network, first, last, capture_id in session.execute(query)]


def _timeline(session: Session, site_id: int, since: datetime | None) -> list[dict[str, Any]]:
    """Each crawl of the site: when, how it went, and what it captured."""
    captures: dict[int, dict[str, int]] = defaultdict(dict)
    counts = (select(Capture.run_id, Capture.kind, func.count())
              .where(Capture.site_id == site_id, _after(Capture.fetched_at, since))
              .group_by(Capture.run_id, Capture.kind))
    for run_id, kind, count in session.execute(counts):
        captures[run_id][kind] = count
    crawls = session.scalars(select(SiteCrawl).where(SiteCrawl.site_id == site_id,
                                                     _after(SiteCrawl.started_at, since))
                             .order_by(SiteCrawl.started_at))
    rows = [{"run": crawl.run_id, "started_at": crawl.started_at, "finished_at": crawl.finished_at,
             "status": crawl.status, "reason": crawl.reason, "pages": crawl.pages, "services": crawl.services,
             "captures": captures.pop(crawl.run_id, {})} for crawl in crawls]
    # Runs that captured something about the site without crawling it (enrichment passes).
    rows += [{"run": run_id, "started_at": None, "finished_at": None, "status": "enrichment", "reason": None,
              "pages": 0, "services": 0, "captures": kinds} for run_id, kinds in sorted(captures.items())]
    return rows
