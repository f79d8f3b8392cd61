"""The chain of custody: an append-only, hash-chained log of what was done to a pack.

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no spaces,
UTF-8) of {sequence, action, actor, at, details, previous_hash}; each entry
names the hash of the one before, the first names 64 zeros. Changing, removing
or reordering any entry breaks every hash after it. The database keeps the
whole log (CustodyEvent rows); the pack keeps the entries that existed when it
was sealed, so the database log must always begin with the pack's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap.storage.models import CustodyEvent, EvidencePack

GENESIS_HASH = "0" * 64
ACTIONS = ("created", "exported", "verified", "copied")


def format_time(moment: datetime) -> str:
    """UTC with microseconds: the form hashed, so the same on every database."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class CustodyEntry:
    sequence: int
    action: str
    actor: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    previous_hash: str = GENESIS_HASH
    entry_hash: str = ""

    def body(self) -> dict[str, Any]:
        """What the hash covers."""
        return {"sequence": self.sequence, "action": self.action, "actor": self.actor, "at": format_time(self.at),
                "details": self.details, "previous_hash": self.previous_hash}

    def computed_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.body())).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {**self.body(), "entry_hash": self.entry_hash}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CustodyEntry:
        return cls(sequence=int(data["sequence"]), action=str(data["action"]), actor=str(data["actor"]),
                   at=parse_time(data["at"]), details=dict(data["details"]), previous_hash=str(data["previous_hash"]),
                   entry_hash=str(data["entry_hash"]))


def next_entry(previous: CustodyEntry | None, action: str, actor: str, details: dict[str, Any],
               at: datetime | None = None) -> CustodyEntry:
    """The entry that follows `previous` (or starts a log), with its hash."""
    if action not in ACTIONS:
        raise ValueError(f"unknown custody action {action!r}")
    # Through JSON once, so the details hashed are exactly what a reader of the log gets back.
    details = json.loads(canonical_json(details))
    entry = CustodyEntry(
        sequence=previous.sequence + 1 if previous else 1, action=action, actor=actor,
        at=at or datetime.now(timezone.utc), details=details,
        previous_hash=previous.entry_hash if previous else GENESIS_HASH,
    )
    return replace(entry, entry_hash=entry.computed_hash())


def chain_problems(entries: Sequence[CustodyEntry]) -> list[str]:
    """Every break in the chain, in words; an empty list for an intact log."""
    problems = []
    previous_hash = GENESIS_HASH
    if not entries:
        return ["the custody log is empty"]
    for position, entry in enumerate(entries, start=1):
        if entry.sequence != position:
            problems.append(f"entry {position} has sequence number {entry.sequence}")
        if entry.previous_hash != previous_hash:
            problems.append(f"entry {position} does not follow the entry before it")
        if entry.computed_hash() != entry.entry_hash:
            problems.append(f"entry {position} ({entry.action}) was altered: its hash does not match")
        previous_hash = entry.entry_hash
    return problems


def to_jsonl(entries: Iterable[CustodyEntry]) -> bytes:
    return b"".join(canonical_json(entry.as_json()) + b"\n" for entry in entries)


def from_jsonl(data: bytes) -> list[CustodyEntry]:
    """Raises ValueError (or KeyError, TypeError) for a log that cannot be read."""
    return [CustodyEntry.from_json(json.loads(line)) for line in data.decode("utf-8").splitlines() if line.strip()]


# -- the database's copy ---------------------------------------------------------------


def _from_row(row: CustodyEvent) -> CustodyEntry:
    return CustodyEntry(sequence=row.sequence, action=row.action, actor=row.actor, at=row.at,
                        details=row.details, previous_hash=row.previous_hash, entry_hash=row.entry_hash)


def store_entries(session: Session, pack_id: int, entries: Iterable[CustodyEntry]) -> None:
    for entry in entries:
        session.add(CustodyEvent(pack_id=pack_id, sequence=entry.sequence, action=entry.action, actor=entry.actor,
                                 at=entry.at, details=entry.details, previous_hash=entry.previous_hash,
                                 entry_hash=entry.entry_hash))
    session.flush()


def load_entries(session: Session, pack_id: int) -> list[CustodyEntry]:
    rows = session.scalars(select(CustodyEvent).filter_by(pack_id=pack_id).order_by(CustodyEvent.sequence))
    return [_from_row(row) for row in rows]


def append(session: Session, pack_id: int, action: str, actor: str, details: dict[str, Any]) -> CustodyEntry:
    """Add an entry to a pack's log in the database, chained to its last one.

    The pack row is locked first (FOR UPDATE on PostgreSQL; SQLite serialises
    writers), so two processes appending at once cannot both take one sequence.
    """
    session.get(EvidencePack, pack_id, with_for_update=True)
    last = session.scalars(
        select(CustodyEvent).filter_by(pack_id=pack_id).order_by(CustodyEvent.sequence.desc()).limit(1)
    ).first()
    entry = next_entry(_from_row(last) if last else None, action, actor, details)
    store_entries(session, pack_id, [entry])
    return entry


def find_pack(session: Session, first_entry_hash: str) -> EvidencePack | None:
    """The pack whose log starts with this entry: a pack file names itself by its first custody entry."""
    return session.scalars(
        select(EvidencePack).join(CustodyEvent, CustodyEvent.pack_id == EvidencePack.id)
        .where(CustodyEvent.sequence == 1, CustodyEvent.entry_hash == first_entry_hash)
    ).first()


def database_problems(stored: Sequence[CustodyEntry], in_pack: Sequence[CustodyEntry]) -> list[str]:
    """Breaks in the database's log, and any way it does not begin with the pack's."""
    problems = [f"database log: {problem}" for problem in chain_problems(stored)]
    if [entry.entry_hash for entry in stored[:len(in_pack)]] != [entry.entry_hash for entry in in_pack]:
        problems.append("the database log does not begin with the pack's log")
    return problems
