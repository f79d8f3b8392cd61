"""TLS: the certificate chain a site serves, judged against the system's roots plus `--ca-bundle`.

Python's `ssl` on 3.11 hands back only the leaf (`get_unverified_chain` came in
3.13), so the handshake runs in pyOpenSSL over memory BIOs, driven by an
asyncio stream: the same stream whether it is a direct connection or a CONNECT
tunnel through `--proxy`. Verification never aborts the handshake: every
problem (expired, hostname_mismatch, untrusted) is recorded on the observation,
and a site with a bad certificate is observed like any other.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from OpenSSL import SSL, crypto
from sqlalchemy.orm import Session

from panelmap.storage import upsert
from panelmap.storage.models import Certificate, CertificateObservation

from .base import Enricher, EnrichmentContext, SiteTarget
from .dns import addresses_of
from .http import HttpClient, HttpError

READ_SIZE = 64 * 1024
# OpenSSL verification errors that are about time, not about trust.
_TIME_ERRORS = {9, 10}  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED

EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
HOSTNAME_MISMATCH = "hostname_mismatch"
UNTRUSTED = "untrusted"


class TlsError(Exception):
    """No handshake: nothing to observe."""


@dataclass
class ServedChain:
    host: str
    port: int
    certificates: list[x509.Certificate]  # as sent, leaf first
    verify_errors: list[tuple[int, int]]  # (depth, OpenSSL error number) from the verify callback
    protocol: str
    at: datetime
    duration_ms: int
    peer_ip: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.certificates)


def serial_hex(certificate: x509.Certificate) -> str:
    """Upper-case hex, even length: how OpenSSL and browsers print a serial."""
    digits = f"{certificate.serial_number:X}"
    return digits.zfill(len(digits) + len(digits) % 2)


def dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(name) for name in extension.value.get_values_for_type(x509.DNSName)]


def subject_alt_names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    addresses = [str(address) for address in extension.value.get_values_for_type(x509.IPAddress)]
    return dns_names(certificate) + addresses


def hostname_matches(host: str, certificate: x509.Certificate) -> bool:
    """RFC 6125: a SAN equal to the host, or a wildcard standing for exactly its first label."""
    host = host.lower().rstrip(".")
    for name in dns_names(certificate):
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def validity_problems(certificate: x509.Certificate, now: datetime) -> list[str]:
    problems = []
    if certificate.not_valid_after_utc < now:
        problems.append(EXPIRED)
    if certificate.not_valid_before_utc > now:
        problems.append(NOT_YET_VALID)
    return problems


def judge(chain: ServedChain, now: datetime) -> list[str]:
    """The problems of a served chain for its host: any certificate out of its validity,
    a leaf that does not name the host, a chain that does not lead to a trusted root."""
    problems = list(dict.fromkeys(problem for cert in chain.certificates for problem in validity_problems(cert, now)))
    if not hostname_matches(chain.host, chain.certificates[0]):
        problems.append(HOSTNAME_MISMATCH)
    if any(errno not in _TIME_ERRORS for _depth, errno in chain.verify_errors):
        problems.append(UNTRUSTED)
    return problems


class ChainGrabber:
    """One handshake per call; the context trusts the system's roots plus `ca_bundle`."""

    def __init__(self, http: HttpClient, ca_bundle: str | None, timeout: float, slots: asyncio.Semaphore) -> None:
        self.http = http
        self.timeout = timeout
        self.slots = slots
        self._context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        self._context.set_verify(SSL.VERIFY_PEER, _record_verify_error)
        paths = ssl.get_default_verify_paths()
        if paths.cafile or paths.capath:
            self._context.load_verify_locations(paths.cafile, paths.capath)
        if ca_bundle:
            self._context.load_verify_locations(str(ca_bundle))
        self._context.set_alpn_protos([b"http/1.1"])

    async def grab(self, host: str, port: int = 443, address: str | None = None) -> ServedChain:
        async with self.slots:
            try:
                return await asyncio.wait_for(self._handshake(host, port, address), self.timeout)
            except TimeoutError:
                raise TlsError(f"no TLS handshake with {host}:{port} within {self.timeout}s") from None

    async def _handshake(self, host: str, port: int, address: str | None) -> ServedChain:
        at = datetime.now(timezone.utc)
        started = time.monotonic()
        try:
            reader, writer, peer_ip = await self.http.open_tunnel(host, port, address=address)
        except (OSError, HttpError) as exc:
            raise TlsError(f"cannot reach {host}:{port}: {exc}") from exc
        errors: list[tuple[int, int]] = []
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(errors)
        connection.set_tlsext_host_name(host.encode("idna"))
        connection.set_connect_state()
        try:
            while True:
                try:
                    connection.do_handshake()
                    break
                except SSL.WantReadError:
                    await _flush(connection, writer)
                    data = await reader.read(READ_SIZE)
                    if not data:
                        raise TlsError(f"{host}:{port} closed the connection during the handshake") from None
                    connection.bio_write(data)
            await _flush(connection, writer)  # our Finished, under TLS 1.3
            chain = connection.get_peer_cert_chain(as_cryptography=True) or []
            protocol = connection.get_protocol_version_name()
        except SSL.Error as exc:
            raise TlsError(f"TLS handshake with {host}:{port} failed: {exc}") from exc
        finally:
            writer.transport.abort()
        if not chain:
            raise TlsError(f"{host}:{port} sent no certificate")
        return ServedChain(host, port, list(chain), errors, protocol, at, int((time.monotonic() - started) * 1000),
                           peer_ip)


