"""Importing price lists saved as CSV (a panel's services table, one file per panel and day,
as in `data/smmpanels/raw/<Panel>/<YYYY_MM_DD>.csv`) into the database, so that the linker
can work on lists an investigator already has.

Each file date becomes one CrawlRun (job "import prices", started and finished at that
date), each panel a Site (the `--site PANEL=DOMAIN` mapping, else the pseudo-domain
`<panel>.csv`), each row a Service and a PriceObservation of source "import". Columns are
recognised by their titles, as the crawler's table extractor does, so any panel's own
header works. Importing a file twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from panelmap import __version__
from panelmap.spiders.extract_table import Column, make_entry, map_columns
from panelmap.spiders.items import CatalogueEntry
from panelmap.spiders.numbers import currency_in_text
from panelmap.spiders.rates import RateTable
from panelmap.storage import Database, record_prices, upsert, upsert_services, upsert_site
from panelmap.storage.models import CrawlRun, SiteCrawl

JOB_NAME = "import prices"
SOURCE = "import"
_DATE = re.compile(r"(\d{4})[_-](\d{2})[_-](\d{2})")


class PriceListError(ValueError):
    """A file that cannot be imported; the message is one line."""


@dataclass
class ImportedFile:
    path: Path
    site: str
    date: datetime
    run_id: int
    services: int
    skipped: int


def price_list_files(paths: Iterable[str | Path]) -> list[Path]:
    """The CSV files named, directories searched recursively, oldest date first."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(path.rglob("*.csv"))
        elif path.is_file():
            found.append(path)
        else:
            raise PriceListError(f"{path} does not exist")
    if not found:
        raise PriceListError("no CSV price lists in " + ", ".join(str(p) for p in paths))
    return sorted(dict.fromkeys(found), key=lambda p: (file_date(p), str(p)))


def file_date(path: Path) -> datetime:
    match = _DATE.search(path.stem)
    if match is None:
        raise PriceListError(f"{path}: no date (YYYY_MM_DD or YYYY-MM-DD) in the file name")
    year, month, day = (int(group) for group in match.groups())
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        raise PriceListError(f"{path}: {match.group(0)} is not a date") from None


def read_price_list(path: Path) -> tuple[list[CatalogueEntry], int]:
    """The entries of one CSV (first entry per service id kept) and how many rows were skipped."""
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PriceListError(f"{path}: cannot read it as CSV ({exc})") from None
    if not rows:
        raise PriceListError(f"{path}: empty file")
    mapping = map_columns(rows[0])
    if Column.RATE not in mapping or Column.ID not in mapping:
        raise PriceListError(f"{path}: no rate and id columns in the header {rows[0]!r}")
    title_currency = currency_in_text(rows[0][mapping[Column.RATE]])

    def cell(row: list[str], column: str) -> str | None:
        index = mapping.get(column)
        return (" ".join(row[index].split()) or None) if index is not None and index < len(row) else None

    entries: dict[str, CatalogueEntry] = {}
    skipped = 0
    for row in rows[1:]:
        service_id = cell(row, Column.ID)
        entry = make_entry(
            service_id, cell(row, Column.NAME), cell(row, Column.RATE), context_currencies=(title_currency,),
            category=cell(row, Column.CATEGORY), min_text=cell(row, Column.MIN), max_text=cell(row, Column.MAX),
            min_max_text=cell(row, Column.MIN_MAX), average_text=cell(row, Column.AVERAGE_TIME),
            description=cell(row, Column.DESCRIPTION),
        ) if service_id and service_id.isdigit() else None
        if entry is None or service_id in entries:
            skipped += 1
            continue
        entries[service_id] = entry
    return list(entries.values()), skipped


def _run_for(session: Any, date: datetime, rates: RateTable) -> int:
    existing = session.scalar(select(CrawlRun.id).where(CrawlRun.job_name == JOB_NAME, CrawlRun.started_at == date))
    if existing is not None:
        return int(existing)
    config = {"job": JOB_NAME, "source": SOURCE}
    run = CrawlRun(job_name=JOB_NAME, started_at=date, finished_at=date, status="finished", config=config,
                   config_hash=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
                   rate_table=rates.as_strings(), software_version=__version__)
    session.add(run)
    session.flush()
    return run.id


def _observation(entry: CatalogueEntry, service_id: int, date: datetime, rates: RateTable) -> dict[str, Any]:
    return {"service_id": service_id, "observed_at": date,
            **entry.price_fields(rates.to_usd(entry.rate, entry.currency))}


def site_for(panel: str, sites: Mapping[str, str]) -> str:
    """The domain a panel's files go to: the mapping's (by panel name, any case), else `<panel>.csv`."""
    lowered = {name.lower(): domain for name, domain in sites.items()}
    return lowered.get(panel.lower(), f"{panel.lower()}.csv")


def import_price_lists(database: Database, paths: Iterable[str | Path], *, sites: Mapping[str, str] | None = None,
                       rates: RateTable | None = None) -> list[ImportedFile]:
    """Import every CSV under `paths`; the panel is each file's folder name."""
    rates = rates or RateTable.from_setting()
    imported = []
    for path in price_list_files(paths):
        date = file_date(path)
        entries, skipped = read_price_list(path)
        domain = site_for(path.parent.name, sites or {})
        with database.session() as session:
            run_id = _run_for(session, date, rates)
            site_id = upsert_site(session, domain, seen_at=date)
            service_ids = upsert_services(session, site_id, [entry.service_id for entry in entries], seen_at=date)
            record_prices(session, run_id, SOURCE,
                          [_observation(entry, service_ids[entry.service_id], date, rates) for entry in entries])
            upsert(session, SiteCrawl,
                   {"run_id": run_id, "site_id": site_id, "status": "complete", "pages": 1, "services": len(entries),
                    "details": {"imported_from": str(path), "skipped_rows": skipped},
                    "started_at": date, "finished_at": date},
                   conflict=["run_id", "site_id"], update=["status", "services", "details", "finished_at"])
        imported.append(ImportedFile(path, domain, date, run_id, len(entries), skipped))
    return imported
