"""The organisation's key and the anonymous WACZ signature made with it."""

from __future__ import annotations

import base64
import stat

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from panelmap.cli import cli
from panelmap.evidence.errors import EvidenceError
from panelmap.evidence.signing import (
    SIGNED_DATA_FIELDS,
    generate_keypair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    sign_hash,
    signature_problem,
)

DIGEST = "sha256:" + "ab" * 32


def test_keygen_writes_an_owner_only_private_key_and_its_public_key(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["evidence", "keygen", "--out", str(tmp_path / "org.pem")])
    assert result.exit_code == 0, result.output
    private, public = load_private_key(tmp_path / "org.pem"), load_public_key(tmp_path / "org.pub.pem")
    assert stat.S_IMODE((tmp_path / "org.pem").stat().st_mode) == 0o600
    assert key_fingerprint(private.public_key()) == key_fingerprint(public)
    assert key_fingerprint(public) in result.output
    again = CliRunner().invoke(cli, ["evidence", "keygen", "--out", str(tmp_path / "org.pem")])
    assert again.exit_code == 2 and "never overwrites" in again.output


def test_signed_data_is_the_specs_anonymous_form_and_verifies_as_webcrypto_would(tmp_path) -> None:
    private_path, _ = generate_keypair(tmp_path / "org.pem")
    key = load_private_key(private_path)
    signed = sign_hash(key, DIGEST, created="2024-06-15T12:00:00Z", software="panelmap test", version="0.1.0")
    assert tuple(signed) == SIGNED_DATA_FIELDS
    raw = base64.b64decode(signed["signature"])
    assert len(raw) == 64  # IEEE P1363 r||s, as WebCrypto signs and verifies
    public = serialization.load_der_public_key(base64.b64decode(signed["publicKey"]))
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                  DIGEST.encode(), ec.ECDSA(hashes.SHA256()))
    assert signature_problem(signed, DIGEST) is None


def test_a_signature_of_another_hash_or_by_a_swapped_key_is_refused(tmp_path) -> None:
    key = load_private_key(generate_keypair(tmp_path / "org.pem")[0])
    signed = sign_hash(key, DIGEST, created="2024-06-15T12:00:00Z", software="t", version="0.1.0")
    assert "not the hash of datapackage.json" in signature_problem(signed, "sha256:" + "cd" * 32)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    swapped = {**signed, "publicKey": base64.b64encode(other.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()}
    assert "does not verify" in signature_problem(swapped, DIGEST)
    assert "not the anonymous form" in signature_problem({**signed, "domain": "org.example"}, DIGEST)


def test_only_p256_keys_are_accepted(tmp_path) -> None:
    path = tmp_path / "p384.pem"
    path.write_bytes(ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(EvidenceError, match="P-256"):
        load_private_key(path)
