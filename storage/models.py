"""The data model: one row per real-world thing, one row per observation of it.

Nothing is overwritten in a way that loses history: a thing (Site, Service,
IpAddress, Network, Certificate) keeps first/last seen, and every fact about it
is an observation tied to the CrawlRun that made it and, where it came from a
fetched resource, to the Capture that holds the bytes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import ExactDecimal, UTCDateTime

# Constraint names must be deterministic for Alembic (and SQLite batch mode) to
# alter them later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        Decimal: ExactDecimal(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# --- sites, runs and captures -------------------------------------------------


class Site(Base):
    """A panel or reseller web site, identified by its registrable domain."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="unknown")  # panel / reseller / unknown
    software: Mapped[Optional[str]] = mapped_column(String(32))  # perfect_panel / smartpanel / rental_clone / unknown
    software_evidence: Mapped[Optional[list[Any]]]
    tenant_code: Mapped[Optional[str]] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)

    services: Mapped[list[Service]] = relationship(back_populates="site")


class Job(Base):
    """One execution of a crawl (scheduled or by hand): seeds + options, serialisable."""

    __tablename__ = "job"
    __table_args__ = (UniqueConstraint("schedule_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    schedule_id: Mapped[Optional[int]] = mapped_column(ForeignKey("schedule.id", ondelete="SET NULL"))
    scheduled_for: Mapped[Optional[datetime]]
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued / running / succeeded / failed
    seeds: Mapped[list[Any]] = mapped_column(default=list)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[Optional[datetime]]
    finished_at: Mapped[Optional[datetime]]
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[Optional[str]] = mapped_column(Text)
    log_path: Mapped[Optional[str]] = mapped_column(String(1024))


class CrawlRun(Base):
    """One crawl: when, with which configuration, from which vantage point."""

    __tablename__ = "crawl_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[Optional[int]] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"), index=True)
    job_name: Mapped[Optional[str]] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running / finished / failed / interrupted
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # secrets removed before it gets here
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    proxy: Mapped[Optional[str]] = mapped_column(String(512))
    resolver: Mapped[Optional[str]] = mapped_column(String(255))
    rate_table: Mapped[dict[str, Any]] = mapped_column(default=dict)  # currency -> USD per unit, as strings
    software_version: Mapped[str] = mapped_column(String(64), default="")
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SiteCrawl(Base):
    """What one run did for one site, so that a half-stored site always says so."""

    __tablename__ = "site_crawl"
    __table_args__ = (UniqueConstraint("run_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running / complete / partial / failed
    reason: Mapped[Optional[str]] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(default=0)
    services: Mapped[int] = mapped_column(default=0)
    # What else a person reading the run needs: API status, HTML/API disagreements, errors per page.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]


class Capture(Base):
    """One fetched or generated resource, held as a record in a WARC file."""

    __tablename__ = "capture"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("site.id", ondelete="SET NULL"), index=True)
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("capture.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # response / dom / screenshot / dns / rdap / tls
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[Optional[str]] = mapped_column(Text)
    method: Mapped[Optional[str]] = mapped_column(String(8))
    http_status: Mapped[Optional[int]]
    content_type: Mapped[Optional[str]] = mapped_column(String(255))
    server_ip: Mapped[Optional[str]] = mapped_column(String(45))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[Optional[int]]
    size: Mapped[Optional[int]] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    warc_file: Mapped[str] = mapped_column(String(1024))
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[Optional[int]] = mapped_column(BigInteger)
    warc_record_id: Mapped[str] = mapped_column(String(128), unique=True)


# --- catalogues ------------------------------------------------------------


class Service(Base):
    """A service as a panel lists it: the site plus the panel's own service id."""

    __tablename__ = "service"
    __table_args__ = (UniqueConstraint("site_id", "service_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    service_key: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[Site] = relationship(back_populates="services")


class PriceObservation(Base):
    """A service's listing as one run saw it, from one source (html or api)."""

    __tablename__ = "price_observation"
    __table_args__ = (
        UniqueConstraint("run_id", "service_id", "source"),
        Index("ix_price_observation_service_observed", "service_id", "observed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    capture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("capture.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(8))  # html / api
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[Optional[str]] = mapped_column(Text)
    description: Mapped[Optional[str]] = mapped_column(Text)
    rate: Mapped[Decimal]
    rate_text: Mapped[str] = mapped_column(Text)  # as displayed, e.g. "$0.0135" or "₹200.00"
    currency: Mapped[str] = mapped_column(String(3))
    # True when nothing on the page named the currency and USD was taken by default.
    currency_assumed: Mapped[bool] = mapped_column(default=False)
    rate_usd: Mapped[Optional[Decimal]]
    min_quantity: Mapped[Optional[int]] = mapped_column(BigInteger)
    max_quantity: Mapped[Optional[int]] = mapped_column(BigInteger)  # NULL with max_unlimited for "2147483647"
    max_unlimited: Mapped[bool] = mapped_column(default=False)
    average_time: Mapped[Optional[str]] = mapped_column(String(128))
    refill: Mapped[Optional[bool]]
    cancel: Mapped[Optional[bool]]
    dripfeed: Mapped[Optional[bool]]
    # Normalised taxonomy, so that "Spotify plays" means the same on every panel.
    platform: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    metric: Mapped[Optional[str]] = mapped_column(String(32))
    geo: Mapped[list[Any]] = mapped_column(default=list)
    device: Mapped[Optional[str]] = mapped_column(String(16))
    premium: Mapped[Optional[bool]]
    guarantee_days: Mapped[Optional[int]]  # -1 for "lifetime"


# --- infrastructure -------------------------------------------------------


class DnsObservation(Base):
    """One DNS question and its answer (or its failure: NXDOMAIN, SERVFAIL, TIMEOUT)."""

    __tablename__ = "dns_observation"
    __table_args__ = (UniqueConstraint("run_id", "qname", "rtype"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    capture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("capture.id", ondelete="SET NULL"))
    qname: Mapped[str] = mapped_column(String(253))
    rtype: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16))  # NOERROR / NXDOMAIN / SERVFAIL / TIMEOUT / ...
    answers: Mapped[list[Any]] = mapped_column(default=list)
    ttl: Mapped[Optional[int]]
    resolver: Mapped[Optional[str]] = mapped_column(String(255))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Network(Base):
    """An allocated network block with its origin AS and registry data."""

    __tablename__ = "network"

    id: Mapped[int] = mapped_column(primary_key=True)
    cidr: Mapped[str] = mapped_column(String(49), unique=True)
    asn: Mapped[Optional[int]] = mapped_column(BigInteger, index=True)
    asn_cidr: Mapped[Optional[str]] = mapped_column(String(49))
    asn_description: Mapped[Optional[str]] = mapped_column(Text)
    asn_country: Mapped[Optional[str]] = mapped_column(String(2))
    rir: Mapped[Optional[str]] = mapped_column(String(16))  # arin / ripencc / apnic / lacnic / afrinic
    name: Mapped[Optional[str]] = mapped_column(String(255))
    handle: Mapped[Optional[str]] = mapped_column(String(255))
    country: Mapped[Optional[str]] = mapped_column(String(2))
    abuse_emails: Mapped[list[Any]] = mapped_column(default=list)
    rdap_capture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("capture.id", ondelete="SET NULL"))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)  # for the RDAP cache's age limit


class IpAddress(Base):
    __tablename__ = "ip_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(45), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    network_id: Mapped[Optional[int]] = mapped_column(ForeignKey("network.id", ondelete="SET NULL"), index=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class AddressObservation(Base):
    """A site's host name resolved to this address in this run."""

    __tablename__ = "address_observation"
    __table_args__ = (UniqueConstraint("run_id", "site_id", "hostname", "ip_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    ip_id: Mapped[int] = mapped_column(ForeignKey("ip_address.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(253))
    dns_observation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("dns_observation.id", ondelete="SET NULL"))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Certificate(Base):
    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    sha1: Mapped[str] = mapped_column(String(40))
    serial: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    sans: Mapped[list[Any]] = mapped_column(default=list)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]


class CertificateObservation(Base):
    """The certificate a site served in a run, and whether it was valid for it."""

    __tablename__ = "certificate_observation"
    __table_args__ = (UniqueConstraint("run_id", "site_id", "host", "certificate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id", ondelete="CASCADE"), index=True)
    capture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("capture.id", ondelete="SET NULL"))
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(default=443)
    position: Mapped[int] = mapped_column(default=0)  # 0 = leaf, then up the chain
    valid: Mapped[bool]
    problems: Mapped[list[Any]] = mapped_column(default=list)  # expired / hostname_mismatch / untrusted
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Fingerprint(Base):
    """A web fingerprint value a site showed: favicon hash, tracking id, tenant code..."""

    __tablename__ = "fingerprint"
    __table_args__ = (
        UniqueConstraint("run_id", "site_id", "kind", "value"),
        Index("ix_fingerprint_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    capture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("capture.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))  # favicon_mmh3 / tracking_id / title_hash / tenant_code / ...
    value: Mapped[str] = mapped_column(String(512))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentEndpoint(Base):
    """A payment rail a site takes money through, with the identifier that names the merchant."""

    __tablename__ = "payment_endpoint"
    __table_args__ = (
        UniqueConstraint("run_id", "site_id", "processor", "identifier", "host"),
        Index("ix_payment_endpoint_processor_identifier", "processor", "identifier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    capture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("capture.id", ondelete="SET NULL"))
    processor: Mapped[str] = mapped_column(String(32))  # payeer / perfect_money / stripe / paypal / mastercard_gateway / crypto ...
    identifier: Mapped[str] = mapped_column(String(255), default="")
    host: Mapped[str] = mapped_column(String(253), default="")
    form_action: Mapped[Optional[str]] = mapped_column(Text)
    crypto_network: Mapped[Optional[str]] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- the network ------------------------------------------------------------


class Link(Base):
    """An edge between two sites: a resale relationship or a shared piece of infrastructure.

    A reseller whose upstream was never crawled points at an unknown-upstream
    cluster (`target_cluster`) instead of a site.
    """

    __tablename__ = "link"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # resells / shares_ip / shares_ns / ...
    source_site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    target_site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    target_cluster: Mapped[Optional[str]] = mapped_column(String(64))
    value: Mapped[Optional[str]] = mapped_column(String(512))  # the shared pivot value
    confidence: Mapped[float] = mapped_column(Float)
    markup: Mapped[Optional[Decimal]]
    matched_services: Mapped[Optional[int]]
    pivot_count: Mapped[Optional[int]]
    weak: Mapped[bool] = mapped_column(default=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ids of the observations behind it
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- changes between crawls -------------------------------------------------


class SiteComparison(Base):
    """That a site's crawl in a run was compared with its previous crawl (even if nothing changed).

    `upstreams` keeps the site's resells links as they stood then: Link rows carry no
    run, so this snapshot is what the next comparison diffs its links against.
    """

    __tablename__ = "site_comparison"
    __table_args__ = (UniqueConstraint("run_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    previous_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("crawl_run.id", ondelete="SET NULL"))
    upstreams: Mapped[list[Any]] = mapped_column(default=list)
    compared_at: Mapped[datetime] = mapped_column(default=utcnow)


class SiteChange(Base):
    """One difference between a site's crawl and its previous one: a price, a service, an IP..."""

    __tablename__ = "site_change"
    __table_args__ = (UniqueConstraint("comparison_id", "kind", "change", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("site_comparison.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_run.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    observed_at: Mapped[datetime] = mapped_column(index=True)  # when the run saw the site
    kind: Mapped[str] = mapped_column(String(16))  # site / service / price / infra / certificate / payment / link
    change: Mapped[str] = mapped_column(String(16))  # new / vanished / reappeared / added / removed / changed
    subject: Mapped[str] = mapped_column(String(512), default="")  # service id, "ip", a host, an upstream...
    old: Mapped[Optional[Any]] = mapped_column(JSON(none_as_null=True))
    new: Mapped[Optional[Any]] = mapped_column(JSON(none_as_null=True))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- schedules and evidence -------------------------------------------------


class Schedule(Base):
    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    seeds: Mapped[list[Any]] = mapped_column(default=list)
    every_seconds: Mapped[Optional[int]]
    cron: Mapped[Optional[str]] = mapped_column(String(128))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paused: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_run_at: Mapped[Optional[datetime]]
    last_run_at: Mapped[Optional[datetime]]
    # A lease keeps two schedulers on one database from running a schedule twice.
    lease_owner: Mapped[Optional[str]] = mapped_column(String(128))
    lease_expires_at: Mapped[Optional[datetime]]


class EvidencePack(Base):
    __tablename__ = "evidence_pack"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    operator: Mapped[str] = mapped_column(String(200))
    sites: Mapped[list[Any]] = mapped_column(default=list)
    path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    signature: Mapped[Optional[dict[str, Any]]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustodyEvent(Base):
    """One entry of a pack's append-only custody log; each entry hashes the one before."""

    __tablename__ = "custody_event"
    __table_args__ = (UniqueConstraint("pack_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("evidence_pack.id", ondelete="CASCADE"))
    sequence: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))  # created / exported / verified / copied
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
