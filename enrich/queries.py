"""The per-site infrastructure read model behind `panelmap panels --site D --format json`.

Each part comes from the latest run that observed it for the site, so a site
whose last crawl failed its TLS grab still shows the certificate it served before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmap.storage import normalise_domain
from panelmap.storage.models import (
    AddressObservation,
    Certificate,
    CertificateObservation,
    DnsObservation,
    Fingerprint,
    IpAddress,
    Network,
    PaymentEndpoint,
    Site,
)


def _latest_run(session: Session, model: Any, site_id: int, *conditions: Any) -> int | None:
    return session.execute(select(func.max(model.run_id)).where(model.site_id == site_id, *conditions)).scalar()


def site_infrastructure(session: Session, domain: str) -> dict[str, Any] | None:
    """`{"site", "ips", "asns", "ns", "certificate", "fingerprints", "payments", "abuse_contacts"}`
    for `domain`, or None when the site is unknown. JSON-ready."""
    site = session.execute(select(Site).where(Site.domain == normalise_domain(domain))).scalar_one_or_none()
    if site is None:
        return None
    networks = _networks(session, site.id)
    asns = sorted({(network.asn, network.asn_description) for network in networks if network.asn is not None},
                  key=lambda pair: (pair[0], pair[1] or ""))
    return {
        "site": site.domain,
        "ips": _ips(session, site.id),
        "asns": [{"number": asn, "name": name} for asn, name in asns],
        "ns": _nameservers(session, site),
        "certificate": _certificate(session, site),
        "fingerprints": _fingerprints(session, site.id),
        "payments": _payments(session, site.id),
        "abuse_contacts": sorted({email for network in networks for email in network.abuse_emails or []}),
    }


def _address_rows(session: Session, site_id: int) -> list[tuple[str, int | None]]:
    run_id = _latest_run(session, AddressObservation, site_id)
    if run_id is None:
        return []
    rows = session.execute(
        select(IpAddress.address, IpAddress.network_id)
        .join(AddressObservation, AddressObservation.ip_id == IpAddress.id)
        .where(AddressObservation.site_id == site_id, AddressObservation.run_id == run_id)
        .distinct()
    )
    return [(address, network_id) for address, network_id in rows]


def _ips(session: Session, site_id: int) -> list[str]:
    return sorted({address for address, _network in _address_rows(session, site_id)})


def _networks(session: Session, site_id: int) -> list[Network]:
    ids = {network_id for _address, network_id in _address_rows(session, site_id) if network_id is not None}
    if not ids:
        return []
    return list(session.scalars(select(Network).where(Network.id.in_(ids)).order_by(Network.cidr)))


def _nameservers(session: Session, site: Site) -> list[str]:
    condition = (DnsObservation.qname == site.domain, DnsObservation.rtype == "NS")
    run_id = _latest_run(session, DnsObservation, site.id, *condition)
    if run_id is None:
        return []
    answers = session.execute(
        select(DnsObservation.answers)
        .where(DnsObservation.site_id == site.id, DnsObservation.run_id == run_id, *condition)
    ).scalar()
    return sorted({str(answer).rstrip(".").lower() for answer in answers or []})


def _certificate(session: Session, site: Site) -> dict[str, Any] | None:
    condition = (CertificateObservation.position == 0,)
    run_id = _latest_run(session, CertificateObservation, site.id, *condition)
    if run_id is None:
        return None
    rows = session.execute(
        select(CertificateObservation, Certificate)
        .join(Certificate, Certificate.id == CertificateObservation.certificate_id)
        .where(CertificateObservation.site_id == site.id, CertificateObservation.run_id == run_id, *condition)
    ).all()
    observation, certificate = min(rows, key=lambda row: (row[0].host != site.domain, row[0].host))
    return {
        "host": observation.host,
        "sha256": certificate.sha256,
        "sha1": certificate.sha1,
        "serial": certificate.serial,
        "subject": certificate.subject,
        "issuer": certificate.issuer,
        "sans": certificate.sans,
        "not_before": certificate.not_before.isoformat(),
        "not_after": certificate.not_after.isoformat(),
        "valid": observation.valid,
        "problems": observation.problems,
    }


def _fingerprints(session: Session, site_id: int) -> list[dict[str, str]]:
    run_id = _latest_run(session, Fingerprint, site_id)
    rows = session.execute(
        select(Fingerprint.kind, Fingerprint.value)
        .where(Fingerprint.site_id == site_id, Fingerprint.run_id == run_id)
        .order_by(Fingerprint.kind, Fingerprint.value)
    )
    return [{"kind": kind, "value": value} for kind, value in rows]


def _payments(session: Session, site_id: int) -> list[dict[str, str]]:
    run_id = _latest_run(session, PaymentEndpoint, site_id)
    rows = session.execute(
        select(PaymentEndpoint.processor, PaymentEndpoint.identifier, PaymentEndpoint.host)
        .where(PaymentEndpoint.site_id == site_id, PaymentEndpoint.run_id == run_id)
        .order_by(PaymentEndpoint.processor, PaymentEndpoint.identifier, PaymentEndpoint.host)
    )
    return [{"processor": processor, "identifier": identifier, "host": host} for processor, identifier, host in rows]
