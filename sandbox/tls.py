"""Certificates for the sandbox: one CA made at start, one leaf per `CertificateSpec`.

The crawler trusts the CA with `--ca-bundle`, so "valid" leaves verify while "expired"
and "wrong_name" ones fail the way they do on the real web. EC P-256 keys keep issuing
thousands of leaves down to a second or two; server-side `SSLContext`s are built on
first use, since most hosts of a big world are never visited over TLS in one test.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from panelmap.sandbox.world import CertificateSpec

CA_NAME = "panelmap sandbox CA"
_LEAF_LIFETIME = timedelta(days=90)


@dataclass
class IssuedCertificate:
    """A leaf as served, with the facts an investigator's TLS grab should recover."""

    spec: CertificateSpec
    certificate: x509.Certificate
    chain_path: Path  # PEM: leaf certificate then its private key
    _context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def sans(self) -> list[str]:
        extension = self.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        return extension.value.get_values_for_type(x509.DNSName)

    @property
    def sha256(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def sha1(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex()  # a pivot value, not a signature

    @property
    def serial(self) -> str:
        """Upper-case hex, as `ssl.SSLSocket.getpeercert()['serialNumber']` prints it."""
        digits = f"{self.certificate.serial_number:X}"
        return digits.zfill(len(digits) + len(digits) % 2)

    def ssl_context(self) -> ssl.SSLContext:
        """The server-side context for this leaf (built once, on first use)."""
        if self._context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.chain_path)
            context.set_alpn_protocols(["http/1.1"])
            self._context = context
        return self._context

    def describe(self) -> dict[str, Any]:
        """JSON-ready ground truth for this certificate."""
        return {
            "sha256": self.sha256,
            "sha1": self.sha1,
            "serial": self.serial,
            "not_before": self.certificate.not_valid_before_utc.isoformat(),
            "not_after": self.certificate.not_valid_after_utc.isoformat(),
            "sans": self.sans,
            "profile": self.spec.profile,
        }


class CertificateAuthority:
    """A throwaway root that signs every leaf of one sandbox run."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
        public_key = self._key.public_key()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=1))
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, spec: CertificateSpec) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A leaf for `spec`: its names and validity bent by the spec's profile."""
        names = list(spec.names)
        not_before, not_after = self.now - timedelta(days=1), self.now + _LEAF_LIFETIME
        if spec.profile == "expired":
            not_before, not_after = self.now - timedelta(days=400), self.now - timedelta(days=30)
        elif spec.profile == "wrong_name":
            names = [_wrong_name(spec)]
        key = ec.generate_private_key(ec.SECP256R1())
        public_key = key.public_key()
        ca_public_key = self._key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public_key), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return certificate, key


def _wrong_name(spec: CertificateSpec) -> str:
    """A name none of the spec's hosts answers to, distinct per spec so that unrelated
    misconfigured sites do not look like one operator by their SANs."""
    digest = hashlib.sha256(",".join(spec.names).encode()).hexdigest()[:10]
    return f"{digest}.wrong-name.invalid"


class SandboxCertificates:
    """Every certificate of one world, issued at construction, files under `directory`."""

    def __init__(self, certificates: dict[str, CertificateSpec], directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.authority = CertificateAuthority()
        self.ca_bundle = directory / "ca.pem"
        self.ca_bundle.write_bytes(self.authority.pem)
        leaves_directory = directory / "certs"
        leaves_directory.mkdir(exist_ok=True)
        issued: dict[CertificateSpec, IssuedCertificate] = {}
        self._by_host: dict[str, IssuedCertificate] = {}
        for host, spec in certificates.items():
            if spec not in issued:
                certificate, key = self.authority.issue(spec)
                path = leaves_directory / f"{len(issued)}.pem"
                path.write_bytes(
                    certificate.public_bytes(serialization.Encoding.PEM)
                    + key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    )
                )
                path.chmod(0o600)
                issued[spec] = IssuedCertificate(spec, certificate, path)
            self._by_host[host.lower()] = issued[spec]

    def for_host(self, host: str) -> IssuedCertificate | None:
        return self._by_host.get(host.lower())

    def describe(self) -> dict[str, dict[str, Any]]:
        """{host: ground truth of the certificate it serves}, for the ground-truth file."""
        return {host: issued.describe() for host, issued in sorted(self._by_host.items())}
