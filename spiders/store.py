"""One crawl's handle on storage: the database, the WARC writer, the run record.

Scrapy builds middlewares, pipelines and extensions separately; they all reach
the same `CrawlStore` through `CrawlStore.of(crawler)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from sqlalchemy import select

from panelmap import __version__
from panelmap.spiders.rates import RateTable
from panelmap.spiders.secrets import Secrets
from panelmap.storage import Database, WarcFileWriter, record_capture, upsert_site
from panelmap.storage.models import CrawlRun, SiteCrawl, utcnow
from panelmap.storage.warc import WrittenRecord

# Settings that describe the crawl (and so go into CrawlRun.config and its hash).
RECORDED_SETTINGS = (
    "PANELMAP_PROXY", "PANELMAP_RENDER", "PANELMAP_CA_BUNDLE", "PANELMAP_JOB",
    "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE",
    "REDIRECT_MAX_TIMES", "RETRY_TIMES", "AUTOTHROTTLE_ENABLED", "USER_AGENT",
)


class CrawlStore:
    """Opens the run at crawl start and records its end; writes captures as they arrive."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.database = Database.open(settings.get("PANELMAP_DATABASE_URL"))
        self.database.upgrade()
        secrets_file = settings.get("PANELMAP_SECRETS_FILE")
        self.secrets = Secrets.load(secrets_file) if secrets_file else Secrets()
        self.rates = RateTable.from_setting(settings.getdict("PANELMAP_RATES"))
        config = {name: settings.get(name) for name in RECORDED_SETTINGS}
        config["PANELMAP_SECRETS_FILE"] = bool(secrets_file)  # whether secrets were used, never what they are
        with self.database.session() as session:
            mark_dead_runs_interrupted(session)
            run = CrawlRun(
                job_id=settings.getint("PANELMAP_JOB_ID") or None,
                job_name=settings.get("PANELMAP_JOB"),
                config=config,
                config_hash=hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest(),
                proxy=settings.get("PANELMAP_PROXY"),
                resolver=settings.get("PANELMAP_DNS"),
                rate_table=self.rates.as_strings(),
                software_version=__version__,
                stats={"host": socket.gethostname(), "pid": os.getpid()},
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        warc_dir = Path(settings.get("PANELMAP_WARC_DIR", "captures"))
        self.warc = WarcFileWriter(warc_dir / f"run-{self.run_id}", f"panelmap-run{self.run_id}",
                                   redactor=self.secrets.redactor(), software=f"panelmap/{__version__}")
        self._site_ids: dict[str, int] = {}

    @classmethod
    def of(cls, crawler: Crawler) -> CrawlStore:
        store = getattr(crawler, "_panelmap_store", None)
        if store is None:
            store = cls(crawler)
            crawler._panelmap_store = store  # type: ignore[attr-defined]
        return store

    # -- sites ---------------------------------------------------------------

    def site_id(self, domain: str, **fields: Any) -> int:
        """The Site id for a crawled domain, created (or updated with `fields`) as needed."""
        if domain in self._site_ids and not fields:
            return self._site_ids[domain]
        with self.database.session() as session:
            site_id = upsert_site(session, domain, **fields)
        self._site_ids[domain] = site_id
        return site_id

    def start_site(self, domain: str) -> None:
        site_id = self.site_id(domain)
        with self.database.session() as session:
            existing = session.scalar(select(SiteCrawl).filter_by(run_id=self.run_id, site_id=site_id))
            if existing is None:
                session.add(SiteCrawl(run_id=self.run_id, site_id=site_id))

    def finish_site(self, domain: str, status: str, reason: str | None, pages: int, services: int,
                    details: dict[str, Any]) -> None:
        with self.database.session() as session:
            site_crawl = session.scalars(
                select(SiteCrawl).filter_by(run_id=self.run_id, site_id=self.site_id(domain))
            ).one()
            site_crawl.status, site_crawl.reason = status, reason
            site_crawl.pages, site_crawl.services = pages, services
            site_crawl.details = details
            site_crawl.finished_at = utcnow()

    # -- captures ------------------------------------------------------------

    def record(self, kind: str, url: str, written: WrittenRecord, *, domain: str | None,
               parent_id: int | None = None, **fields: Any) -> int:
        site_id = self.site_id(domain) if domain else None
        with self.database.session() as session:
            return record_capture(session, self.run_id, kind, url, written, site_id=site_id,
                                  parent_id=parent_id, **fields)

    # -- the run -------------------------------------------------------------

    def close(self, reason: str, stats: dict[str, Any]) -> None:
        """End the run: sites still open are marked partial, so none is left half-stored silently."""
        self.warc.close()
        now = utcnow()
        with self.database.session() as session:
            for site_crawl in session.scalars(select(SiteCrawl).filter_by(run_id=self.run_id, status="running")):
                site_crawl.status = "partial"
                site_crawl.reason = f"crawl ended ({reason}) before the site was finished"
                site_crawl.finished_at = now
            run = session.get(CrawlRun, self.run_id)
            run.status = "finished" if reason == "finished" else "interrupted"
            run.finished_at = now
            run.stats = {**run.stats, **{key: _plain(value) for key, value in stats.items()}}
        self.database.dispose()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def mark_dead_runs_interrupted(session: Any) -> None:
    """Runs of this host still marked running whose process is gone were killed: say so,
    and say which of their sites were left unfinished."""
    host = socket.gethostname()
    now = utcnow()
    for run in session.scalars(select(CrawlRun).filter_by(status="running")):
        if run.stats.get("host") != host or _process_alive(int(run.stats.get("pid", 0))):
            continue
        run.status, run.finished_at = "interrupted", now
        for site_crawl in session.scalars(select(SiteCrawl).filter_by(run_id=run.id, status="running")):
            site_crawl.status = "partial"
            site_crawl.reason = "the crawl process was killed before the site was finished"
            site_crawl.finished_at = now


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, Decimal)):
        return str(value)
    return value
