"""The crawl's storage process: catalogues read, WARC records and database rows written, beside the crawl.

Scrapy fetches, parses and runs callbacks on one thread. Reading catalogues out
of pages and writing what the crawl finds (redacting, compressing and hashing
WARC records; upserting captures and catalogues) took more of that thread than
the crawl itself, so a crawl hands all of it to a process of its own, in order,
through a pipe: the crawl never waits for the disk or the database, and the
work runs on another core.

A catalogue page is the one message the crawl waits on: it needs to know which
pages continue the catalogue. Pages come by a pipe of their own; a thread reads
each as it arrives and answers at once (`StorageProcess.ask`), so an answer
never waits behind the records or the database. The entries are stored when
the answer's `StoreCatalogue` comes through in the records' order, after the
page's own capture. The writer keeps each site's HTML and API catalogues until
the site ends, to record where the two disagree.

Messages cross the pipes in lists, as many as are waiting: a thread beside a
busy one gets Python's GIL only now and then, so it must not need it once per
message.

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
import itertools
import logging
import multiprocessing
import queue
import resource
import signal
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from panelmap.gc_tuning import skip_collection_at_exit, tune_for_long_run
from panelmap.spiders.crawl_items import (
    CataloguePage,
    CatalogueRead,
    PageRendered,
    ResponseCaptured,
    SiteFinishedItem,
    SiteSoftwareItem,
    SiteStarted,
    StoreCatalogue,
)
from panelmap.spiders.extract_api import ApiFormatError, PanelApiError
from panelmap.spiders.extractors import read_catalogue
from panelmap.spiders.items import CatalogueEntry
from panelmap.spiders.rates import RateTable
from panelmap.spiders.reconcile import reconcile
from panelmap.storage import (
    Database,
    WarcFileWriter,
    capture_columns,
    finish_site_crawl,
    record_captures,
    record_prices,
    start_site_crawl,
    upsert_services,
    upsert_site,
)
from panelmap.storage.warc import SecretRedactor, WrittenRecord

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # messages per transaction, about
SEND_BATCH = 100  # messages per write to a pipe at most
BACKLOG_BYTES = 64 << 20  # bodies waiting for the writer; beyond this the crawl waits for it

Message = SiteStarted | ResponseCaptured | PageRendered | SiteSoftwareItem | StoreCatalogue | SiteFinishedItem


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
    """Starts the writer, `configure` tells it where to write, then it takes records; `ask`
    has it read a catalogue page and answer; `close` waits until all is stored.

    The process starts before it knows its run, so that it imports its modules (0.4 s
    of CPU) while Scrapy sets up, not while the crawl needs the cores.

    Records wait in memory until the writer takes them, at most `backlog_bytes`
    of bodies: past that, `send` waits, so a slow disk slows the crawl rather
    than filling the memory. Catalogue pages go by a pipe of their own, so their
    answers never wait behind that backlog.
    """

    def __init__(self, *, backlog_bytes: int = BACKLOG_BYTES):
        context = multiprocessing.get_context("spawn")  # fork would copy the crawl's reactor and threads
        records_end, records = context.Pipe(duplex=False)
        pages_end, pages = context.Pipe(duplex=False)
        self._answers, answers_end = context.Pipe(duplex=False)
        self._reports, reports_end = context.Pipe(duplex=False)
        self._process = context.Process(target=serve, args=(records_end, pages_end, answers_end, reports_end),
                                        name="panelmap-storage")
        self._process.start()
        self._pipes = (records, pages)
        # Only the writer may hold these ends: when either side dies, the other then sees its pipes close.
        for end in (records_end, pages_end, answers_end, reports_end):
            end.close()
        self._backlog_limit = backlog_bytes
        self._backlog = 0
        self._room = threading.Condition()
        self._records: queue.SimpleQueue[tuple[Message | None, int]] = queue.SimpleQueue()
        self._pages: queue.SimpleQueue[tuple[CataloguePage | None, int]] = queue.SimpleQueue()
        self._feeders = [threading.Thread(target=self._feed, args=(outbox, pipe), name=name, daemon=True)
                         for outbox, pipe, name in ((self._records, records, "panelmap-storage-records"),
                                                    (self._pages, pages, "panelmap-storage-pages"))]
        self._questions = itertools.count(1)
        self._waiting: dict[int, Future[CatalogueRead]] = {}
        self._waiting_lock = threading.Lock()
        self._answer_reader = threading.Thread(target=self._read_answers, name="panelmap-storage-answers",
                                               daemon=True)
        self._answer_reader.start()
        self._configured = self._closed = False
        self.report: dict[str, Any] = {}
        # Before multiprocessing's own exit hook, which would wait for the writer forever.
        atexit.register(self.close)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def __deepcopy__(self, memo: dict[int, Any]) -> StorageProcess:
        return self  # a handle on one process: Scrapy copies its settings, which carry it, not the process

    def configure(self, config: WriterConfig) -> None:
        """Tell the writer where to write: its first message, before any record."""
        self._pipes[0].send(config)
        self._configured = True
        for feeder in self._feeders:
            feeder.start()

    def _feed(self, outbox: queue.SimpleQueue[tuple[Any, int]], pipe: Any) -> None:
        """Pickle and write what `outbox` holds, everything waiting as one list: this thread
        gets the GIL only when the busy crawl thread lets it go, so it must not need it once
        per message. None ends the list and the feeding."""
        while True:
            batch = [outbox.get()]
            while batch[-1][0] is not None and len(batch) < SEND_BATCH:
                try:
                    batch.append(outbox.get_nowait())
                except queue.Empty:
                    break
            try:
                pipe.send([message for message, _ in batch])
            except OSError:  # the writer is gone; send() and ask() say so to the crawl
                return
            finally:
                with self._room:
                    self._backlog -= sum(size for _, size in batch)
                    self._room.notify_all()
            if batch[-1][0] is None:
                pipe.close()
                return

    def _check_alive(self) -> None:
        # The feeders stop when the writer can no longer be reached.
        if not all(feeder.is_alive() for feeder in self._feeders):
            raise StorageError(f"the storage process stopped (exit code {self._process.exitcode})")

    def send(self, message: Message) -> None:
        size = _body_size(message)
        with self._room:
            while self._backlog > self._backlog_limit and self._feeders[0].is_alive():
                self._room.wait(0.5)
            self._check_alive()
            self._backlog += size
        self._records.put((message, size))

    def ask(self, page: CataloguePage) -> Future[CatalogueRead]:
        """Send a catalogue page to be read; the future holds the writer's answer. The
        entries are stored in the records' order, after whatever was sent before the answer."""
        self._check_alive()
        answer: Future[CatalogueRead] = Future()
        page.request_id = next(self._questions)
        with self._waiting_lock:
            self._waiting[page.request_id] = answer
        self._pages.put((page, 0))
        return answer

    def _read_answers(self) -> None:
        while True:
            try:
                answers: list[CatalogueRead] = self._answers.recv()
            except (EOFError, OSError):  # the writer has stopped: what still waits gets no answer
                break
            for answer in answers:
                with self._waiting_lock:
                    waiting = self._waiting.pop(answer.request_id)
                try:
                    if answer.service_ids:  # before the crawl hears the answer, so before what it does next
                        self.send(StoreCatalogue(answer.request_id))
                    waiting.set_result(answer)
                except StorageError as exc:
                    waiting.set_exception(exc)
        with self._waiting_lock:
            unanswered, self._waiting = self._waiting, {}
        for waiting in unanswered.values():
            waiting.set_exception(StorageError("the storage process stopped before reading the page"))

    def close(self) -> dict[str, Any]:
        """Let the writer store everything sent so far, then stop it. Returns its report."""
        if self._closed:
            return self.report
        self._closed = True
        atexit.unregister(self.close)
        if self._configured:
            self._pages.put((None, 0))
            self._feeders[1].join()
            self._answer_reader.join()  # every answer's StoreCatalogue is then among the records
            self._records.put((None, 0))
            self._feeders[0].join()
        else:  # the crawl ended before it began: the writer, still waiting for its run, leaves
            for pipe in self._pipes:
                pipe.close()
        self._process.join()
        self._answers.close()
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


