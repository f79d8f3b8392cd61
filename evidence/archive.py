"""The pack's web archive: capture records copied byte for byte, their CDXJ index and page list.

Every record of a capture WARC is one gzip member, so a record is copied by
reading the member at the Capture row's offset and length and appending it,
unchanged, to the pack's WARC of the same name: its WARC digests, and the
SHA-256 the Capture row holds, still describe the bytes in the pack. Nothing is
re-serialised. Each pack WARC starts with its source file's own warcinfo record,
and a response is followed by the request record that asked for it.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from panelmap.storage import SecretRedactor
from panelmap.storage.models import Capture

CHUNK = 1 << 16
INDEX_LINES_PER_BLOCK = 1024  # as py-wacz and ArchiveWeb.page write them
# Record types the index lists; request records are folded into their response's line (post_append).
INDEXED_RECORDS = "response,revisit,resource,metadata"
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class PackedRecord:
    """Where a capture's record sits in the pack, and what the database said of it."""

    capture_id: int
    run_id: int
    kind: str
    url: str
    fetched_at: datetime
    sha256: str  # payload SHA-256 from the Capture row
    http_status: int | None
    content_type: str | None
    archive_path: str
    offset: int
    length: int
    record_id: str
    source_file: str
    source_offset: int
    request_record_id: str | None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "fetched_at": self.fetched_at.isoformat().replace("+00:00", "Z")}


@dataclass(frozen=True)
class WithheldRecord:
    """A capture left out of the pack, and why: collecting must document every omission."""

    capture_id: int
    kind: str
    url: str
    fetched_at: datetime
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "fetched_at": self.fetched_at.isoformat().replace("+00:00", "Z"), "withheld": True}


@dataclass(frozen=True)
class _Member:
    raw: bytes  # the gzip member as stored
    record_type: str
    record_id: str
    concurrent_to: str | None
    content: bytes  # decompressed, for the secrets check


def _read_member(handle: BinaryIO, offset: int, length: int | None = None) -> _Member:
    """The gzip member (one WARC record) at `offset`; ValueError unless it is exactly one whole record."""
    handle.seek(offset)
    decompressor = zlib.decompressobj(wbits=31)
    raw, content = bytearray(), bytearray()
    while not decompressor.eof:
        chunk = handle.read(CHUNK if length is None else min(CHUNK, length - len(raw)))
        if not chunk:
            raise ValueError("the record ends early")
        raw += chunk
        try:
            content += decompressor.decompress(chunk)
        except zlib.error as exc:
            raise ValueError(f"not a gzip member: {exc}") from None
    raw = raw[:len(raw) - len(decompressor.unused_data)]
    if length is not None and len(raw) != length:
        raise ValueError(f"the record is {len(raw)} bytes, not {length}")
    record = next(iter(ArchiveIterator(io.BytesIO(bytes(raw)))))
    headers = record.rec_headers
    return _Member(bytes(raw), record.rec_type, headers.get_header("WARC-Record-ID"),
                   headers.get_header("WARC-Concurrent-To"), bytes(content))


def _archive_name(source: Path, taken: set[str]) -> str:
    name = source.name
    counter = 1
    while name in taken:
        counter += 1
        name = f"{counter}-{source.name}"
    taken.add(name)
    return name


@dataclass
class PackedArchive:
    files: list[Path]
    records: list[PackedRecord]
    withheld: list[WithheldRecord]


