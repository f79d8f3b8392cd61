"""What changed on a site from one crawl to the next: prices, services, hosting, name
servers, certificates, payment rails, upstream links, and whether the site is up.

    from panelmap.changes import detect_changes, record_changes, list_changes

    detect_changes(session, site_id, previous_run_id, current_run_id)  # two given runs; stores nothing
    record_changes(session, run_id)          # every site of a run against its history; stored, idempotent
    compare_pending(session)                 # the same for every finished run not compared yet
    list_changes(session, since=..., site="x.com", kind="price")

Changes are stored (a SiteComparison per site and run, a SiteChange per difference)
rather than recomputed on each query:
- Link rows carry no run, so only a snapshot taken at comparison time lets the next
  comparison tell that an upstream link appeared or went;
- alerts and `panelmap changes` read the same rows: what was alerted is what is listed;
- a week of changes is an indexed query, not a re-diff of thousands of prices per run.

What is compared, and when a difference counts (a fact nobody observed is never a change):
- site: `new` (first crawl that reached it), `vanished` (its crawl failed after one that
  did not), `reappeared`;
- price: a service's rate (or currency) moved, with the difference and the percentage;
  the API's observation is compared with the API's, the page's with the page's;
- service: `added` / `removed` (only between two complete crawls: a partial one proves
  no absence), and `changed` min/max;
- infra: the site's addresses (`ip`), their origin ASNs (`asn`), its NS set (`nameservers`);
- certificate: the leaf a host serves (by SHA-256);
- payment: rails (processor, identifier, host) `added` / `removed`;
- link: resells links to an upstream `added` / `removed`.
Each kind is compared with the latest earlier run that observed it, so a crawl that
failed, or one whose enrichment did not run, neither hides nor repeats a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from panelmap.storage.models import (
    AddressObservation,
    Certificate,
    CertificateObservation,
    DnsObservation,
    IpAddress,
    Link,
    Network,
    PaymentEndpoint,
    PriceObservation,
    Service,
    Site,
    SiteChange,
    SiteComparison,
    SiteCrawl,
    utcnow,
)
from panelmap.storage.upsert import upsert, upsert_many

KINDS = ("site", "service", "price", "infra", "certificate", "payment", "link")
SEEN = ("complete", "partial")  # SiteCrawl statuses of a crawl that reached the site
SOURCES = ("api", "html")  # preferred first: the API is authoritative for ids and rates
FACTS = ("catalogue", "addresses", "nameservers", "certificates", "payments")  # besides the site itself


@dataclass(frozen=True)
class Change:
    """One difference. `old`/`new` are JSON-ready (None when the thing did not exist);
    `details` holds what helps reading it (price differences, link confidence)."""

    kind: str  # one of KINDS
    change: str  # new / vanished / reappeared / added / removed / changed
    subject: str = ""  # the service id, "ip" / "asn" / "nameservers", a host, a rail, an upstream
    old: Any = None
    new: Any = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SiteSnapshot:
    """What one crawl (or, as a baseline, the latest crawls) observed of a site; None = not observed."""

    status: str | None = None  # the SiteCrawl's status; None when there was no crawl
    seen: bool = False  # the site was reached: in this crawl, or (baseline) in any earlier one
    catalogue: dict[str, dict[str, PriceObservation]] | None = None  # service key -> source -> observation
    catalogue_complete: bool = False
    addresses: list[str] | None = None
    asns: dict[int, str | None] | None = None  # ASN -> its description
    nameservers: list[str] | None = None
    certificates: dict[str, dict[str, Any]] | None = None  # host -> leaf certificate facts
    payments: dict[str, dict[str, str]] | None = None  # "processor:identifier@host" -> fields


# --- reading what a run observed ------------------------------------------------


def _site_crawl(session: Session, site_id: int, run_id: int) -> SiteCrawl | None:
    return session.scalar(select(SiteCrawl).where(SiteCrawl.site_id == site_id, SiteCrawl.run_id == run_id))


def _definitive(rtypes: tuple[str, ...]) -> Any:
    return and_(DnsObservation.rtype.in_(rtypes), DnsObservation.status.in_(("NOERROR", "NXDOMAIN")))


def _observing_runs(fact: str, site_id: int) -> Select[tuple[int]]:
    """The runs that observed `fact` of the site (the condition each loader below needs)."""
    if fact == "catalogue":
        return (select(PriceObservation.run_id).join(Service, Service.id == PriceObservation.service_id)
                .where(Service.site_id == site_id))
    if fact == "addresses":
        return select(DnsObservation.run_id).where(DnsObservation.site_id == site_id, _definitive(("A", "AAAA")))
    if fact == "nameservers":
        return (select(DnsObservation.run_id).join(Site, Site.id == DnsObservation.site_id)
                .where(DnsObservation.site_id == site_id, DnsObservation.qname == Site.domain, _definitive(("NS",))))
    if fact == "certificates":
        return select(CertificateObservation.run_id).where(CertificateObservation.site_id == site_id,
                                                           CertificateObservation.position == 0)
    assert fact == "payments"
    return select(PaymentEndpoint.run_id).where(PaymentEndpoint.site_id == site_id)


def _catalogue(session: Session, site_id: int, run_id: int) -> dict[str, dict[str, PriceObservation]] | None:
    query = (
        select(Service.service_key, PriceObservation)
        .join(PriceObservation, PriceObservation.service_id == Service.id)
        .where(Service.site_id == site_id, PriceObservation.run_id == run_id)
    )
    catalogue: dict[str, dict[str, PriceObservation]] = {}
    for key, observation in session.execute(query):
        catalogue.setdefault(key, {})[observation.source] = observation
    return catalogue or None


def _addresses(session: Session, site_id: int, run_id: int) -> tuple[list[str], dict[int, str | None] | None] | None:
    """The site's addresses and their ASNs (read through each address's network as stored now)."""
    if session.scalar(_observing_runs("addresses", site_id).where(DnsObservation.run_id == run_id).limit(1)) is None:
        return None
    query = (
        select(IpAddress.address, Network.asn, Network.asn_description)
        .join(AddressObservation, AddressObservation.ip_id == IpAddress.id)
        .outerjoin(Network, Network.id == IpAddress.network_id)
        .where(AddressObservation.site_id == site_id, AddressObservation.run_id == run_id)
    )
    rows = session.execute(query).all()
    asns = {asn: description for _, asn, description in rows if asn is not None}
    return sorted({address for address, _, _ in rows}), asns or None


def _nameservers(session: Session, site_id: int, run_id: int) -> list[str] | None:
    """The apex's NS set; a timeout or SERVFAIL says nothing about it, NXDOMAIN says it is empty."""
    observation = session.scalar(
        select(DnsObservation).join(Site, Site.id == DnsObservation.site_id)
        .where(DnsObservation.site_id == site_id, DnsObservation.run_id == run_id, DnsObservation.rtype == "NS",
               DnsObservation.qname == Site.domain, _definitive(("NS",)))
    )
    return None if observation is None else sorted({str(a).lower().rstrip(".") for a in observation.answers})