def serve(records: Any, pages: Any, answers: Any, report_sender: Any) -> None:
    """The storage process's main function: once the crawl says where to write, apply records
    until it says stop or dies, while a thread reads the catalogue pages and answers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        config: WriterConfig = records.recv()
    except EOFError:  # the crawl ended (or died) before it began
        return
    logging.basicConfig(format="%(asctime)s [%(name)s] %(levelname)s: %(message)s", level=logging.WARNING)
    database = Database.open(config.database_url)
    warc = WarcFileWriter(config.warc_directory, config.warc_prefix,
                          redactor=SecretRedactor(config.secret_values), software=config.software)
    writer = CrawlWriter(database, config.run_id, warc, RateTable.from_setting(config.usd_rates))
    tune_for_long_run()
    skip_collection_at_exit()
    reader = threading.Thread(target=_read_pages, args=(pages, answers, writer), name="panelmap-storage-reader",
                              daemon=True)
    reader.start()
    failure = None
    try:
        for batch in _batches(records):
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
        _send_quietly(report_sender, report)
    if failure:
        sys.exit(1)


def _read_pages(pages: Any, answers: Any, writer: CrawlWriter) -> None:
    """Read catalogue pages as they come, storing waiting meanwhile, and answer each as soon
    as it is read: the crawl waits for the answer to follow the page's links."""
    while True:
        try:
            batch: list[CataloguePage | None] = pages.recv()
        except (EOFError, OSError):  # the crawl has gone
            return
        for page in batch:
            if page is not None:
                with writer.reading:
                    answer = writer.read(page)
                # Not while holding `reading`: a crawl that waits for storing to make room
                # reads no answers until it has.
                _send_quietly(answers, [answer])
        if batch[-1] is None:
            answers.close()
            return


