"""Verifying a pack offline: every file hash, every WARC digest, the signature, each timestamp, the custody log.

    verdict = verify_pack(Path("jap.wacz"), public_key=load_public_key("org.pub.pem"))
    print(verdict.text()); sys.exit(0 if verdict.ok else 1)

Nothing here touches the network or the database: a court's expert holding only
the pack (and the organisation's public key) gets the same answer. Every check
runs even after one fails, so the verdict names everything that is wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from . import custody
from .archive import index_text
from .signing import key_fingerprint, signature_problem, signed_public_key
from .timestamps import StoredTimestamp, verify_timestamp
from .wacz import DATAPACKAGE, DIGEST, WACZ_VERSION

REQUIRED = ("pages/pages.jsonl", "indexes/index.cdx.gz", "indexes/index.idx", "evidence/custody.jsonl",
            "evidence/captures.jsonl", "evidence/provenance.json", "evidence/report.html", "evidence/report.pdf")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Check:
    subject: str  # what was checked: a file, "signature", "timestamp 1", "custody log"...
    ok: bool
    detail: str


@dataclass
class Verdict:
    pack: Path
    checks: list[Check] = field(default_factory=list)
    first_custody_hash: str | None = None  # names the pack in a database's custody records
    custody_entries: list[custody.CustodyEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def add(self, subject: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(subject, ok, detail))
        return ok

    def text(self) -> str:
        """The verdict for people: one line per check, failures first, then the conclusion."""
        lines = [f"FAIL  {check.subject}: {check.detail}" for check in self.failures]
        lines += [f"ok    {check.subject}: {check.detail}" for check in self.checks if check.ok]
        conclusion = ("VERIFIED: every check passed" if self.ok else
                      f"NOT VERIFIED: {len(self.failures)} check(s) failed: "
                      + ", ".join(dict.fromkeys(check.subject for check in self.failures)))
        return "\n".join(lines + [conclusion])


def _sha256(handle: Any) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def verify_pack(path: Path, *, public_key: ec.EllipticCurvePublicKey | None = None,
                trusted_tsa_roots: Sequence[x509.Certificate] = ()) -> Verdict:
    """Check everything in the pack at `path`; with `public_key`, also that it signed the pack."""
    verdict = Verdict(Path(path))
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        verdict.add("pack", False, f"not a readable ZIP file: {exc}")
        return verdict
    with archive, tempfile.TemporaryDirectory(prefix="panelmap-verify-") as temporary:
        members = _extract(archive, Path(temporary), verdict)
        datapackage = _check_datapackage(members, verdict)
        if datapackage is not None:
            _check_signature_and_stamps(members, datapackage, verdict, public_key, trusted_tsa_roots)
        _check_warcs(members, verdict)
        _check_index(members, verdict)
        _check_captures(members, verdict)
        _check_custody(members, verdict)
    return verdict


def _extract(archive: zipfile.ZipFile, folder: Path, verdict: Verdict) -> dict[str, Path]:
    """Unpack each member (ZIP's own CRC checked as it goes); an unreadable one is a failure of its own."""
    members = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.filename in members:  # a reader could pick either copy: the pack is ambiguous
            verdict.add(info.filename, False, "appears twice in the ZIP")
            continue
        target = folder / f"{len(members)}.member"
        try:
            with archive.open(info) as source, target.open("wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            verdict.add(info.filename, False, f"cannot be read from the ZIP: {exc}")
            continue
        members[info.filename] = target
    return members


def _check_datapackage(members: dict[str, Path], verdict: Verdict) -> dict[str, Any] | None:
    if DATAPACKAGE not in members:
        verdict.add(DATAPACKAGE, False, "missing")
        return None
    try:
        package = json.loads(members[DATAPACKAGE].read_bytes())
        resources = {resource["path"]: resource for resource in package["resources"]}
    except (ValueError, KeyError, TypeError):
        verdict.add(DATAPACKAGE, False, "is not a readable data package")
        return None
    verdict.add(DATAPACKAGE, package.get("wacz_version") == WACZ_VERSION,
                f"WACZ version {package.get('wacz_version')!r}" + ("" if package.get("wacz_version") == WACZ_VERSION
                                                                    else f", expected {WACZ_VERSION}"))
    for name in sorted(set(members) - set(resources) - {DATAPACKAGE, DIGEST}):
        verdict.add(name, False, "is in the pack but not listed in datapackage.json")
    for name in REQUIRED:
        if name not in resources:
            verdict.add(name, False, "is missing from datapackage.json")
    if not any(name.startswith("archive/") for name in resources):
        verdict.add("archive/", False, "the pack holds no WARC file")
    for name, resource in sorted(resources.items()):
        if name not in members:
            verdict.add(name, False, "is listed in datapackage.json but missing from the pack")
            continue
        with members[name].open("rb") as handle:
            digest, size = _sha256(handle)
        expected = str(resource.get("hash", ""))
        if expected != f"sha256:{digest}" or resource.get("bytes") != size:
            verdict.add(name, False, "its SHA-256 does not match datapackage.json: the file was changed")
        else:
            verdict.add(name, True, f"SHA-256 {digest[:16]}... matches ({size} bytes)")
    return package


def _check_signature_and_stamps(members: dict[str, Path], package: dict[str, Any], verdict: Verdict,
                                public_key: ec.EllipticCurvePublicKey | None,
                                trusted_roots: Sequence[x509.Certificate]) -> None:
    if DIGEST not in members:
        verdict.add(DIGEST, False, "missing: the pack is neither signed nor timestamped")
        return
    try:
        digest = json.loads(members[DIGEST].read_bytes())
        signed = digest["signedData"]
        stamps = digest.get("timestamps", [])
    except (ValueError, KeyError, TypeError):
        verdict.add(DIGEST, False, "is not readable JSON with signedData")
        return
    actual = "sha256:" + hashlib.sha256(members[DATAPACKAGE].read_bytes()).hexdigest()
    if digest.get("hash") != actual:
        verdict.add(DATAPACKAGE, False, "its SHA-256 does not match datapackage-digest.json: the file was changed")
    else:
        verdict.add(DIGEST, True, f"datapackage.json hash {actual[7:23]}... matches")
    problem = signature_problem(signed, actual)
    if problem is None and signed.get("created") != package.get("created"):
        problem = "signedData.created is not the datapackage's creation time"
    if problem:
        verdict.add("signature", False, problem)
    else:
        key = signed_public_key(signed)
        fingerprint = key_fingerprint(key)
        if public_key is None:
            verdict.add("signature", True, f"valid ECDSA P-256 signature by key {fingerprint} "
                        "(give --public-key to check whose key it is)")
        elif key_fingerprint(public_key) == fingerprint:
            verdict.add("signature", True, f"valid, made by the public key you gave ({fingerprint[:16]}...)")
        else:
            verdict.add("signature", False, f"valid but made by key {fingerprint[:16]}..., not the key you gave")
    if not stamps:
        verdict.add("timestamps", True, "none: the pack carries no RFC 3161 timestamp")
    message = str(signed.get("signature", "")).encode("ascii", "replace") if isinstance(signed, dict) else b""
    for number, entry in enumerate(stamps, start=1):
        subject = f"timestamp {number}"
        try:
            stored = StoredTimestamp.from_json(entry)
        except (ValueError, KeyError, TypeError, AttributeError):
            verdict.add(subject, False, "the stored token or its certificates cannot be read")
            continue
        check = verify_timestamp(stored, message, trusted_roots=trusted_roots)
        verdict.add(f"{subject} ({stored.tsa})", check.ok, check.detail)


def _archives(members: dict[str, Path]) -> list[str]:
    return sorted(name for name in members if name.startswith("archive/") and name.endswith((".warc.gz", ".warc")))


def _check_warcs(members: dict[str, Path], verdict: Verdict) -> None:
    """Every record's WARC-Block-Digest and, where it has one, WARC-Payload-Digest, recomputed."""
    for name in _archives(members):
        records, problems = 0, []
        try:
            with members[name].open("rb") as handle:
                iterator = ArchiveIterator(handle, check_digests=True)
                for record in iterator:
                    records += 1
                    record.raw_stream.read()  # as stored: decoding a hostile body could fail or explode
                    iterator.read_to_end(record)
                    where = f"record at offset {iterator.get_record_offset()}"
                    headers = record.rec_headers
                    if not headers.get_header("WARC-Block-Digest"):
                        problems.append(f"{where} has no WARC-Block-Digest")
                    if record.rec_type in ("response", "resource") and not headers.get_header("WARC-Payload-Digest"):
                        problems.append(f"{where} has no WARC-Payload-Digest")
                    problems += [f"{where}: {problem}" for problem in record.digest_checker.problems]
        except (ArchiveLoadFailed, zlib.error, OSError, EOFError, ValueError) as exc:
            problems.append(f"unreadable after {records} records: {exc}")
        if problems:
            verdict.add(name, False, "WARC digests: " + "; ".join(problems[:3])
                        + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""))
        else:
            verdict.add(name, True, f"all {records} records' SHA-256 block and payload digests recomputed and match")


def _check_index(members: dict[str, Path], verdict: Verdict) -> None:
    """The CDXJ index must say exactly what the WARCs hold: re-index them and compare."""
    name = "indexes/index.cdx.gz"
    if name not in members:
        return
    archives = _archives(members)
    try:
        stored = gzip.decompress(members[name].read_bytes()).decode("utf-8")
        # The indexer names WARCs by file name, so index copies named as in the pack.
        with tempfile.TemporaryDirectory(prefix="panelmap-index-") as folder:
            copies = []
            for archive in archives:
                copy = Path(folder) / Path(archive).name
                copy.symlink_to(members[archive])
                copies.append(copy)
            expected = index_text(copies)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError, ArchiveLoadFailed, ValueError):
        verdict.add(name, False, "the index or a WARC cannot be read to compare them")
        return
    verdict.add(name, stored == expected, f"{len(stored.splitlines())} index lines match the WARC records"
                if stored == expected else "the index does not match the WARC records it indexes")