def copy_records(captures: Sequence[Capture], archive_dir: Path, redactor: SecretRedactor) -> PackedArchive:
    """Copy the record of each capture (grouped by source WARC, in file order) into `archive_dir`.

    A record that cannot be read where its row says, or that holds one of the
    configured secrets, is withheld and reported, never altered.
    """
    archive_dir.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[Capture]] = {}
    for capture in sorted(captures, key=lambda c: (c.warc_file, c.warc_offset)):
        by_file.setdefault(capture.warc_file, []).append(capture)
    result = PackedArchive([], [], [])
    taken: set[str] = set()
    for source_name, group in by_file.items():
        source = Path(source_name)
        if not source.is_file():
            result.withheld += [_withhold(capture, f"its WARC file {source} is missing") for capture in group]
            continue
        target = archive_dir / _archive_name(source, taken)
        archive_path = f"archive/{target.name}"
        with source.open("rb") as handle, target.open("wb") as out:
            try:
                warcinfo = _read_member(handle, 0)
            except ValueError:
                warcinfo = None
            if warcinfo is not None and warcinfo.record_type == "warcinfo":
                out.write(warcinfo.raw)
            for capture in group:
                try:
                    member = _read_member(handle, capture.warc_offset, capture.warc_length)
                except ValueError as exc:
                    result.withheld.append(_withhold(capture, f"its WARC record cannot be read: {exc}"))
                    continue
                if member.record_id != capture.warc_record_id:
                    result.withheld.append(_withhold(capture, "the record at its offset is another record"))
                    continue
                request = _request_after(handle, capture, member)
                if redactor.redact(member.content)[1] or (request and redactor.redact(request.content)[1]):
                    result.withheld.append(_withhold(capture, "it contains a configured secret"))
                    continue
                offset = out.tell()
                out.write(member.raw)
                if request is not None:
                    out.write(request.raw)
                result.records.append(PackedRecord(
                    capture_id=capture.id, run_id=capture.run_id, kind=capture.kind, url=capture.url,
                    fetched_at=capture.fetched_at, sha256=capture.sha256, http_status=capture.http_status,
                    content_type=capture.content_type, archive_path=archive_path, offset=offset,
                    length=len(member.raw), record_id=member.record_id, source_file=str(source),
                    source_offset=capture.warc_offset, request_record_id=request.record_id if request else None,
                ))
        result.files.append(target)
    return result


def _request_after(handle: BinaryIO, capture: Capture, response: _Member) -> _Member | None:
    """The request record the crawler writes right after a response, when it is there."""
    if response.record_type != "response":
        return None
    try:
        member = _read_member(handle, capture.warc_offset + len(response.raw))
    except (ValueError, StopIteration):
        return None
    if member.record_type == "request" and member.concurrent_to == response.record_id:
        return member
    return None


def _withhold(capture: Capture, reason: str) -> WithheldRecord:
    return WithheldRecord(capture.id, capture.kind, capture.url, capture.fetched_at, reason)


# -- index and pages ---------------------------------------------------------------


def _indexer(output: TextIO, warc_files: Sequence[Path], **options: Any) -> CDXJIndexer:
    return CDXJIndexer(output, [str(path) for path in warc_files], sort=True, post_append=True,
                       digest_records=True, fields="referrer", records=INDEXED_RECORDS, **options)


def write_index(warc_files: Sequence[Path], index_dir: Path) -> list[Path]:
    """indexes/index.cdx.gz (CDXJ in gzip blocks) and indexes/index.idx, as WACZ readers expect."""
    index_dir.mkdir(parents=True, exist_ok=True)
    data_path, idx_path = index_dir / "index.cdx.gz", index_dir / "index.idx"
    with data_path.open("wb") as data, idx_path.open("w", encoding="utf-8") as idx:
        _indexer(idx, warc_files, compress=data, data_out_name="index.cdx.gz",
                 lines=INDEX_LINES_PER_BLOCK).process_all()
    return [data_path, idx_path]


def index_text(warc_files: Sequence[Path]) -> str:
    """The CDXJ lines for `warc_files`, uncompressed: what index.cdx.gz must hold."""
    output = io.StringIO()
    _indexer(output, warc_files).process_all()
    return output.getvalue()


def pages_jsonl(records: Sequence[PackedRecord], title: str) -> bytes:
    """pages/pages.jsonl: every HTML page fetched (2xx), so ReplayWeb.page lists them."""
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": title}]
    for record in records:
        mime = (record.content_type or "").split(";")[0].strip().lower()
        if record.kind == "response" and mime in HTML_TYPES and record.http_status and 200 <= record.http_status < 300:
            lines.append({"id": f"capture-{record.capture_id}", "url": record.url,
                          "ts": record.fetched_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "title": record.url})
    return b"".join(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in lines)


def captures_jsonl(records: Sequence[PackedRecord], withheld: Sequence[WithheldRecord]) -> bytes:
    """evidence/captures.jsonl: capture id -> record in the pack, for every claim that cites a capture."""
    rows = [record.as_json() for record in records] + [record.as_json() for record in withheld]
    return b"".join(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n" for row in rows)