def _certificates(session: Session, site_id: int, run_id: int) -> dict[str, dict[str, Any]] | None:
    query = (
        select(CertificateObservation, Certificate)
        .join(Certificate, Certificate.id == CertificateObservation.certificate_id)
        .where(CertificateObservation.site_id == site_id, CertificateObservation.run_id == run_id,
               CertificateObservation.position == 0)
        .order_by(CertificateObservation.observed_at)
    )
    leaves = {
        observation.host: {"sha256": certificate.sha256, "subject": certificate.subject, "issuer": certificate.issuer,
                           "not_after": certificate.not_after.isoformat(), "valid": observation.valid}
        for observation, certificate in session.execute(query)  # the latest observation of a host wins
    }
    return leaves or None


def _payments(session: Session, site_id: int, run_id: int) -> dict[str, dict[str, str]] | None:
    # A run that found no rail at all proves nothing (an expired session cookie hides them all).
    query = select(PaymentEndpoint).where(PaymentEndpoint.site_id == site_id, PaymentEndpoint.run_id == run_id)
    rails = {
        f"{rail.processor}:{rail.identifier}@{rail.host}": {"processor": rail.processor,
                                                            "identifier": rail.identifier, "host": rail.host}
        for rail in session.scalars(query)
    }
    return rails or None