def _check_captures(members: dict[str, Path], verdict: Verdict) -> None:
    """Each artefact the report lists is where captures.jsonl says, with the SHA-256 it states."""
    name = "evidence/captures.jsonl"
    if name not in members:
        return
    try:
        rows = [json.loads(line) for line in members[name].read_text(encoding="utf-8").splitlines() if line.strip()]
    except (ValueError, UnicodeDecodeError):
        verdict.add(name, False, "cannot be read")
        return
    problems, checked = [], 0
    for row in rows:
        if row.get("withheld"):
            continue
        archive = members.get(str(row.get("archive_path")))
        if archive is None:
            problems.append(f"capture {row.get('capture_id')}: its WARC file is not in the pack")
            continue
        try:
            with archive.open("rb") as handle:
                handle.seek(int(row["offset"]))
                record = next(iter(ArchiveIterator(io.BytesIO(handle.read(int(row["length"]))))))
                payload_sha256 = hashlib.sha256(record.raw_stream.read()).hexdigest()
        except (KeyError, ValueError, TypeError, StopIteration, ArchiveLoadFailed, zlib.error, OSError, EOFError):
            problems.append(f"capture {row.get('capture_id')}: no readable record at its offset")
            continue
        if record.rec_headers.get_header("WARC-Record-ID") != row.get("record_id"):
            problems.append(f"capture {row.get('capture_id')}: another record is at its offset")
        elif payload_sha256 != row.get("sha256"):
            problems.append(f"capture {row.get('capture_id')}: its content's SHA-256 is not the one listed")
        checked += 1
    verdict.add(name, not problems, "; ".join(problems[:3]) if problems
                else f"{checked} artefacts found at their offsets with the SHA-256 the report lists")


def _check_custody(members: dict[str, Path], verdict: Verdict) -> None:
    name = "evidence/custody.jsonl"
    if name not in members:
        return
    try:
        entries = custody.from_jsonl(members[name].read_bytes())
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        verdict.add("custody log", False, "cannot be read")
        return
    problems = custody.chain_problems(entries)
    verdict.add("custody log", not problems, "; ".join(problems) if problems
                else f"{len(entries)} entries, hash chain intact")
    if entries:
        verdict.first_custody_hash = entries[0].entry_hash
        verdict.custody_entries = entries
