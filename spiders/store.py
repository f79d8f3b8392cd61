"""One crawl's handle on storage: the run record, and the storage process that writes the rest.

Scrapy builds middlewares, pipelines and extensions separately; they all reach
the same `CrawlStore` through `CrawlStore.of(crawler)`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import socket
from concurrent.futures import Future
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy import select

from panelmap import __version__
from panelmap.spiders.crawl_items import CataloguePage, CatalogueRead
from panelmap.spiders.rates import RateTable
from panelmap.spiders.secrets import Secrets
from panelmap.spiders.writer import Message, StorageError, StorageProcess, WriterConfig
from panelmap.storage import Database
from panelmap.storage.models import CrawlRun, SiteCrawl, utcnow

log = logging.getLogger(__name__)

# Settings that describe the crawl (and so go into CrawlRun.config and its hash).
RECORDED_SETTINGS = (
    "PANELMAP_PROXY", "PANELMAP_RENDER", "PANELMAP_CA_BUNDLE", "PANELMAP_JOB",
    "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE",
    "REDIRECT_MAX_TIMES", "RETRY_TIMES", "AUTOTHROTTLE_ENABLED", "USER_AGENT",
)


class CrawlStore:
    """Opens the run at crawl start, hands captures and items to the storage process, records the end."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.database = Database.open(settings.get("PANELMAP_DATABASE_URL"))
        self.database.upgrade()
        secrets_file = settings.get("PANELMAP_SECRETS_FILE")
        self.secrets = Secrets.load(secrets_file) if secrets_file else Secrets()
        rates = RateTable.from_setting(settings.getdict("PANELMAP_RATES"))
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
                rate_table=rates.as_strings(),
                software_version=__version__,
                stats={"host": socket.gethostname(), "pid": os.getpid()},
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        self.warc_directory = Path(settings.get("PANELMAP_WARC_DIR", "captures")) / f"run-{self.run_id}"
        # `run_crawl` starts the storage process before Scrapy sets up; `scrapy crawl` starts it here.
        self.writer = settings.get("PANELMAP_STORAGE_PROCESS") or StorageProcess()
        self.writer.configure(WriterConfig(
            database_url=self.database.engine.url.render_as_string(hide_password=False),
            run_id=self.run_id, warc_directory=str(self.warc_directory), warc_prefix=f"panelmap-run{self.run_id}",
            software=f"panelmap/{__version__}", secret_values=self.secrets.values(), usd_rates=rates.as_strings(),
        ))
        with self.database.session() as session:
            run = session.get(CrawlRun, self.run_id)
            run.stats = {**run.stats, "storage_pid": self.writer.pid}
        self.storage_failure: str | None = None

    @classmethod
    def of(cls, crawler: Crawler) -> CrawlStore:
        store = getattr(crawler, "_panelmap_store", None)
        if store is None:
            store = cls(crawler)
            crawler._panelmap_store = store  # type: ignore[attr-defined]
        return store

    def send(self, message: Message) -> None:
        """Hand `message` to the storage process. If that has stopped, the crawl stops too
        (fetching what cannot be stored would waste the sites' time and ours): what is
        still in flight is dropped, and the run record says why."""
        if self.storage_failure is not None:
            return
        try:
            self.writer.send(message)
        except StorageError as exc:
            self._storage_stopped(exc)

    def read_catalogue(self, page: CataloguePage) -> Future[CatalogueRead]:
        """Have the storage process read and store a catalogue page; the future holds its
        answer, or StorageError when storage has stopped."""
        try:
            return self.writer.ask(page)
        except StorageError as exc:
            self._storage_stopped(exc)
            raise

    def _storage_stopped(self, exc: StorageError) -> None:
        if self.storage_failure is None:
            self.storage_failure = str(exc)
            log.error("%s: stopping the crawl", exc)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="storage_failed"))

    # -- the run -------------------------------------------------------------

    def close(self, reason: str, stats: dict[str, Any]) -> None:
        """End the run: sites still open are marked partial, so none is left half-stored silently."""
        try:
            writer_report = self.writer.close()
        except StorageError as exc:
            writer_report, reason = {}, "storage_failed"
            self.storage_failure = self.storage_failure or str(exc)
        now = utcnow()
        with self.database.session() as session:
            for site_crawl in session.scalars(select(SiteCrawl).filter_by(run_id=self.run_id, status="running")):
                site_crawl.status = "partial"
                site_crawl.reason = f"crawl ended ({reason}) before the site was finished"
                site_crawl.finished_at = now
            run = session.get(CrawlRun, self.run_id)
            run.status = "finished" if reason == "finished" else "interrupted"
            run.finished_at = now
            usage = resource.getrusage(resource.RUSAGE_SELF)
            # Scrapy's memusage/max is sampled once a minute: a short crawl's is its start-up size.
            run.stats = {**run.stats, **{key: _plain(value) for key, value in stats.items()},
                         "max_rss_mib": usage.ru_maxrss // 1024,
                         "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                         "finish_reason": reason, "storage": {**writer_report, "failure": self.storage_failure}}
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
