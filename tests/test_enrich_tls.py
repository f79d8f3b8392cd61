"""The TLS enricher through the sandbox proxy (CONNECT): the served chain, its facts as the
sandbox issued them, and expired / wrong-name / untrusted certificates recorded, never skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from enrich_support import enrich, new_run, sandbox_settings
from panelmap.enrich.dns import DnsEnricher
from panelmap.enrich.tls import TlsEnricher, hostname_matches
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database, read_record_payload
from panelmap.storage.models import Capture, Certificate, CertificateObservation, Site
from sandbox_tiny import tiny_world

pytestmark = pytest.mark.timeout(60)

STEPS = [DnsEnricher, TlsEnricher]


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tiny_world(), tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture(scope="module")
def truth(sb: Sandbox) -> dict[str, dict]:
    return json.loads(sb.ground_truth_path.read_text())["certificates"]


def observed(database: Database, run_id: int) -> dict[str, tuple[CertificateObservation, Certificate]]:
    with database.session() as session:
        rows = session.execute(
            select(CertificateObservation, Certificate)
            .join(Certificate, Certificate.id == CertificateObservation.certificate_id)
            .where(CertificateObservation.run_id == run_id)
        ).all()
    return {observation.host: (observation, certificate) for observation, certificate in rows}


def test_served_certificates_match_what_the_sandbox_issued(sb: Sandbox, truth: dict, database: Database,
                                                           tmp_path: Path) -> None:
    run_id = new_run(database)
    stats = enrich(database, run_id, ["shop.example", "expired.example", "wrong.example"], sandbox_settings(sb),
                   tmp_path, enrichers=STEPS)
    assert not stats.failures
    seen = observed(database, run_id)
    assert set(seen) == {"shop.example", "www.shop.example", "expired.example", "wrong.example"}
    for host, (observation, certificate) in seen.items():
        expected = truth[host]
        assert (certificate.sha256, certificate.sha1, certificate.serial, certificate.sans) == (
            expected["sha256"], expected["sha1"], expected["serial"], expected["sans"])
        assert certificate.not_before == datetime.fromisoformat(expected["not_before"])
        assert certificate.not_after == datetime.fromisoformat(expected["not_after"])
        assert certificate.issuer == "CN=panelmap sandbox CA" and observation.position == 0
    problems = {host: (observation.valid, observation.problems) for host, (observation, _cert) in seen.items()}
    assert problems == {
        "shop.example": (True, []),
        "www.shop.example": (True, []),  # the same certificate: names co-hosted on one certificate
        "expired.example": (False, ["expired"]),
        "wrong.example": (False, ["hostname_mismatch"]),
    }
    assert seen["shop.example"][1].id == seen["www.shop.example"][1].id


def test_without_the_sandbox_ca_the_chain_is_untrusted(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    enrich(database, run_id, ["shop.example"], sandbox_settings(sb, ca_bundle=None), tmp_path, enrichers=STEPS)
    observation, _certificate = observed(database, run_id)["shop.example"]
    assert (observation.valid, observation.problems) == (False, ["untrusted"])


def test_chain_is_kept_as_pem(sb: Sandbox, truth: dict, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    enrich(database, run_id, ["expired.example"], sandbox_settings(sb), tmp_path, enrichers=STEPS)
    observation, _certificate = observed(database, run_id)["expired.example"]
    with database.session() as session:
        capture = session.get(Capture, observation.capture_id)
    assert (capture.kind, capture.url, capture.content_type) == ("tls", "tls://expired.example:443", "application/x-pem-file")
    chain = x509.load_pem_x509_certificates(read_record_payload(capture.warc_file, capture.warc_offset))
    assert [cert.fingerprint(hashes.SHA256()).hex() for cert in chain] == [truth["expired.example"]["sha256"]]


def test_a_site_without_tls_is_a_recorded_failure_that_stops_nothing(sb: Sandbox, database: Database,
                                                                     tmp_path: Path) -> None:
    run_id = new_run(database)
    stats = enrich(database, run_id, ["plain.example", "shop.example"], sandbox_settings(sb), tmp_path, enrichers=STEPS)
    assert [(failure.domain, failure.enricher) for failure in stats.failures] == [("plain.example", "tls")]
    assert "502" in stats.failures[0].error
    assert "shop.example" in observed(database, run_id)


def test_rerun_keeps_one_observation_per_host(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    for _ in range(2):
        enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path, enrichers=STEPS)
    with database.session() as session:
        rows = session.scalars(select(CertificateObservation.host).where(CertificateObservation.run_id == run_id)).all()
    assert sorted(rows) == ["shop.example", "www.shop.example"]


@pytest.mark.parametrize(("host", "matches"), [
    ("shop.example", True), ("www.shop.example", True), ("a.b.shop.example", False), ("other.example", False),
])
def test_wildcards_stand_for_one_label(host: str, matches: bool) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.example")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(datetime(2024, 1, 1)).not_valid_after(datetime(2025, 1, 1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("shop.example"), x509.DNSName("*.shop.example")]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    assert hostname_matches(host, certificate) is matches


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(generate_world(seed=1), tmp_path_factory.mktemp("world")) as box:
        yield box


def test_every_site_of_the_generated_world_shows_its_certificate(world: Sandbox, database: Database,
                                                                 tmp_path: Path) -> None:
    truth = json.loads(world.ground_truth_path.read_text())
    sites = {domain: site for domain, site in truth["sites"].items() if site["tls"]}
    run_id = new_run(database)
    stats = enrich(database, run_id, list(sites), sandbox_settings(world), tmp_path, enrichers=STEPS)
    assert not stats.failures
    with database.session() as session:
        rows = session.execute(
            select(Site.domain, CertificateObservation, Certificate)
            .join(Site, Site.id == CertificateObservation.site_id)
            .join(Certificate, Certificate.id == CertificateObservation.certificate_id)
            .where(CertificateObservation.run_id == run_id, CertificateObservation.host == Site.domain)
        ).all()
    found = {domain: (certificate.sha256, observation.problems) for domain, observation, certificate in rows}
    verdict = {"valid": [], "expired": ["expired"], "wrong_name": ["hostname_mismatch"]}
    assert found == {domain: (truth["certificates"][domain]["sha256"], verdict[site["tls"]["profile"]])
                     for domain, site in sites.items()}
