"""WARC capture files: valid for warcio, SHA-256 digests, secrets redacted, torn tails repaired."""

from __future__ import annotations

import gzip
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from panelmap.storage import Database, SecretRedactor, WarcFileWriter, read_record_payload, record_capture
from panelmap.storage.models import Capture, CrawlRun
from panelmap.storage.warc import repair_tail

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SECRET = "k3y-0f-the-investigator"


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)


def write_sample(directory: Path) -> WarcFileWriter:
    writer = WarcFileWriter(directory, "sample", redactor=SecretRedactor([SECRET]))
    response = writer.write_response(
        "https://panel.example/services", 200, "OK",
        [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], gzip.compress(b"<table>rates</table>"),
        at=NOW, ip_address="185.212.40.10",
    )
    writer.write_request("https://panel.example/api/v2", "POST", [("Cookie", f"session={SECRET}")],
                         f"key={SECRET}&action=services".encode(), at=NOW, concurrent_to=response.record_id)
    writer.write_resource("urn:dom:https://panel.example/services", "text/html", b"<table>dom</table>",
                          at=NOW, refers_to=response)
    writer.close()
    return writer


def test_records_pass_warcio_check_with_sha256_digests(tmp_path: Path) -> None:
    write_sample(tmp_path)
    [path] = tmp_path.glob("*.warc.gz")
    result = warcio_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    with path.open("rb") as handle:
        records = list(ArchiveIterator(handle))
    assert [record.rec_type for record in records] == ["warcinfo", "response", "request", "resource"]
    response = records[1]
    assert response.rec_headers.get_header("WARC-Payload-Digest").startswith("sha256:")
    assert response.rec_headers.get_header("WARC-IP-Address") == "185.212.40.10"


def test_response_body_is_stored_as_received(tmp_path: Path) -> None:
    writer = WarcFileWriter(tmp_path, "raw")
    compressed = gzip.compress(b"<html>catalogue</html>")
    written = writer.write_response("https://p.example/", 200, "OK", [("Content-Encoding", "gzip")], compressed, at=NOW)
    writer.close()
    raw = Path(written.warc_file).read_bytes()
    member = gzip.decompress(raw[written.offset:written.offset + written.length])
    assert member.endswith(compressed + b"\r\n\r\n")
    assert read_record_payload(written.warc_file, written.offset) == b"<html>catalogue</html>"


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    write_sample(tmp_path)
    content = b"".join(gzip.decompress(path.read_bytes()) for path in tmp_path.glob("*.warc.gz"))
    assert SECRET.encode() not in content
    assert content.count(b"[REDACTED]") == 2  # the cookie and the API key of the request
    assert b"WARC-Panelmap-Redacted: 2" in content


def test_torn_tail_is_cut_back_to_the_last_complete_record(tmp_path: Path) -> None:
    write_sample(tmp_path)
    [path] = tmp_path.glob("*.warc.gz")
    whole = path.read_bytes()
    path.write_bytes(whole + whole[:100])  # the first 100 bytes of a record, as a kill -9 would leave
    with pytest.raises(EOFError):
        gzip.decompress(path.read_bytes())
    assert repair_tail(path) == 100
    assert path.read_bytes() == whole
    assert warcio_check(path).returncode == 0


def test_appending_after_a_crash_repairs_first(tmp_path: Path) -> None:
    write_sample(tmp_path)
    [path] = tmp_path.glob("*.warc.gz")
    path.write_bytes(path.read_bytes() + b"\x1f\x8b\x08\x00torn")
    writer = WarcFileWriter(tmp_path, "sample")
    writer.write_resource("urn:x", "text/plain", b"after restart", at=NOW)
    writer.close()
    assert warcio_check(path).returncode == 0
    with path.open("rb") as handle:
        assert [r.rec_type for r in ArchiveIterator(handle)][-1] == "resource"


def test_files_roll_over_at_the_size_limit(tmp_path: Path) -> None:
    writer = WarcFileWriter(tmp_path, "roll", max_file_size=2_000)
    for number in range(20):
        writer.write_resource(f"urn:r{number}", "application/octet-stream", bytes(range(256)) * 2, at=NOW)
    writer.close()
    files = sorted(tmp_path.glob("roll-*.warc.gz"))
    assert len(files) > 1
    assert all(warcio_check(path).returncode == 0 for path in files)


def test_capture_rows_point_at_their_records(database: Database, tmp_path: Path) -> None:
    writer = WarcFileWriter(tmp_path, "rows")
    written = writer.write_response("https://p.example/", 200, "OK", [], b"body", at=NOW)
    writer.close()
    with database.session() as session:
        run = CrawlRun()
        session.add(run)
        session.flush()
        first = record_capture(session, run.id, "response", "https://p.example/", written, http_status=200)
        again = record_capture(session, run.id, "response", "https://p.example/", written, http_status=200)
    assert first == again
    with database.session() as session:
        capture = session.get(Capture, first)
        assert read_record_payload(capture.warc_file, capture.warc_offset) == b"body"
        assert capture.sha256 == written.payload_sha256
