"""The crawl's storage process: WARC records and database rows, written beside the crawl.

Scrapy fetches, parses and runs callbacks on one thread. Writing what it finds
(redacting, compressing and hashing WARC records; upserting captures and
catalogues) took more of that thread than the crawl itself, so a crawl hands
all of it to a process of its own, in order, through a pipe: the crawl never
waits for the disk or the database, and the writing runs on another core.

The writer takes whatever has arrived (up to BATCH_SIZE messages) and commits
it as one transaction. If that fails, it replays the batch one message per
transaction, so a bad message costs only itself. WARC records are written once,
before any transaction, so a replay never writes them twice.

Captures are named by their WARC-Record-ID, chosen by the crawl before the
record is written; the writer maps names to Capture ids, so a price row points
at the page it came from without the crawl ever waiting for an id.

If the crawl process dies (kill -9), the writer stores what it had received
and exits. Ctrl-C and SIGTERM are left to the crawl, which stops in order and
then tells the writer to finish.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import queue
import resource
import signal
import sys
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from panelmap.spiders.crawl_items import (
    CatalogueItem,
    PageRendered,
    ResponseCaptured,
    SiteFinishedItem,
    SiteSoftwareItem,
    SiteStarted,
)
from panelmap.spiders.rates import RateTable
from panelmap.storage import (
    Database,
    WarcFileWriter,
    capture_columns,
    record_captures,
    record_prices,
    upsert_services,
    upsert_site,
)
from panelmap.storage.models import SiteCrawl, utcnow
from panelmap.storage.warc import SecretRedactor, WrittenRecord

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # messages per transaction at most
BACKLOG_BYTES = 64 << 20  # bodies waiting for the writer; beyond this the crawl waits for it

Message = SiteStarted | ResponseCaptured | PageRendered | SiteSoftwareItem | CatalogueItem | SiteFinishedItem


class StorageError(RuntimeError):
    """The storage process stopped: nothing more the crawl sends will be stored."""


@dataclass(frozen=True)
class WriterConfig:
    database_url: str = field(repr=False)  # may hold a password
    run_id: int
    warc_directory: str
    warc_prefix: str
    software: str
    secret_values: list[str] = field(repr=False)  # redacted from every WARC record
    usd_rates: dict[str, str] = field(default_factory=dict)


# -- the crawl's side ----------------------------------------------------------


class StorageProcess:
    """Starts the writer and sends it messages; `close` waits until all are stored.

    Messages wait in memory until the writer takes them, at most `backlog_bytes`
    of bodies: past that, `send` waits, so a slow disk slows the crawl rather
    than filling the memory.
    """

    def __init__(self, config: WriterConfig, *, backlog_bytes: int = BACKLOG_BYTES):
        context = multiprocessing.get_context("spawn")  # fork would copy the crawl's reactor and threads
        receiver, self._pipe = context.Pipe(duplex=False)
        self._reports, report_sender = context.Pipe(duplex=False)
        self._process = context.Process(target=serve, args=(config, receiver, report_sender),
                                        name="panelmap-storage")
        self._process.start()
        # Only the writer may hold the reading end: when the crawl dies, the writer then sees the pipe close.
        receiver.close()
        report_sender.close()
        self._outbox: queue.SimpleQueue[tuple[Message | None, int]] = queue.SimpleQueue()
        self._backlog_limit = backlog_bytes
        self._backlog = 0
        self._room = threading.Condition()
        self._feeder = threading.Thread(target=self._feed, name="panelmap-storage-feeder", daemon=True)
        self._feeder.start()
        self._closed = False
        self.report: dict[str, Any] = {}
        # Before multiprocessing's own exit hook, which would wait for the writer forever.
        atexit.register(self.close)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _feed(self) -> None:
        # Pickling and writing happen here, so a busy writer never stalls the crawl's thread.
        while True:
            message, size = self._outbox.get()
            try:
                self._pipe.send(message)
            except OSError:  # the writer is gone; send() says so to the crawl
                return
            finally:
                with self._room:
                    self._backlog -= size
                    self._room.notify_all()
            if message is None:
                return

    def send(self, message: Message) -> None:
        size = _body_size(message)
        with self._room:
            while self._backlog > self._backlog_limit and self._feeder.is_alive():
                self._room.wait(0.5)
            # The feeder stops when the writer can no longer be reached.
            if not self._feeder.is_alive():
                raise StorageError(f"the storage process stopped (exit code {self._process.exitcode})")
            self._backlog += size
        self._outbox.put((message, size))

    def close(self) -> dict[str, Any]:
        """Let the writer store everything sent so far, then stop it. Returns its report."""
        if self._closed:
            return self.report
        self._closed = True
        atexit.unregister(self.close)
        self._outbox.put((None, 0))
        self._feeder.join()
        self._pipe.close()
        self._process.join()
        try:
            self.report = self._reports.recv() if self._reports.poll(5) else {}
        except EOFError:
            self.report = {}
        self._reports.close()
        if self._process.exitcode != 0:
            raise StorageError(f"the storage process failed (exit code {self._process.exitcode}); "
                               "see its error above")
        return self.report


def _body_size(message: Message) -> int:
    if isinstance(message, ResponseCaptured):
        return len(message.body) + len(message.request_body)
    if isinstance(message, PageRendered):
        return len(message.dom) + sum(len(png) for _, png in message.screenshots)
    return 0


# -- the writer's side -----------------------------------------------------------


def serve(config: WriterConfig, receiver: Any, report_sender: Any) -> None:
    """The storage process's main function: apply messages until the crawl says stop or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(format="%(asctime)s [%(name)s] %(levelname)s: %(message)s", level=logging.WARNING)
    database = Database.open(config.database_url)
    warc = WarcFileWriter(config.warc_directory, config.warc_prefix,
                          redactor=SecretRedactor(config.secret_values), software=config.software)
    writer = CrawlWriter(database, config.run_id, warc, RateTable.from_setting(config.usd_rates))
    failure = None
    try:
        for batch in _batches(receiver):
            writer.apply(batch)
    except Exception as exc:  # the disk or the database failed: say so in one line, and the crawl stops
        failure = _first_line(exc)
        log.error("storage stopped: %s", failure)
    finally:
        warc.close()
        database.dispose()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        report = {**writer.counts, "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                  "max_rss_mib": usage.ru_maxrss // 1024}
        try:
            report_sender.send(report)
        except OSError:
            pass  # the crawl is gone: nobody to tell
    if failure:
        sys.exit(1)


def _batches(receiver: Any) -> Any:
    """Lists of messages as they arrive: whatever is waiting, up to BATCH_SIZE, at least one."""
    while True:
        try:
            batch = [receiver.recv()]
        except EOFError:  # the crawl died without saying stop
            return
        while batch[-1] is not None and len(batch) < BATCH_SIZE and receiver.poll():
            try:
                batch.append(receiver.recv())
            except EOFError:
                break
        stop = batch[-1] is None
        batch = [message for message in batch if message is not None]
        if batch:
            yield batch
        if stop:
            return


@dataclass
class _Pending:
    """A message with its WARC records written (once) and its Capture rows to store."""

    message: Message
    captures: list[dict[str, Any]] = field(default_factory=list)


class CrawlWriter:
    """Applies a crawl's messages to its WARC files and database, in order."""

    def __init__(self, database: Database, run_id: int, warc: WarcFileWriter, rates: RateTable):
        self.database = database
        self.run_id = run_id
        self.warc = warc
        self.rates = rates
        self.counts = {"messages": 0, "captures": 0, "catalogue_entries": 0, "failed_messages": 0}
        # Ids known to be committed, and those of the transaction in progress (dropped if it fails).
        self._site_ids: dict[str, int] = {}
        self._capture_ids: dict[str, int] = {}
        self._new_site_ids: dict[str, int] = {}
        self._new_capture_ids: dict[str, int] = {}
        self._unsaved_captures: list[dict[str, Any]] = []

    def apply(self, messages: list[Message]) -> None:
        """Store `messages`. A message that cannot be stored is logged, counted and skipped;
        a failing disk or database (OSError, OperationalError) raises: nothing more could be stored."""
        pending = [one for one in map(self._write_records, messages) if one is not None]
        try:
            self._transaction(pending)
        except OperationalError:
            raise
        except Exception as exc:  # one bad message must not cost the batch: replay it one by one
            log.warning("storing %d messages together failed (%s); storing them one by one",
                        len(pending), _first_line(exc))
            for one in pending:
                try:
                    self._transaction([one])
                except OperationalError:
                    raise
                except Exception as exc:
                    self._failed(one.message, exc)
        self.counts["messages"] += len(messages)

    def _failed(self, message: Message, exc: Exception) -> None:
        self.counts["failed_messages"] += 1
        log.error("could not store %r: %s", message, _first_line(exc))

    def _transaction(self, pending: list[_Pending]) -> None:
        self._new_site_ids, self._new_capture_ids, self._unsaved_captures = {}, {}, []
        with self.database.session() as session:
            for one in pending:
                self._store(session, one)
            self._save_captures(session)
        self._site_ids.update(self._new_site_ids)
        self._capture_ids.update(self._new_capture_ids)
        self.counts["captures"] += len(self._new_capture_ids)
        self.counts["catalogue_entries"] += sum(len(one.message.entries) for one in pending
                                     if isinstance(one.message, CatalogueItem))

    # -- WARC ------------------------------------------------------------------

    def _write_records(self, message: Message) -> _Pending | None:
        try:
            return self._write_message_records(message)
        except OSError:
            raise
        except Exception as exc:  # a record warcio cannot build costs that message only
            self._failed(message, exc)
            return None

    def _write_message_records(self, message: Message) -> _Pending:
        pending = _Pending(message)
        if isinstance(message, ResponseCaptured):
            written = self.warc.write_response(
                message.final_url, message.status, _reason(message.status), message.headers, message.body,
                at=message.fetched_at, ip_address=message.ip_address, record_id=message.record_id,
            )
            self.warc.write_request(message.url, message.method, message.request_headers, message.request_body,
                                    at=message.fetched_at, concurrent_to=written.record_id)
            pending.captures.append(self._capture_row(
                "response", message.url, written, message.domain, final_url=message.final_url,
                method=message.method, http_status=message.status, content_type=_content_type(message.headers),
                server_ip=message.ip_address, fetched_at=message.fetched_at, duration_ms=message.duration_ms,
            ))
        elif isinstance(message, PageRendered):
            dom = self.warc.write_resource(f"urn:panelmap:dom:{message.final_url}", "text/html; charset=utf-8",
                                           message.dom, at=message.fetched_at, refers_to=message.raw_record_id,
                                           record_id=message.record_id)
            pending.captures.append(self._capture_row(
                "dom", message.url, dom, message.domain, parent=message.raw_record_id, final_url=message.final_url,
                http_status=message.status, content_type="text/html", fetched_at=message.fetched_at,
            ))
            for record_id, png in message.screenshots:
                shot = self.warc.write_resource(f"urn:panelmap:screenshot:{message.final_url}", "image/png", png,
                                                at=message.fetched_at, refers_to=dom, record_id=record_id)
                pending.captures.append(self._capture_row(
                    "screenshot", message.url, shot, message.domain, parent=dom.record_id,
                    content_type="image/png", fetched_at=message.fetched_at,
                ))
        return pending

    @staticmethod
    def _capture_row(kind: str, url: str, written: WrittenRecord, domain: str | None, *,
                     parent: str | None = None, **fields: Any) -> dict[str, Any]:
        # `domain` and `parent` become ids when the row is saved (they may be in this batch).
        return {"kind": kind, "url": url, "domain": domain, "parent": parent, **capture_columns(written), **fields}

    # -- database --------------------------------------------------------------

    def _store(self, session: Session, pending: _Pending) -> None:
        message = pending.message
        for row in pending.captures:
            if row["parent"] and row["parent"] not in self._capture_ids and row["parent"] not in self._new_capture_ids:
                self._save_captures(session)  # the parent is in this batch: give it its id first
            self._unsaved_captures.append(row)
        if isinstance(message, SiteStarted):
            site_id = self._site_id(session, message.domain)
            if session.scalar(select(SiteCrawl.id).filter_by(run_id=self.run_id, site_id=site_id)) is None:
                session.add(SiteCrawl(run_id=self.run_id, site_id=site_id))
        elif isinstance(message, SiteSoftwareItem):
            detection = message.detection
            self._new_site_ids[message.domain] = upsert_site(
                session, message.domain, software=detection.software, software_evidence=detection.evidence,
                tenant_code=detection.tenant_code,
            )
        elif isinstance(message, CatalogueItem):
            self._store_catalogue(session, message)
        elif isinstance(message, SiteFinishedItem):
            site_crawl = session.scalars(
                select(SiteCrawl).filter_by(run_id=self.run_id, site_id=self._site_id(session, message.domain))
            ).one()
            site_crawl.status, site_crawl.reason = message.status, message.reason
            site_crawl.pages, site_crawl.services = message.pages, message.services
            site_crawl.details = message.details
            site_crawl.finished_at = utcnow()

    def _site_id(self, session: Session, domain: str) -> int:
        known = self._site_ids.get(domain) or self._new_site_ids.get(domain)
        if known is None:
            known = self._new_site_ids[domain] = upsert_site(session, domain)
        return known

    def _capture_id(self, session: Session, record_id: str | None) -> int | None:
        if record_id is None:
            return None
        if record_id not in self._capture_ids and record_id not in self._new_capture_ids:
            self._save_captures(session)
        return self._capture_ids.get(record_id) or self._new_capture_ids.get(record_id)

    def _save_captures(self, session: Session) -> None:
        rows, self._unsaved_captures = self._unsaved_captures, []
        if not rows:
            return
        values = []
        for row in rows:
            row = dict(row)
            domain, parent = row.pop("domain"), row.pop("parent")
            values.append({**row, "site_id": self._site_id(session, domain) if domain else None,
                           "parent_id": self._capture_id(session, parent)})
        self._new_capture_ids.update(record_captures(session, self.run_id, values))

    def _store_catalogue(self, session: Session, item: CatalogueItem) -> None:
        site_id = self._site_id(session, item.domain)
        capture_id = self._capture_id(session, item.capture)
        # A panel may list one id twice (in two categories): the last listing wins, as on the page.
        entries = list({entry.service_id: entry for entry in item.entries}.values())
        service_ids = upsert_services(session, site_id, [entry.service_id for entry in entries])
        record_prices(session, self.run_id, item.source, [
            {"service_id": service_ids[entry.service_id], "capture_id": capture_id,
             **entry.price_fields(self.rates.to_usd(entry.rate, entry.currency))}
            for entry in entries
        ])


def _content_type(headers: list[tuple[str, str]]) -> str | None:
    return next((value for name, value in headers if name.lower() == "content-type"), None) or None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
