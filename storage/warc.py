"""WARC 1.1 files for every capture: the raw material of evidence.

Each record is built in memory and appended to the file with one write and a
flush, so a killed crawl leaves at most a torn tail, which `repair_tail` cuts
off before a file is appended to again. Digests are SHA-256 (WARC 1.1 allows
any algorithm; SHA-256 is what courts and our Capture rows use).

Secrets (API keys, session cookies) are replaced in every record before it is
written; the record then carries a `WARC-Panelmap-Redacted` header saying how
many occurrences were replaced, since collecting must document any alteration.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import ahocorasick_rs
from isal import isal_zlib
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

REDACTED = b"[REDACTED]"
DEFAULT_MAX_FILE_SIZE = 1 << 30
# Kept under its original name: the stored body is already de-chunked, and a
# replay tool that saw "chunked" would try to de-chunk it again.
_HOP_BY_HOP_RENAMES = {"transfer-encoding": "X-Panelmap-Orig-Transfer-Encoding"}


class _Sha256WARCWriter(WARCWriter):
    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


@dataclass(frozen=True)
class WrittenRecord:
    """Where a record landed and what it holds."""

    warc_file: str
    offset: int
    length: int
    record_id: str
    record_type: str
    payload_sha256: str  # hex, of the payload (the HTTP body for response records)
    payload_size: int


class SecretRedactor:
    """Replaces known secret values (and their URL-encoded forms) with [REDACTED]."""

    def __init__(self, secrets: Iterable[str] = ()):
        forms: set[bytes] = set()
        for secret in secrets:
            if secret and len(secret) >= 4:  # shorter values would redact ordinary text
                for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                    forms.add(form.encode())
        # Aho-Corasick: one pass over the data whatever the number of secrets (a crawl of
        # thousands of sites has thousands), on the bytes themselves.
        self._automaton: ahocorasick_rs.BytesAhoCorasick | None = None
        if forms:
            # Leftmost-longest: a secret containing another is replaced whole.
            self._automaton = ahocorasick_rs.BytesAhoCorasick(
                sorted(forms), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)

    def __bool__(self) -> bool:
        return self._automaton is not None

    def redact(self, data: bytes) -> tuple[bytes, int]:
        if self._automaton is None:
            return data, 0
        matches = self._automaton.find_matches_as_indexes(data)
        if not matches:
            return data, 0
        pieces, position = [], 0
        for _, start, end in matches:
            pieces += [data[position:start], REDACTED]
            position = end
        pieces.append(data[position:])
        return b"".join(pieces), len(matches)

    def redact_text(self, text: str) -> str:
        return self.redact(text.encode())[0].decode()


def new_record_id() -> str:
    """A WARC-Record-ID (`<urn:uuid:...>`), for naming a record before it is written."""
    return StatusAndHeadersParser.make_warc_id()


def _warc_date(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def repair_tail(path: Path) -> int:
    """Cut a torn last record off a .warc.gz file; returns the bytes removed.

    Each record is its own gzip member, so the file is valid up to the end of
    the last member that decompresses completely.
    """
    data = path.read_bytes()
    good_end = 0
    position = 0
    while position < len(data):
        decompressor = zlib.decompressobj(wbits=31)
        try:
            decompressor.decompress(data[position:])
        except zlib.error:
            break
        if not decompressor.eof:
            break
        position = len(data) - len(decompressor.unused_data)
        good_end = position
    removed = len(data) - good_end
    if removed:
        with path.open("r+b") as handle:
            handle.truncate(good_end)
    return removed


class WarcFileWriter:
    """Appends records to rolling `<prefix>-<n>.warc.gz` files in `directory`.

    Thread-safe: the crawler and the enrichers may write from different threads.
    """

    def __init__(self, directory: Path | str, prefix: str, *, redactor: SecretRedactor | None = None,
                 max_file_size: int = DEFAULT_MAX_FILE_SIZE, software: str = "panelmap"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.redactor = redactor or SecretRedactor()
        self.max_file_size = max_file_size
        self.software = software
        # Records are gzipped here, one member each (see _serialise), not by warcio.
        self._builder = _Sha256WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
        self._lock = threading.Lock()
        self._sequence = 0
        self._path: Path | None = None
        self._handle: io.BufferedWriter | None = None

    # -- files --------------------------------------------------------------

    def _next_path(self) -> Path:
        while True:
            self._sequence += 1
            path = self.directory / f"{self.prefix}-{self._sequence:05d}.warc.gz"
            if not path.exists() or path.stat().st_size < self.max_file_size:
                return path

    def _open(self) -> io.BufferedWriter:
        if self._handle is not None and self._path is not None and self._path.stat().st_size < self.max_file_size:
            return self._handle
        if self._handle is not None:
            self._handle.close()
        self._path = self._next_path()
        is_new = not self._path.exists()
        if not is_new:
            repair_tail(self._path)
        self._handle = self._path.open("ab")
        if is_new:
            self._append(self._warcinfo_record())
        return self._handle

    def _warcinfo_record(self) -> bytes:
        assert self._path is not None
        record = self._builder.create_warcinfo_record(
            self._path.name, {"software": self.software, "format": "WARC File Format 1.1"}
        )
        return self._serialise(record)

    def _serialise(self, record: object) -> bytes:
        buffer = io.BytesIO()
        self._builder.out = buffer
        self._builder._write_warc_record(buffer, record)
        # One gzip member per record, as warcio writes them, but by ISA-L at its default
        # level: on a crawl's pages it takes a fifth of the time of zlib's default level,
        # for files a tenth larger.
        return isal_zlib.compress(buffer.getvalue(), isal_zlib.ISAL_DEFAULT_COMPRESSION,
                                  wbits=isal_zlib.MAX_WBITS + 16)

    def _append(self, data: bytes) -> int:
        assert self._handle is not None
        offset = self._handle.tell()
        self._handle.write(data)
        self._handle.flush()
        return offset

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def __enter__(self) -> WarcFileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records ------------------------------------------------------------

    def _write(self, uri: str, record_type: str, payload: bytes, *, http_headers: StatusAndHeaders | None,
               content_type: str | None, headers: dict[str, str], redactions: int = 0) -> WrittenRecord:
        payload, payload_redactions = self.redactor.redact(payload)
        redactions += payload_redactions
        if redactions:
            headers["WARC-Panelmap-Redacted"] = str(redactions)
        record = self._builder.create_warc_record(
            uri, record_type, payload=io.BytesIO(payload), length=len(payload),
            warc_content_type=content_type or "", warc_headers_dict=headers, http_headers=http_headers,
        )
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        data = self._serialise(record)
        with self._lock:
            self._open()
            offset = self._append(data)
            assert self._path is not None
            path = str(self._path)
        return WrittenRecord(
            warc_file=path, offset=offset, length=len(data), record_id=record_id, record_type=record_type,
            payload_sha256=hashlib.sha256(payload).hexdigest(), payload_size=len(payload),
        )

    def _http_headers(self, status_line: str, headers: Sequence[tuple[str, str]], protocol: str) -> tuple[StatusAndHeaders, int]:
        redactions = 0
        cleaned = []
        for name, value in headers:
            name = _HOP_BY_HOP_RENAMES.get(name.lower(), name)
            redacted, count = self.redactor.redact(value.encode("latin-1", "replace"))
            redactions += count
            cleaned.append((name, redacted.decode("latin-1")))
        return StatusAndHeaders(status_line, cleaned, protocol=protocol), redactions

    def write_request(self, url: str, method: str, headers: Sequence[tuple[str, str]], body: bytes = b"", *,
                      at: datetime, concurrent_to: str | None = None) -> WrittenRecord:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        target, target_redactions = self.redactor.redact(target.encode())
        http_headers, redactions = self._http_headers(f"{method} {target.decode()} HTTP/1.1", headers, "")
        warc_headers = {"WARC-Date": _warc_date(at)}
        if concurrent_to:
            warc_headers["WARC-Concurrent-To"] = concurrent_to
        return self._write(url, "request", body, http_headers=http_headers, content_type=None,
                           headers=warc_headers, redactions=redactions + target_redactions)

    def write_response(self, url: str, status: int, reason: str, headers: Sequence[tuple[str, str]], body: bytes,
                       *, at: datetime, ip_address: str | None = None, protocol: str = "HTTP/1.1",
                       record_id: str | None = None) -> WrittenRecord:
        """A response record holding the status line, headers and body as received."""
        http_headers, redactions = self._http_headers(f"{status} {reason}".strip(), headers, protocol)
        warc_headers = {"WARC-Date": _warc_date(at), **_record_id_header(record_id)}
        if ip_address:
            warc_headers["WARC-IP-Address"] = ip_address
        return self._write(url, "response", body, http_headers=http_headers, content_type=None,
                           headers=warc_headers, redactions=redactions)

    def write_resource(self, uri: str, content_type: str, payload: bytes, *, at: datetime,
                       refers_to: WrittenRecord | str | None = None, extra_headers: dict[str, str] | None = None,
                       record_id: str | None = None) -> WrittenRecord:
        """A resource record: a rendered DOM, a screenshot, a DNS answer, RDAP JSON, a TLS chain."""
        warc_headers = {"WARC-Date": _warc_date(at), **_record_id_header(record_id), **(extra_headers or {})}
        if refers_to is not None:
            warc_headers["WARC-Refers-To"] = refers_to if isinstance(refers_to, str) else refers_to.record_id
        return self._write(uri, "resource", payload, http_headers=None, content_type=content_type,
                           headers=warc_headers)


def _record_id_header(record_id: str | None) -> dict[str, str]:
    return {"WARC-Record-ID": record_id} if record_id else {}


def read_record_payload(warc_file: str | Path, offset: int) -> bytes:
    """The payload of the record at `offset` (the HTTP body for responses), for reports and re-extraction."""
    from warcio.archiveiterator import ArchiveIterator

    with open(warc_file, "rb") as handle:
        handle.seek(offset)
        for record in ArchiveIterator(handle):
            return record.content_stream().read()
    raise ValueError(f"no WARC record at {warc_file}:{offset}")


