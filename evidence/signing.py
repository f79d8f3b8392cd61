"""The investigator organisation's key, and the WACZ anonymous signature made with it.

Follows the "WACZ Signing and Verification" recommendation's anonymous form:
`signedData` = {hash, created, software, version, signature, publicKey}, where
`signature` is ECDSA P-256 / SHA-256 over the UTF-8 text of `hash`, encoded as
base64 of the raw r||s pair (what WebCrypto and ArchiveWeb.page produce), and
`publicKey` is base64 of the DER SubjectPublicKeyInfo. The spec allows no other
field in `signedData`; the key's owner is established out of band, by handing
the public key (or its fingerprint) to the court.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from .errors import EvidenceError

SIGNED_DATA_FIELDS = ("hash", "created", "software", "version", "signature", "publicKey")
_COORDINATE_BYTES = 32  # P-256


def public_key_path(private_key_path: Path) -> Path:
    """Where keygen puts the public half: KEY.pem -> KEY.pub.pem."""
    return private_key_path.with_name(private_key_path.name.removesuffix(".pem") + ".pub.pem")


def generate_keypair(path: Path | str) -> tuple[Path, Path]:
    """Write a new P-256 private key (PKCS#8 PEM, owner-only) and its public key beside it."""
    private_path = Path(path)
    public_path = public_key_path(private_path)
    for existing in (private_path, public_path):
        if existing.exists():
            raise EvidenceError(f"{existing} exists: keygen never overwrites a key")
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def load_private_key(path: Path | str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise EvidenceError(f"cannot read key {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise EvidenceError(f"{path} is not an unencrypted PEM private key "
                            "(make one with `panelmap evidence keygen`)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise EvidenceError(f"{path} is not an ECDSA P-256 key, which WACZ signing requires")
    return key


def load_public_key(path: Path | str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise EvidenceError(f"cannot read public key {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise EvidenceError(f"{path} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise EvidenceError(f"{path} is not an ECDSA P-256 public key")
    return key


def public_key_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the DER public key, hex: what to read out to someone who holds the public key file."""
    return hashlib.sha256(public_key_der(key)).hexdigest()


def sign_hash(key: ec.EllipticCurvePrivateKey, digest: str, *, created: str, software: str,
              version: str) -> dict[str, str]:
    """The anonymous `signedData` for `digest` (e.g. "sha256:ab12...")."""
    der = key.sign(digest.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(_COORDINATE_BYTES, "big") + s.to_bytes(_COORDINATE_BYTES, "big")
    return {
        "hash": digest,
        "created": created,
        "software": software,
        "version": version,
        "signature": base64.b64encode(raw).decode("ascii"),
        "publicKey": base64.b64encode(public_key_der(key.public_key())).decode("ascii"),
    }


def signed_public_key(signed: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """The public key a `signedData` carries; ValueError when it is not a P-256 key."""
    key = serialization.load_der_public_key(base64.b64decode(signed["publicKey"], validate=True))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


def signature_problem(signed: dict[str, Any], expected_hash: str) -> str | None:
    """Why `signed` is not a valid anonymous signature of `expected_hash`, or None when it is."""
    if not isinstance(signed, dict):
        return "signedData is missing"
    unexpected = set(signed) - set(SIGNED_DATA_FIELDS)
    missing = [name for name in ("hash", "created", "signature", "publicKey") if name not in signed]
    if unexpected or missing:
        return f"signedData is not the anonymous form (extra {sorted(unexpected)}, missing {missing})"
    if signed["hash"] != expected_hash:
        return "signedData.hash is not the hash of datapackage.json"
    try:
        key = signed_public_key(signed)
        raw = base64.b64decode(signed["signature"], validate=True)
    except (ValueError, TypeError):
        return "signedData.publicKey or signedData.signature cannot be decoded"
    if len(raw) != 2 * _COORDINATE_BYTES:
        return "signedData.signature is not a P-256 signature"
    der = encode_dss_signature(int.from_bytes(raw[:_COORDINATE_BYTES], "big"),
                               int.from_bytes(raw[_COORDINATE_BYTES:], "big"))
    try:
        key.verify(der, signed["hash"].encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "signedData.signature does not verify with signedData.publicKey"
    return None
