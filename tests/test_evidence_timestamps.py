"""RFC 3161 timestamps from the loopback TSA: requested, stored with their chain, verified offline."""

from __future__ import annotations

import socket

import pytest
from rfc3161_client import PKIStatus, decode_timestamp_response

from panelmap.evidence.errors import EvidenceError
from panelmap.evidence.timestamps import StoredTimestamp, request_timestamp, verify_timestamp
from panelmap.evidence.tsa import DEMO_NAME, LocalTimestampAuthority

MESSAGE = b"the signature of a datapackage digest"


@pytest.fixture(scope="module")
def tsa():
    with LocalTimestampAuthority() as running:
        yield running


@pytest.fixture(scope="module")
def stamp(tsa) -> StoredTimestamp:
    return request_timestamp(tsa.url, MESSAGE)


def test_a_token_verifies_offline_with_the_chain_stored_beside_it(stamp, tsa) -> None:
    assert [cert.subject for cert in stamp.chain] == [tsa.signing_certificate.subject, tsa.root_certificate.subject]
    stored = StoredTimestamp.from_json(stamp.as_json())  # as a pack keeps it
    check = verify_timestamp(stored, MESSAGE)
    assert check.ok and check.gen_time == stamp.gen_time
    assert "was not checked against a trust list" in check.detail and DEMO_NAME in check.detail


def test_a_token_says_nothing_about_another_message(stamp) -> None:
    check = verify_timestamp(stamp, MESSAGE + b"!")
    assert not check.ok and "Mismatch between messages" in check.detail


def test_trusted_roots_are_enforced_when_given(stamp, tsa) -> None:
    assert verify_timestamp(stamp, MESSAGE, trusted_roots=[tsa.root_certificate]).ok
    stranger = LocalTimestampAuthority("someone else's TSA")
    check = verify_timestamp(stamp, MESSAGE, trusted_roots=[stranger.root_certificate])
    assert not check.ok and "not signed through a root you trust" in check.detail


def test_every_single_byte_of_a_token_is_protected(stamp) -> None:
    for position in range(len(stamp.token)):
        token = bytearray(stamp.token)
        token[position] ^= 0x01
        tampered = StoredTimestamp(stamp.tsa, bytes(token), stamp.chain, stamp.gen_time)
        assert not verify_timestamp(tampered, MESSAGE).ok, f"a flipped byte at {position} went unnoticed"


def test_a_swapped_chain_is_caught(stamp) -> None:
    stranger = LocalTimestampAuthority("someone else's TSA")
    swapped = StoredTimestamp(stamp.tsa, stamp.token, stranger.certificates, stamp.gen_time)
    assert not verify_timestamp(swapped, MESSAGE).ok


def test_a_silent_tsa_is_a_one_line_error_and_a_bad_query_is_rejected(tsa) -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    with pytest.raises(EvidenceError, match="did not answer"):
        request_timestamp(closed, MESSAGE, timeout=5)
    assert decode_timestamp_response(tsa.respond(b"not a query")).status == PKIStatus.REJECTION
