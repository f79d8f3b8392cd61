"""A small RFC 3161 time-stamping authority on loopback, for tests and the offline demo.

It makes its own root and signing certificates when it starts, and every
certificate says in its subject that nobody trusts it: a pack stamped by it
shows that stamping and verification work, not when anything happened. Real
cases use a real TSA (`--tsa URL`), whose root the court can check.

    with LocalTimestampAuthority() as tsa:
        export_pack(..., tsa_urls=[tsa.url], tsa_certificates=tsa.certificates)

The tokens are built from asn1crypto's RFC 3161 and CMS structures and signed
with `cryptography`: nothing here encodes ASN.1 by hand.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEMO_NAME = "panelmap demo TSA - NOT A TRUSTED TIMESTAMP AUTHORITY"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY_BYTES = 64 * 1024


class _Rejection(core.Sequence):
    """A TimeStampResp without a token (asn1crypto's own definition makes the token mandatory)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "panelmap (demo, untrusted)"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _certificates(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]:
    """A fresh root and a signing certificate with the critical timeStamping EKU RFC 3161 asks for."""
    now = datetime.now(timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{name} (root)")
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    signing_key = ec.generate_private_key(ec.SECP256R1())
    signing = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(root_name)
        .public_key(signing_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=364))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        # Key identifiers let a verifier tell this TSA's root from another of the same name.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signing_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return signing_key, signing, root


class LocalTimestampAuthority:
    """An RFC 3161 TSA answering `POST /` on 127.0.0.1, in a background thread."""

    def __init__(self, name: str = DEMO_NAME, host: str = "127.0.0.1", port: int = 0):
        self.name = name
        self._key, self.signing_certificate, self.root_certificate = _certificates(name)
        # A private-use policy OID (ITU-T X.667 UUID arc): no registry claims it.
        self.policy = f"2.25.{uuid.uuid4().int}"
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def certificates(self) -> list[x509.Certificate]:
        """The chain a verifier needs, signing certificate first."""
        return [self.signing_certificate, self.root_certificate]

    def start(self) -> LocalTimestampAuthority:
        self._thread = threading.Thread(target=self._server.serve_forever, name="panelmap-tsa", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalTimestampAuthority:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- tokens ----------------------------------------------------------------

    def respond(self, query: bytes) -> bytes:
        """The DER TimeStampResp for a DER TimeStampReq: granted, or rejected when unreadable."""
        try:
            request = tsp.TimeStampReq.load(query, strict=True)
            fields = request.native  # parses every field now: a bad query fails here, not half-way through a token
        except (ValueError, TypeError):
            return _Rejection({"status": {"status": "rejection", "fail_info": {"bad_data_format"}}}).dump()
        info = {
            "version": "v1",
            "policy": self.policy,
            "message_imprint": request["message_imprint"],
            "serial_number": secrets.randbits(64),
            "gen_time": datetime.now(timezone.utc),
            "accuracy": {"seconds": 1},
        }
        if fields["nonce"] is not None:
            info["nonce"] = fields["nonce"]
        include_certificates = bool(fields["cert_req"])
        token = self._sign(tsp.TSTInfo(info), include_certificates)
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    def _sign(self, info: tsp.TSTInfo, include_certificates: bool) -> cms.ContentInfo:
        signing = asn1_x509.Certificate.load(self.signing_certificate.public_bytes(serialization.Encoding.DER))
        root = asn1_x509.Certificate.load(self.root_certificate.public_bytes(serialization.Encoding.DER))
        sha256 = algos.DigestAlgorithm({"algorithm": "sha256"})
        attributes = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(info.dump()).digest()]},
            {"type": "signing_certificate_v2", "values": [{"certs": [{
                "hash_algorithm": sha256,
                "cert_hash": hashlib.sha256(signing.dump()).digest(),
                "issuer_serial": {"issuer": [asn1_x509.GeneralName({"directory_name": signing.issuer})],
                                  "serial_number": signing.serial_number},
            }]}]},
        ])
        signature = self._key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": signing.issuer, "serial_number": signing.serial_number}}),
            "digest_algorithm": sha256,
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        })
        signed_data = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [sha256],
            "encap_content_info": {"content_type": "tst_info", "content": info},
            "certificates": [signing, root] if include_certificates else None,
            "signer_infos": [signer],
        })
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get_content_type() != QUERY_TYPE or not 0 < length <= MAX_QUERY_BYTES:
                    self.send_error(400, f"expected a {QUERY_TYPE} body")
                    return
                reply = authority.respond(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Type", REPLY_TYPE)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:  # quiet: tests and the demo
                pass

        return Handler
