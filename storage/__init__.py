"""Storage: the data model, its migrations and the calls other stages use to read and write it.

    from panelmap.storage import Database, upsert_site

    db = Database.open("postgresql+psycopg://127.0.0.1/panelmap")
    db.upgrade()
    with db.session() as session:
        site_id = upsert_site(session, "justanotherpanel.com", kind="panel")

Other stages go through this package; none of them writes SQL of its own.
"""

from .database import DEFAULT_URL, ENV_VAR, Database, DatabaseError, redact_url, resolve_url
from .queries import known_domains, list_panels, list_run_sites, list_services
from .records import (
    capture_columns,
    finish_site_crawl,
    normalise_domain,
    record_capture,
    record_captures,
    record_enrichment,
    record_price,
    record_prices,
    start_enrichment_run,
    start_site_crawl,
    upsert_service,
    upsert_services,
    upsert_site,
)
from .warc import SecretRedactor, WarcFileWriter, WrittenRecord, read_record_payload
from .upsert import upsert, upsert_many, write_many

__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "known_domains",
    "list_panels",
    "list_run_sites",
    "list_services",
    "Database",
    "DatabaseError",
    "normalise_domain",
    "capture_columns",
    "read_record_payload",
    "record_capture",
    "record_captures",
    "record_enrichment",
    "record_price",
    "record_prices",
    "SecretRedactor",
    "start_enrichment_run",
    "start_site_crawl",
    "finish_site_crawl",
    "WarcFileWriter",
    "WrittenRecord",
    "redact_url",
    "resolve_url",
    "upsert",
    "upsert_many",
    "upsert_service",
    "upsert_services",
    "upsert_site",
    "write_many",
]