def _send_quietly(connection: Any, message: Any) -> None:
    try:
        connection.send(message)
    except OSError:
        pass  # the crawl is gone: nobody to tell


def _batches(records: Any) -> Any:
    """Lists of records as they arrive: whatever is waiting, up to about BATCH_SIZE, at least one."""
    while True:
        try:
            batch = records.recv()
        except EOFError:  # the crawl died without saying stop
            return
        while batch[-1] is not None and len(batch) < BATCH_SIZE and records.poll():
            try:
                batch += records.recv()
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
    """A message with its WARC records written (once), its Capture rows, and for StoreCatalogue the page read."""

    message: Message
    captures: list[dict[str, Any]] = field(default_factory=list)
    page: CataloguePage | None = None


class CrawlWriter:
    """Applies a crawl's messages to its WARC files and database, in order."""

    def __init__(self, database: Database, run_id: int, warc: WarcFileWriter, rates: RateTable):
        self.database = database
        self.run_id = run_id
        self.warc = warc
        self.rates = rates
        # Pages read and answered whose StoreCatalogue has not come yet (the reading thread adds them).
        self._read_pages: dict[int, CataloguePage] = {}
        # Each open site's catalogues by source (html / api), kept until the site ends for `reconcile`.
        self._catalogues: dict[str, dict[str, dict[str, CatalogueEntry]]] = {}
        self.counts = {"messages": 0, "captures": 0, "catalogue_entries": 0, "failed_messages": 0}
        # Ids known to be committed, and those of the transaction in progress (dropped if it fails).
        self._site_ids: dict[str, int] = {}
        self._capture_ids: dict[str, int] = {}
        self._new_site_ids: dict[str, int] = {}
        self._new_capture_ids: dict[str, int] = {}
        # Each open site's service ids, by the panel's key: its HTML and API catalogues list the
        # same services, which need upserting once a run (twice cost a tenth of this process).
        self._service_ids: dict[str, dict[str, int]] = {}
        self._new_service_ids: dict[str, dict[str, int]] = {}
        self._unsaved_captures: list[dict[str, Any]] = []
        # Held while catalogue pages are read; storing waits for it between messages. The two
        # share one interpreter lock, and the crawl waits for the pages' answers (to follow
        # their links), while nothing waits for storing until the crawl ends.
        self.reading = threading.Lock()

    def _give_way(self) -> None:
        with self.reading:
            pass

    def apply(self, messages: list[Message]) -> None:
        """Store `messages`. A message that cannot be stored is logged, counted and skipped;
        a failing disk or database (OSError, OperationalError) raises: nothing more could be stored."""
        pending = []
        for message in messages:
            self._give_way()
            one = self._pending(message)
            if self._write_records(one):
                pending.append(one)
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
        self._new_service_ids = {}
        with self.database.session() as session:
            for one in pending:
                self._give_way()
                self._store(session, one)
            self._save_captures(session)
        self._site_ids.update(self._new_site_ids)
        self._capture_ids.update(self._new_capture_ids)
        for domain, ids in self._new_service_ids.items():
            self._service_ids.setdefault(domain, {}).update(ids)
        for one in pending:
            if isinstance(one.message, SiteFinishedItem):
                self._service_ids.pop(one.message.domain, None)
        self.counts["captures"] += len(self._new_capture_ids)
        self.counts["catalogue_entries"] += sum(len(one.page.entries or ()) for one in pending if one.page)

    # -- catalogues ------------------------------------------------------------

    def read(self, page: CataloguePage) -> CatalogueRead:
        """Extract a catalogue page's entries, keep them for its StoreCatalogue, and say what
        the page holds, whatever happens. Needs no database: the reading thread calls it."""
        try:
            extraction = read_catalogue(page.source, page.url, page.body, page.headers, currency=page.currency)
        except (PanelApiError, ApiFormatError) as exc:  # the answer is itself evidence, stored as the capture
            return CatalogueRead(page.request_id, error=str(exc))
        except Exception as exc:  # a page that breaks the extractor costs that page
            log.warning("%s: could not read %s: %s", page.domain, page.url, _first_line(exc))
            return CatalogueRead(page.request_id, error=_first_line(exc))
        # A panel may list one id twice (in two categories): the last listing wins, as on the page.
        page.entries = list({entry.service_id: entry for entry in extraction.entries}.values())
        page.body = b""  # its capture keeps it
        self._read_pages[page.request_id] = page
        return CatalogueRead(page.request_id, [entry.service_id for entry in page.entries],
                             extraction.next_pages, extraction.category_pages)

    def _pending(self, message: Message) -> _Pending:
        """A message ready for its transaction, with what the reading thread and earlier
        messages left for it (done once, outside the transaction, which may be replayed)."""
        if isinstance(message, SiteFinishedItem):
            catalogues = self._catalogues.pop(message.domain, {})
            if "html" in catalogues and "api" in catalogues:
                message.details["reconciliation"] = reconcile(catalogues["html"], catalogues["api"])
        if not isinstance(message, StoreCatalogue):
            return _Pending(message)
        page = self._read_pages.pop(message.request_id, None)
        if page is None:
            return _Pending(message)  # _store says so
        self._catalogues.setdefault(page.domain, {}).setdefault(page.source, {}).update(
            (entry.service_id, entry) for entry in page.entries or ())
        return _Pending(message, page=page)

    # -- WARC ------------------------------------------------------------------

    def _write_records(self, pending: _Pending) -> bool:
        """Write a message's WARC records; False (logged and counted) if they could not be built."""
        try:
            self._write_message_records(pending)
        except OSError:
            raise
        except Exception as exc:  # a record warcio cannot build costs that message only
            self._failed(pending.message, exc)
            return False
        return True

    def _write_message_records(self, pending: _Pending) -> None:
        message = pending.message
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
            start_site_crawl(session, self.run_id, self._site_id(session, message.domain))
        elif isinstance(message, SiteSoftwareItem):
            detection = message.detection
            self._new_site_ids[message.domain] = upsert_site(
                session, message.domain, software=detection.software, software_evidence=detection.evidence,
                tenant_code=detection.tenant_code,
            )
        elif isinstance(message, StoreCatalogue):
            if pending.page is None:
                raise LookupError(f"catalogue page {message.request_id} was never read")
            self._store_catalogue(session, pending.page)
        elif isinstance(message, SiteFinishedItem):
            finish_site_crawl(session, self.run_id, self._site_id(session, message.domain), status=message.status,
                              reason=message.reason, pages=message.pages, services=message.services,
                              details=message.details)

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

    def _store_catalogue(self, session: Session, page: CataloguePage) -> None:
        entries = page.entries or []
        site_id = self._site_id(session, page.domain)
        capture_id = self._capture_id(session, page.capture)
        stored = self._service_ids.get(page.domain, {})
        new = self._new_service_ids.setdefault(page.domain, {})
        keys = [entry.service_id for entry in entries]
        new.update(upsert_services(session, site_id, [key for key in keys if key not in stored and key not in new]))
        record_prices(session, self.run_id, page.source, [
            {"service_id": stored.get(entry.service_id) or new[entry.service_id], "capture_id": capture_id,
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
