"""Writing things and observations: the calls the crawler and enrichers make.

Every call is idempotent for the same run: doing the same work twice leaves the
same rows, which is what lets a killed crawl be run again.
"""

from __future__ import annotations

from datetime import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from .models import Capture, CrawlRun, PriceObservation, Service, Site, SiteCrawl, utcnow
from .upsert import upsert, upsert_many, write_many
from .warc import WrittenRecord

# The columns of a price observation that a repeated run may correct.
_PRICE_FIELDS = tuple(
    column.name
    for column in PriceObservation.__table__.columns
    if column.name not in {"id", "run_id", "service_id", "source"}
)


def normalise_domain(domain: str) -> str:
    """`HTTPS://WWW.Example.com/x` -> `www.example.com`: lower case, no scheme, path or port."""
    host = domain.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1]
    if not host.startswith("["):
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    if not host:
        raise ValueError(f"no domain in {domain!r}")
    return host


def upsert_site(session: Session, domain: str, *, seen_at: datetime | None = None, **fields: Any) -> int:
    """The id of the Site for `domain`, creating it if new; `fields` (kind, software,
    software_evidence, tenant_code) overwrite what was known, and last_seen moves on."""
    seen_at = seen_at or utcnow()
    values = {"domain": normalise_domain(domain), "first_seen": seen_at, "last_seen": seen_at, **fields}
    return upsert(session, Site, values, conflict=["domain"], update=["last_seen", *fields])


def upsert_service(session: Session, site_id: int, service_key: str, *, seen_at: datetime | None = None) -> int:
    """The id of the Service `service_key` (the panel's own id) of a site."""
    seen_at = seen_at or utcnow()
    values = {"site_id": site_id, "service_key": str(service_key), "first_seen": seen_at, "last_seen": seen_at}
    return upsert(session, Service, values, conflict=["site_id", "service_key"], update=["last_seen"])


def upsert_services(session: Session, site_id: int, service_keys: Sequence[str], *,
                    seen_at: datetime | None = None) -> dict[str, int]:
    """`upsert_service` for many services of one site in one statement: key -> id."""
    seen_at = seen_at or utcnow()
    keys = list(dict.fromkeys(str(key) for key in service_keys))
    rows = [{"site_id": site_id, "service_key": key, "first_seen": seen_at, "last_seen": seen_at} for key in keys]
    ids = upsert_many(session, Service, rows, conflict=["site_id", "service_key"], update=["last_seen"])
    return {key: ids[(site_id, key)] for key in keys}


def record_prices(session: Session, run_id: int, source: str, observations: Sequence[Mapping[str, Any]]) -> None:
    """`record_price` for many services at once; each mapping has `service_id` and price fields,
    all mappings the same fields."""
    if not observations:
        return
    fields = set(observations[0]) - {"service_id"}
    unknown = fields - set(_PRICE_FIELDS)
    if unknown:
        raise TypeError(f"unknown price observation fields: {sorted(unknown)}")
    rows = [{"run_id": run_id, "source": source, **observation} for observation in observations]
    write_many(session, PriceObservation, rows, conflict=["run_id", "service_id", "source"], update=sorted(fields))


def record_price(session: Session, run_id: int, service_id: int, source: str, **fields: Any) -> int:
    """Store what a run saw of a service from `source` (html / api); a second call for
    the same run, service and source replaces the first."""
    unknown = set(fields) - set(_PRICE_FIELDS)
    if unknown:
        raise TypeError(f"unknown price observation fields: {sorted(unknown)}")
    values = {"run_id": run_id, "service_id": service_id, "source": source, **fields}
    return upsert(
        session, PriceObservation, values, conflict=["run_id", "service_id", "source"], update=list(fields)
    )


def capture_columns(written: WrittenRecord) -> dict[str, Any]:
    """The Capture columns that say where a WARC record is and what it holds."""
    return {
        "sha256": written.payload_sha256, "size": written.payload_size, "warc_file": written.warc_file,
        "warc_offset": written.offset, "warc_length": written.length, "warc_record_id": written.record_id,
    }


def record_capture(session: Session, run_id: int, kind: str, url: str, written: WrittenRecord, *,
                   site_id: int | None = None, parent_id: int | None = None, **fields: Any) -> int:
    """Store the Capture row for a WARC record just written; idempotent on the record id.

    `fields` are the Capture columns that describe the fetch: final_url, method,
    http_status, content_type, server_ip, fetched_at, duration_ms.
    """
    values = {"run_id": run_id, "site_id": site_id, "parent_id": parent_id, "kind": kind, "url": url,
              **capture_columns(written), **fields}
    return upsert(session, Capture, values, conflict=["warc_record_id"])


def record_captures(session: Session, run_id: int, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """`record_capture` for many records at once: each row holds `capture_columns` and
    whichever other Capture columns it has. Returns {WARC-Record-ID: Capture id}."""
    # One statement needs one set of columns: a column a row lacks is NULL in it.
    columns = dict.fromkeys(column for row in rows for column in row)
    values = [{**dict.fromkeys(columns), **row, "run_id": run_id} for row in rows]
    # The no-op update makes every row, new or already stored, return its id.
    ids = upsert_many(session, Capture, values, conflict=["warc_record_id"], update=["warc_record_id"])
    return {record_id: capture_id for (record_id,), capture_id in ids.items()}


def start_site_crawl(session: Session, run_id: int, site_id: int) -> None:
    """Open the SiteCrawl of a site in a run (status "running"); one already open stays as it is."""
    write_many(session, SiteCrawl, [{"run_id": run_id, "site_id": site_id}], conflict=["run_id", "site_id"])


def finish_site_crawl(session: Session, run_id: int, site_id: int, **fields: Any) -> None:
    """Close a site's SiteCrawl with `fields` (status, reason, pages, services, details).
    Raises LookupError when the site was never started in the run."""
    # An UPDATE, not the ORM: loading each site's row to change it cost a tenth of a second a crawl.
    table = SiteCrawl.__table__
    finished = session.connection().execute(
        update(table).where(table.c.run_id == run_id, table.c.site_id == site_id)
        .values(**fields, finished_at=utcnow())
    )
    if finished.rowcount != 1:
        raise LookupError(f"site {site_id} finished but never started in run {run_id}")


def start_enrichment_run(session: Session, *, proxy: str | None, resolver: str | None) -> int:
    """A CrawlRun for an enrichment pass on its own (`panelmap enrich`), so its observations have a run."""
    from panelmap import __version__

    run = CrawlRun(job_name="enrich", config={"enrich_only": True}, proxy=proxy, resolver=resolver,
                   software_version=__version__)
    session.add(run)
    session.flush()
    return run.id


def record_enrichment(database: Any, run_id: int, stats: Mapping[str, Any], *, finished: bool = False) -> None:
    """Keep an enrichment pass's figures with its run (and end the run, for a pass on its own)."""
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        run.stats = {**run.stats, "enrichment": dict(stats)}
        if finished:
            run.status, run.finished_at = "finished", utcnow()