def _fill(known: SiteSnapshot, session: Session, site_id: int, run_id: int, facts: Iterable[str]) -> None:
    for fact in facts:
        if fact == "catalogue":
            known.catalogue = _catalogue(session, site_id, run_id)
            site_crawl = _site_crawl(session, site_id, run_id)
            known.catalogue_complete = site_crawl is not None and site_crawl.status == "complete"
        elif fact == "addresses":
            known.addresses, known.asns = _addresses(session, site_id, run_id) or (None, None)
        elif fact == "nameservers":
            known.nameservers = _nameservers(session, site_id, run_id)
        elif fact == "certificates":
            known.certificates = _certificates(session, site_id, run_id)
        elif fact == "payments":
            known.payments = _payments(session, site_id, run_id)


def _seen_by(session: Session, site_id: int, run_id: int, *, inclusive: bool) -> bool:
    """Whether any crawl up to run `run_id` reached the site."""
    bound = SiteCrawl.run_id <= run_id if inclusive else SiteCrawl.run_id < run_id
    return session.scalar(
        select(SiteCrawl.id).where(SiteCrawl.site_id == site_id, bound, SiteCrawl.status.in_(SEEN)).limit(1)
    ) is not None


def snapshot(session: Session, site_id: int, run_id: int) -> SiteSnapshot:
    """Everything run `run_id` observed of site `site_id`."""
    site_crawl = _site_crawl(session, site_id, run_id)
    status = site_crawl.status if site_crawl else None
    known = SiteSnapshot(status=status, seen=status in SEEN)
    _fill(known, session, site_id, run_id, FACTS)
    return known


def baseline(session: Session, site_id: int, before_run_id: int) -> tuple[SiteSnapshot, int | None]:
    """What was known of a site before run `before_run_id`, each kind of fact from the latest
    crawl that observed it; and the run of the site's crawl just before."""
    previous = session.execute(
        select(SiteCrawl.run_id, SiteCrawl.status)
        .where(SiteCrawl.site_id == site_id, SiteCrawl.run_id < before_run_id, SiteCrawl.status != "running")
        .order_by(SiteCrawl.run_id.desc())
        .limit(1)
    ).first()
    if previous is None:
        return SiteSnapshot(), None
    known = SiteSnapshot(status=previous.status, seen=_seen_by(session, site_id, before_run_id, inclusive=False))
    for fact in FACTS:
        runs = _observing_runs(fact, site_id).subquery()
        run_id = session.scalar(select(func.max(runs.c.run_id)).where(runs.c.run_id < before_run_id))
        if run_id is not None:
            _fill(known, session, site_id, run_id, [fact])
    return known, previous.run_id


# --- comparing -------------------------------------------------------------------


def _percent(old: Decimal | None, new: Decimal | None) -> str | None:
    if old is None or new is None or old == 0:
        return None
    return format(((new - old) / old * 100).quantize(Decimal("0.01")), "f")


def _price(observation: PriceObservation) -> dict[str, Any]:
    return {"rate": format(observation.rate, "f"), "rate_text": observation.rate_text,
            "currency": observation.currency,
            "rate_usd": None if observation.rate_usd is None else format(observation.rate_usd, "f")}


def _limits(observation: PriceObservation) -> dict[str, Any]:
    return {"min": observation.min_quantity, "max": None if observation.max_unlimited else observation.max_quantity,
            "max_unlimited": observation.max_unlimited}


def _offer(observation: PriceObservation) -> dict[str, Any]:
    return {"name": observation.name, "category": observation.category, **_price(observation),
            "platform": observation.platform, "metric": observation.metric}


def _pair(old: dict[str, PriceObservation], new: dict[str, PriceObservation]) -> tuple[PriceObservation, PriceObservation]:
    """The two observations to compare: from the same source where both runs have one."""
    for source in SOURCES:
        if source in old and source in new:
            return old[source], new[source]
    return next(old[s] for s in SOURCES if s in old), next(new[s] for s in SOURCES if s in new)


