"""RFC 3161 timestamps: asking TSAs for tokens, and checking stored tokens offline.

A pack is stamped over its signature (the `signature` string of the signed
data, as the WACZ signing spec's `timeSignature` is): the token then proves
that the signature, and so every file hash under it, existed at the TSA's time.
Each token is kept with the certificate chain that verifies it, so a verifier
needs no network; whether the chain's root is trusted is a separate question,
answered only when the verifier names the roots it trusts.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from asn1crypto import tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from .errors import EvidenceError

# CMS signature algorithms a TSA uses (asn1crypto's names).
_SIGNATURE_ALGORITHMS = frozenset({
    "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa", "rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa",
    "rsassa_pss",
})

QUERY_TYPE = "application/timestamp-query"
TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class StoredTimestamp:
    """One TSA's token as a pack keeps it (in datapackage-digest.json)."""

    tsa: str
    token: bytes  # DER TimeStampResp
    chain: list[x509.Certificate]  # signing certificate first, root last when known
    gen_time: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "tsa": self.tsa,
            "stamped": "signedData.signature",
            "hashAlgorithm": "sha256",
            "genTime": self.gen_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "token": base64.b64encode(self.token).decode("ascii"),
            "certificates": "".join(
                certificate.public_bytes(serialization.Encoding.PEM).decode("ascii") for certificate in self.chain
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredTimestamp:
        """Raises ValueError (or KeyError, TypeError) for an entry that cannot be read."""
        return cls(
            tsa=str(data["tsa"]),
            token=base64.b64decode(data["token"], validate=True),
            chain=x509.load_pem_x509_certificates(data["certificates"].encode("ascii")),
            gen_time=datetime.strptime(data["genTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc),
        )


@dataclass(frozen=True)
class TimestampCheck:
    tsa: str
    ok: bool
    detail: str
    gen_time: datetime | None = None


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _signer(response: TimeStampResponse, pool: Sequence[x509.Certificate]) -> x509.Certificate | None:
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    info = infos[0]
    return next((cert for cert in pool if cert.issuer == info.issuer and cert.serial_number == info.serial_number),
                None)


def _cms_problem(token: bytes) -> str | None:
    """What RFC 5652 fixes but no signature covers: versions and the signature algorithm.

    OpenSSL verifies a token whose SignedData version or SignerInfo algorithm
    identifier was altered; a pack must not accept altered bytes anywhere.
    """
    try:
        signed_data = tsp.TimeStampResp.load(token)["time_stamp_token"]["content"]
        signer = signed_data["signer_infos"][0]
        if signed_data["version"].native != "v3":  # eContentType is id-ct-TSTInfo, not id-data
            return "its SignedData version must be 3"
        expected = "v1" if signer["sid"].name == "issuer_and_serial_number" else "v3"
        if signer["version"].native != expected:
            return f"its SignerInfo version must be {expected[1]}"
        algorithm = signer["signature_algorithm"]
        if algorithm["algorithm"].native not in _SIGNATURE_ALGORITHMS:
            return f"unknown signature algorithm {algorithm['algorithm'].dotted}"
        digest_algorithm = signer["digest_algorithm"]["algorithm"].native
        if algorithm.signature_algo == "ecdsa" and algorithm.hash_algo != digest_algorithm:
            return "its signature algorithm names another digest than the signer's"
    except (ValueError, KeyError, TypeError, IndexError):
        return "its CMS structure cannot be read"
    return None


def build_chain(response: TimeStampResponse, extra: Sequence[x509.Certificate] = ()) -> list[x509.Certificate]:
    """The signing certificate and its issuers, from the token's certificates and `extra`
    (e.g. the TSA's published CA file), up to a self-signed root when one is known."""
    pool = [x509.load_der_x509_certificate(der) for der in response.signed_data.certificates] + list(extra)
    current = _signer(response, pool)
    if current is None:
        raise EvidenceError("the timestamp token names no signing certificate that came with it")
    chain = [current]
    while not _self_signed(current):
        issuer = next((cert for cert in pool if cert.subject == current.issuer and cert not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return chain


def request_timestamp(url: str, message: bytes, *, extra_certificates: Sequence[x509.Certificate] = (),
                      timeout: float = TIMEOUT_SECONDS) -> StoredTimestamp:
    """Ask the TSA at `url` to stamp SHA-256(`message`), check its answer, and keep it with its chain."""
    request = (TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    # No proxy from the environment: the request goes where the investigator said.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    http_request = urllib.request.Request(url, data=request.as_bytes(), headers={"Content-Type": QUERY_TYPE})
    try:
        with opener.open(http_request, timeout=timeout) as reply:
            body = reply.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EvidenceError(f"timestamp authority {url} did not answer: {reason}") from None
    try:
        response = decode_timestamp_response(body)
    except ValueError:
        raise EvidenceError(f"timestamp authority {url} sent something that is not an RFC 3161 response") from None
    if PKIStatus(response.status) != PKIStatus.GRANTED:
        raise EvidenceError(f"timestamp authority {url} refused the request (status {response.status})")
    chain = build_chain(response, extra_certificates)
    stored = StoredTimestamp(url, response.as_bytes(), chain, response.tst_info.gen_time.astimezone(timezone.utc))
    check = verify_timestamp(stored, message, nonce=request.nonce)
    if not check.ok:
        raise EvidenceError(f"timestamp authority {url} sent a token that does not verify: {check.detail}")
    return stored


def verify_timestamp(stored: StoredTimestamp, message: bytes, *, trusted_roots: Sequence[x509.Certificate] = (),
                     nonce: int | None = None) -> TimestampCheck:
    """Check a stored token against `message` with its stored chain, offline.

    With `trusted_roots`, the chain must lead to one of them; without, to the
    self-signed root stored beside the token, which proves the token is whole
    and signed by that chain, not that the chain deserves trust.
    """
    try:
        response = decode_timestamp_response(stored.token)
    except ValueError:
        return TimestampCheck(stored.tsa, False, "the token is not a readable RFC 3161 response")
    problem = _cms_problem(stored.token)
    if problem:
        return TimestampCheck(stored.tsa, False, f"the token is not well-formed: {problem}")
    embedded = response.signed_data.certificates
    stored_der = {cert.public_bytes(serialization.Encoding.DER) for cert in stored.chain}
    if not embedded <= stored_der:
        return TimestampCheck(stored.tsa, False, "the certificates inside the token differ from those stored with it")
    stored_roots = [cert for cert in stored.chain if _self_signed(cert)]
    roots = list(trusted_roots) or stored_roots
    if not roots:
        return TimestampCheck(stored.tsa, False, "no root certificate is stored with the token, and none was given")
    intermediates = [cert for cert in stored.chain[1:] if cert not in roots and not _self_signed(cert)]
    builder = VerifierBuilder(roots=roots, intermediates=intermediates, nonce=nonce)
    try:
        builder.build().verify_message(response, message)
    except VerificationError as exc:
        reason = str(exc)
        if reason.startswith("Error while verifying certificates"):  # OpenSSL's error stack: say what it means
            reason = ("its signature or certificate chain is invalid" if not trusted_roots
                      else "it is not signed through a root you trust")
        return TimestampCheck(stored.tsa, False, f"token does not verify: {reason}")
    except ValueError as exc:
        return TimestampCheck(stored.tsa, False, f"token does not verify: {exc}")
    gen_time = response.tst_info.gen_time.astimezone(timezone.utc)
    if abs((gen_time - stored.gen_time).total_seconds()) >= 1:
        return TimestampCheck(stored.tsa, False, "the time written beside the token is not the token's own time")
    root = roots[0] if trusted_roots else stored_roots[0]
    trust = ("chains to a trusted root you gave" if trusted_roots else
             f"root {root.subject.rfc4514_string()} (SHA-256 {fingerprint(root)[:16]}...) "
             "was not checked against a trust list")
    return TimestampCheck(stored.tsa, True, f"stamped {gen_time:%Y-%m-%d %H:%M:%S} UTC; {trust}", gen_time)