def _record_verify_error(connection: SSL.Connection, _cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    if not ok:
        connection.get_app_data().append((depth, errno))
    return True  # go on: an invalid certificate is evidence, not a reason to stop


async def _flush(connection: SSL.Connection, writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            data = connection.bio_read(READ_SIZE)
        except SSL.WantReadError:
            return
        writer.write(data)
        await writer.drain()


class TlsEnricher(Enricher):
    """The chain served for the domain and, when it resolved, its `www` host."""

    name = "tls"

    def __init__(self, context: EnrichmentContext) -> None:
        super().__init__(context)
        self.grabber = ChainGrabber(context.http, context.settings.ca_bundle, context.settings.tls_timeout,
                                    context.lookups)

    async def enrich(self, site: SiteTarget) -> int:
        with self.session() as session:
            resolved = addresses_of(session, self.run_id, site.site_id)
        addresses = {host: address for _id, address, host in resolved}
        # Through a proxy the proxy resolves; directly, connect to what our resolver said.
        hosts = [host for host in site.hosts if host == site.domain or host in addresses]
        if self.context.http.proxy is None:
            hosts = [host for host in hosts if host in addresses]
            if not hosts:
                raise TlsError(f"{site.domain} resolved to no address in this run")
        self.context.stats.counters["tls_handshakes"] += len(hosts)
        outcomes = await asyncio.gather(*(self.grabber.grab(host, address=addresses.get(host)) for host in hosts),
                                        return_exceptions=True)
        written = 0
        with self.session() as session:
            for outcome in outcomes:
                if isinstance(outcome, ServedChain):
                    outcome.problems = judge(outcome, outcome.at)
                    written += self._store(session, site, outcome)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:  # what was observed is stored; the rest is the runner's to record
            raise failures[0]
        return written

    def _store(self, session: Session, site: SiteTarget, chain: ServedChain) -> int:
        headers = {"WARC-Panelmap-Tls-Version": chain.protocol,
                   "WARC-Panelmap-Tls-Problems": ",".join(chain.problems) or "none"}
        if chain.peer_ip:
            headers["WARC-IP-Address"] = chain.peer_ip
        capture_id = self.context.capture(
            session, site, "tls", f"tls://{chain.host}:{chain.port}", "application/x-pem-file", chain.pem,
            at=chain.at, extra_headers=headers, server_ip=chain.peer_ip, duration_ms=chain.duration_ms,
        )
        for position, certificate in enumerate(chain.certificates):
            certificate_id = _upsert_certificate(session, certificate)
            # The leaf carries the verdict on the whole connection; others only their own validity.
            problems = chain.problems if position == 0 else validity_problems(certificate, chain.at)
            values = {"run_id": self.run_id, "site_id": site.site_id, "certificate_id": certificate_id,
                      "capture_id": capture_id, "host": chain.host, "port": chain.port, "position": position,
                      "valid": not problems, "problems": problems, "observed_at": chain.at}
            upsert(session, CertificateObservation, values, conflict=["run_id", "site_id", "host", "certificate_id"],
                   update=["capture_id", "port", "position", "valid", "problems", "observed_at"])
        return len(chain.certificates)


def _upsert_certificate(session: Session, certificate: x509.Certificate) -> int:
    values = {
        "sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        "sha1": certificate.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - a pivot, not a signature
        "serial": serial_hex(certificate),
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "sans": subject_alt_names(certificate),
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
    }
    return upsert(session, Certificate, values, conflict=["sha256"])