def _preferred(observations: dict[str, PriceObservation]) -> PriceObservation:
    return next(observations[source] for source in SOURCES if source in observations)


def _catalogue_changes(before: SiteSnapshot, after: SiteSnapshot) -> list[Change]:
    if before.catalogue is None or after.catalogue is None:
        return []
    changes = []
    if before.catalogue_complete and after.catalogue_complete:
        for key in sorted(after.catalogue.keys() - before.catalogue.keys(), key=_natural):
            changes.append(Change("service", "added", key, new=_offer(_preferred(after.catalogue[key]))))
        for key in sorted(before.catalogue.keys() - after.catalogue.keys(), key=_natural):
            changes.append(Change("service", "removed", key, old=_offer(_preferred(before.catalogue[key]))))
    for key in sorted(before.catalogue.keys() & after.catalogue.keys(), key=_natural):
        old, new = _pair(before.catalogue[key], after.catalogue[key])
        if old.rate != new.rate or old.currency != new.currency:
            details: dict[str, Any] = {"name": new.name}
            if old.currency == new.currency:
                details["difference"] = format(new.rate - old.rate, "f")
                details["percent"] = _percent(old.rate, new.rate)
            if old.rate_usd is not None and new.rate_usd is not None:
                details["difference_usd"] = format(new.rate_usd - old.rate_usd, "f")
                details["percent_usd"] = _percent(old.rate_usd, new.rate_usd)
            changes.append(Change("price", "changed", key, _price(old), _price(new), details))
        if _limits(old) != _limits(new):
            changes.append(Change("service", "changed", key, _limits(old), _limits(new), {"name": new.name}))
    return changes


def _natural(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)


def _set_change(kind: str, subject: str, old: Any, new: Any, details: dict[str, Any] | None = None) -> list[Change]:
    if old is None or new is None or old == new:
        return []
    return [Change(kind, "changed", subject, old, new, details or {})]


def _infra_changes(before: SiteSnapshot, after: SiteSnapshot) -> list[Change]:
    changes = _set_change("infra", "ip", before.addresses, after.addresses)
    if before.asns is not None and after.asns is not None and set(before.asns) != set(after.asns):
        names = {str(asn): name for asn, name in {**before.asns, **after.asns}.items()}
        changes.append(Change("infra", "changed", "asn", sorted(before.asns), sorted(after.asns), {"names": names}))
    return changes + _set_change("infra", "nameservers", before.nameservers, after.nameservers)


def _certificate_changes(before: SiteSnapshot, after: SiteSnapshot) -> list[Change]:
    if before.certificates is None or after.certificates is None:
        return []
    return [
        Change("certificate", "changed", host, before.certificates[host], after.certificates[host])
        for host in sorted(before.certificates.keys() & after.certificates.keys())
        if before.certificates[host]["sha256"] != after.certificates[host]["sha256"]
    ]


def _payment_changes(before: SiteSnapshot, after: SiteSnapshot) -> list[Change]:
    if before.payments is None or after.payments is None:
        return []
    added = [Change("payment", "added", key, new=after.payments[key]) for key in sorted(after.payments.keys() - before.payments.keys())]
    removed = [Change("payment", "removed", key, old=before.payments[key])
               for key in sorted(before.payments.keys() - after.payments.keys())]
    return added + removed


def _site_changes(before: SiteSnapshot, after: SiteSnapshot, reason: str | None) -> list[Change]:
    if after.seen and not before.seen:
        return [Change("site", "new", new={"status": after.status})]
    if after.seen and before.status not in SEEN:
        return [Change("site", "reappeared", old={"status": before.status}, new={"status": after.status})]
    if after.status == "failed" and before.status in SEEN:
        return [Change("site", "vanished", old={"status": before.status}, new={"status": after.status, "reason": reason})]
    return []


def compare(before: SiteSnapshot, after: SiteSnapshot, *, reason: str | None = None) -> list[Change]:
    """Every change from `before` to `after`; `reason` is why the later crawl failed, if it did."""
    return (_site_changes(before, after, reason) + _catalogue_changes(before, after) + _infra_changes(before, after)
            + _certificate_changes(before, after) + _payment_changes(before, after))


