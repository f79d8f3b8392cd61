"""What the tool does to a pack after export, written into the database's custody log.

A pack names itself by its first custody entry's hash (it is inside the pack,
so it survives renaming and copying); the database's log for that pack must
begin with the pack's own entries. Verifying and copying append entries.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from panelmap.storage import Database

from . import custody
from .errors import EvidenceError
from .export import beside
from .verify import Verdict
from .wacz import sha256_file

CUSTODY_MEMBER = "evidence/custody.jsonl"


@dataclass(frozen=True)
class LedgerResult:
    recorded: bool
    problems: list[str]  # breaks in the database's log, or a pack file that is not the exported one
    message: str


def record_verification(database: Database, verdict: Verdict, actor: str) -> LedgerResult:
    """Append a "verified" entry (with the verdict) to the pack's log, and check that log."""
    if verdict.first_custody_hash is None:
        return LedgerResult(False, [], "custody: nothing recorded, the pack's own custody log is unreadable")
    file_sha256 = sha256_file(verdict.pack)[0]
    with database.session() as session:
        pack = custody.find_pack(session, verdict.first_custody_hash)
        if pack is None:
            return LedgerResult(False, [], f"custody: this pack is not recorded in {database.url}; nothing recorded")
        problems = custody.database_problems(custody.load_entries(session, pack.id), verdict.custody_entries)
        if pack.sha256 != file_sha256:
            problems.append(f"the file is not byte for byte the one exported (SHA-256 {file_sha256[:16]}..., "
                            f"exported {str(pack.sha256)[:16]}...)")
        entry = custody.append(session, pack.id, "verified", actor, {
            "path": str(verdict.pack.resolve()), "sha256": file_sha256, "verified": verdict.ok,
            "failed": list(dict.fromkeys(check.subject for check in verdict.failures)),
            "database_log_problems": problems,
        })
    return LedgerResult(True, problems, f"custody: entry {entry.sequence} (verified) added to pack {pack.id}'s log "
                                        f"in {database.url}")


def copy_pack(database: Database, source: Path, destination: Path, actor: str) -> LedgerResult:
    """Copy a pack (and its report beside it), check the copy is identical, and log the copy."""
    try:
        with zipfile.ZipFile(source) as archive:
            entries = custody.from_jsonl(archive.read(CUSTODY_MEMBER))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError):
        raise EvidenceError(f"{source} is not a readable evidence pack with a custody log") from None
    if not entries:
        raise EvidenceError(f"{source} has an empty custody log")
    if destination.is_dir():
        destination = destination / source.name
    if destination.exists():
        raise EvidenceError(f"{destination} exists: copy never overwrites")
    with database.session() as session:
        pack = custody.find_pack(session, entries[0].entry_hash)
        if pack is None:
            raise EvidenceError(f"{source} is not recorded in {database.url}: no custody entry can be made for it")
        partial = destination.with_name(destination.name + ".partial")
        shutil.copyfile(source, partial)
        source_sha256, copy_sha256 = sha256_file(source)[0], sha256_file(partial)[0]
        if source_sha256 != copy_sha256:
            partial.unlink()
            raise EvidenceError(f"the copy of {source} differs from it: nothing copied")
        partial.replace(destination)
        for suffix in (".report.html", ".report.pdf"):
            if beside(source, suffix).exists():
                shutil.copyfile(beside(source, suffix), beside(destination, suffix))
        problems = []
        if pack.sha256 != source_sha256:
            problems.append("the source is not byte for byte the file exported")
        entry = custody.append(session, pack.id, "copied", actor, {
            "from": str(source.resolve()), "to": str(destination.resolve()), "sha256": copy_sha256,
            "identical_to_export": pack.sha256 == source_sha256,
        })
    return LedgerResult(True, problems, f"copied to {destination}; custody entry {entry.sequence} (copied) added")