def detect_changes(session: Session, site_id: int, previous_run_id: int | None, current_run_id: int) -> list[Change]:
    """The changes of site `site_id` from run `previous_run_id` (None: no earlier crawl) to
    `current_run_id`, comparing exactly those two runs. Stores nothing; links are not
    included (they have no run: see `record_changes`)."""
    before = SiteSnapshot()
    if previous_run_id is not None:
        before = snapshot(session, site_id, previous_run_id)
        before.seen = _seen_by(session, site_id, previous_run_id, inclusive=True)
    site_crawl = _site_crawl(session, site_id, current_run_id)
    return compare(before, snapshot(session, site_id, current_run_id), reason=site_crawl.reason if site_crawl else None)


# --- links -----------------------------------------------------------------------


def current_upstreams(session: Session, site_id: int) -> dict[str, dict[str, Any]]:
    """The site's resells links as stored now: upstream domain (or `cluster:<id>`) -> link facts."""
    target = aliased(Site)
    query = (
        select(Link, target.domain)
        .outerjoin(target, target.id == Link.target_site_id)
        .where(Link.source_site_id == site_id, Link.kind == "resells")
    )
    upstreams = {}
    for link, domain in session.execute(query):
        name = domain or f"cluster:{link.target_cluster}"
        upstreams[name] = {"confidence": link.confidence, "markup": None if link.markup is None else str(link.markup),
                           "matched_services": link.matched_services, "weak": link.weak}
    return upstreams


def link_changes(previous: Sequence[str] | None, current: dict[str, dict[str, Any]]) -> list[Change]:
    """Upstreams added and removed since the `previous` snapshot (None: no snapshot, no changes)."""
    if previous is None:
        return []
    added = [Change("link", "added", name, new={"upstream": name}, details=current[name])
             for name in sorted(current.keys() - set(previous))]
    removed = [Change("link", "removed", name, old={"upstream": name}) for name in sorted(set(previous) - current.keys())]
    return added + removed


# --- storing ---------------------------------------------------------------------


def record_changes(session: Session, run_id: int) -> list[Change]:
    """Compare every finished site crawl of run `run_id` with what was known before it, and
    store the comparisons and their changes. Sites already compared are skipped, so calling
    it again (or from two processes) stores nothing twice. Returns the changes it stored."""
    site_ids = session.scalars(
        select(SiteCrawl.site_id)
        .where(SiteCrawl.run_id == run_id, SiteCrawl.status != "running",
               ~exists().where(SiteComparison.run_id == run_id, SiteComparison.site_id == SiteCrawl.site_id))
        .order_by(SiteCrawl.site_id)
    ).all()
    stored: list[Change] = []
    for site_id in site_ids:
        stored.extend(_record_site(session, run_id, site_id))
    return stored


def _record_site(session: Session, run_id: int, site_id: int) -> list[Change]:
    site_crawl = _site_crawl(session, site_id, run_id)
    assert site_crawl is not None
    before, previous_run_id = baseline(session, site_id, run_id)
    changes = compare(before, snapshot(session, site_id, run_id), reason=site_crawl.reason)
    previous_snapshot = session.scalar(
        select(SiteComparison.upstreams)
        .where(SiteComparison.site_id == site_id, SiteComparison.run_id < run_id)
        .order_by(SiteComparison.run_id.desc())
        .limit(1)
    )
    upstreams = current_upstreams(session, site_id)
    changes += link_changes(previous_snapshot, upstreams)
    comparison_id = upsert(
        session, SiteComparison,
        {"run_id": run_id, "site_id": site_id, "previous_run_id": previous_run_id, "upstreams": sorted(upstreams),
         "compared_at": utcnow()},
        conflict=["run_id", "site_id"],
    )
    observed_at = site_crawl.finished_at or site_crawl.started_at
    rows = [
        {"comparison_id": comparison_id, "run_id": run_id, "site_id": site_id, "observed_at": observed_at,
         **asdict(change)}
        for change in changes
    ]
    upsert_many(session, SiteChange, rows, conflict=["comparison_id", "kind", "change", "subject"],
                update=["old", "new", "details"])
    return changes


def compare_pending(session: Session) -> int:
    """`record_changes` for every finished run with sites not compared yet, oldest first;
    returns how many runs it compared. Covers crawls run by hand as well as scheduled ones."""
    pending = session.scalars(
        select(SiteCrawl.run_id)
        .where(SiteCrawl.status != "running",
               ~exists().where(and_(SiteComparison.run_id == SiteCrawl.run_id,
                                    SiteComparison.site_id == SiteCrawl.site_id)))
        .distinct()
        .order_by(SiteCrawl.run_id)
    ).all()
    for run_id in pending:
        record_changes(session, run_id)
    return len(pending)


# --- reading ---------------------------------------------------------------------


def list_changes(session: Session, *, since: datetime | None = None, site: str | None = None,
                 kind: str | None = None, run_id: int | None = None) -> list[dict[str, Any]]:
    """Stored changes, oldest first, as JSON-ready rows (the `panelmap changes --format json` contract)."""
    query = (
        select(SiteChange, Site.domain, SiteComparison.previous_run_id)
        .join(Site, Site.id == SiteChange.site_id)
        .join(SiteComparison, SiteComparison.id == SiteChange.comparison_id)
        .order_by(SiteChange.observed_at, Site.domain, SiteChange.id)
    )
    if since is not None:
        query = query.where(SiteChange.observed_at >= since)
    if site:
        query = query.where(Site.domain == site)
    if kind:
        query = query.where(SiteChange.kind == kind)
    if run_id is not None:
        query = query.where(SiteChange.run_id == run_id)
    rows = []
    for row, domain, previous_run_id in session.execute(query):
        change = Change(row.kind, row.change, row.subject, row.old, row.new, row.details)
        rows.append({
            "id": row.id, "observed_at": row.observed_at, "site": domain, "run_id": row.run_id,
            "previous_run_id": previous_run_id, "kind": row.kind, "change": row.change, "subject": row.subject,
            "old": row.old, "new": row.new, "details": row.details, "summary": summarise(change),
        })
    return rows


def summarise(change: Change) -> str:
    """One line a person reads: `0.90 -> 1.08 USD (+20.00%)`, `AS208476 -> AS211508`..."""
    old, new, details = change.old, change.new, change.details
    if change.kind == "price":
        percent = details.get("percent") or details.get("percent_usd")
        sign = "+" if percent and not percent.startswith("-") else ""
        suffix = f" ({sign}{percent}%)" if percent else ""
        return f"{old['rate']} {old['currency']} -> {new['rate']} {new['currency']}{suffix}"
    if change.kind == "service" and change.change in ("added", "removed"):
        offer = new or old
        return f"{change.change}: {offer['name']} ({offer['rate']} {offer['currency']})"
    if change.kind == "service":
        return ", ".join(f"{key} {old[key]} -> {new[key] if new[key] is not None else 'unlimited'}"
                         for key in ("min", "max") if old[key] != new[key]) or "unlimited max changed"
    if change.kind == "infra" and change.subject == "asn":
        names = details.get("names", {})

        def label(asns: Iterable[int]) -> str:
            return ", ".join(f"AS{asn}" + (f" ({names[str(asn)]})" if names.get(str(asn)) else "") for asn in asns) or "none"

        return f"{label(old)} -> {label(new)}"
    if change.kind == "infra":
        return f"{', '.join(old) or 'none'} -> {', '.join(new) or 'none'}"
    if change.kind == "certificate":
        return f"{old['sha256'][:16]}… -> {new['sha256'][:16]}… (issuer {new['issuer']}, valid {new['valid']})"
    if change.kind == "payment":
        rail = new or old
        where = f" via {rail['host']}" if rail["host"] else ""
        return f"{change.change}: {rail['processor']} {rail['identifier']}{where}"
    if change.kind == "link":
        confidence = details.get("confidence")
        return f"{change.change}: resells from {change.subject}" + (f" (confidence {confidence:.2f})" if confidence is not None else "")
    if change.change == "vanished":
        return f"vanished: {(new or {}).get('reason') or 'the crawl failed'}"
    return change.change
