"""The crawl's storage process: order, capture ids, batches, redaction, and what happens when it dies."""

from __future__ import annotations

import gzip
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from panelmap.spiders.crawl_items import (
    CataloguePage,
    CatalogueRead,
    PageRendered,
    ResponseCaptured,
    SiteFinishedItem,
    SiteStarted,
    StoreCatalogue,
)
from panelmap.spiders.rates import RateTable
from panelmap.spiders.writer import CrawlWriter, StorageError, StorageProcess, WriterConfig
from panelmap.storage import Database, WarcFileWriter
from panelmap.storage.models import Capture, CrawlRun, PriceObservation, SiteCrawl
from panelmap.storage.warc import SecretRedactor, new_record_id

AT = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
API_KEY = "k3y-0f-the-investigator-42"


def new_run(database: Database) -> int:
    with database.session() as session:
        run = CrawlRun(config={}, stats={})
        session.add(run)
        session.flush()
        return run.id


def home_page(domain: str) -> ResponseCaptured:
    return ResponseCaptured(
        record_id=new_record_id(), domain=domain, url=f"https://{domain}/api/v2", final_url=f"https://{domain}/api/v2",
        method="POST", status=200, headers=[("Content-Type", "application/json")], body=b'[{"service": 1}]',
        request_headers=[("Content-Type", "application/x-www-form-urlencoded")],
        request_body=f"key={API_KEY}&action=services".encode(), fetched_at=AT, ip_address="127.0.0.1", duration_ms=3,
    )


def catalogue(domain: str, capture: str | None, *service_ids: str, rate: str = "0.90") -> CataloguePage:
    """An API v2 `services` answer listing `service_ids`, in an account whose currency is EUR."""
    body = json.dumps([{"service": service_id, "name": f"Spotify Plays {service_id}", "category": "Spotify",
                        "rate": rate, "min": "100", "max": "10000"} for service_id in service_ids])
    return CataloguePage(domain, "api", f"https://{domain}/api/v2", capture, body.encode(), {}, currency="EUR")


def services_page(domain: str, capture: str | None, *service_ids: str, rate: str = "0.90") -> CataloguePage:
    """A services page listing `service_ids` in a plain table, in EUR, with a link to its next page."""
    rows = "".join(f"<tr><td>{service_id}</td><td>Spotify Plays {service_id}</td><td>€{rate}</td><td>100</td>"
                   f"<td>10000</td></tr>" for service_id in service_ids)
    body = (f'<table><tr><th>ID</th><th>Service</th><th>Rate per 1000</th><th>Min order</th><th>Max order</th></tr>'
            f'{rows}</table><a rel="next" href="/services?page=2">Next</a>')
    return CataloguePage(domain, "html", f"https://{domain}/services", capture, body.encode(),
                         {"content-type": "text/html; charset=utf-8"})


def configured(config: WriterConfig, **options: int) -> StorageProcess:
    writer = StorageProcess(**options)
    writer.configure(config)
    return writer


def test_a_storage_process_closed_before_it_has_a_run_leaves_at_once(tmp_path: Path) -> None:
    writer = StorageProcess()  # as `run_crawl` starts it, before Scrapy sets up
    assert writer.close() == {}
    assert writer._process.exitcode == 0
    assert list(tmp_path.iterdir()) == []


def test_the_storage_process_stores_in_order_with_capture_ids_and_no_secrets(database_url, tmp_path) -> None:
    database = Database.open(database_url)
    database.upgrade()
    run_id = new_run(database)
    writer = configured(WriterConfig(
        database_url=database_url, run_id=run_id, warc_directory=str(tmp_path / "warc"), warc_prefix="test",
        software="panelmap-test", secret_values=[API_KEY], usd_rates=RateTable.from_setting().as_strings(),
    ))
    response = home_page("a.example")
    rendered = PageRendered(record_id=new_record_id(), domain="a.example", url="https://a.example/services",
                            final_url="https://a.example/services", status=200, dom=b"<html>rendered</html>",
                            raw_record_id=response.record_id, fetched_at=AT,
                            screenshots=[(new_record_id(), b"\x89PNG fake")])
    writer.send(SiteStarted("a.example"))
    writer.send(response)
    answer = writer.ask(catalogue("a.example", response.record_id, "1", "2")).result(timeout=60)
    assert (answer.service_ids, answer.error) == (["1", "2"], None)
    for message in (rendered, SiteFinishedItem("a.example", "complete", None, pages=2, services=2)):
        writer.send(message)
    report = writer.close()
    assert (report["messages"], report["captures"], report["catalogue_entries"], report["failed_messages"]) == (
        5, 3, 2, 0)

    with database.session() as session:
        captures = {capture.kind: capture for capture in session.scalars(select(Capture))}
        assert captures["response"].warc_record_id == response.record_id
        assert captures["dom"].warc_record_id == rendered.record_id
        assert captures["dom"].parent_id == captures["response"].id
        assert captures["screenshot"].parent_id == captures["dom"].id
        prices = session.scalars(select(PriceObservation)).all()
        assert {price.capture_id for price in prices} == {captures["response"].id}
        assert {price.rate_usd for price in prices} == {Decimal("0.90") * Decimal("1.08")}
        site_crawl = session.scalars(select(SiteCrawl)).one()
        assert (site_crawl.status, site_crawl.services) == ("complete", 2)
        response_capture = captures["response"]
    with open(response_capture.warc_file, "rb") as handle:
        handle.seek(response_capture.warc_offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Record-ID") == response.record_id
    everything = b"".join(gzip.decompress(path.read_bytes()) for path in (tmp_path / "warc").glob("*.warc.gz"))
    assert b"action=services" in everything and API_KEY.encode() not in everything
    database.dispose()


@contextmanager
def crawl_writer(database: Database, tmp_path: Path) -> Iterator[CrawlWriter]:
    """The storage process's writer, in this process, for a new run: WARC files go to `tmp_path`."""
    with WarcFileWriter(tmp_path, "test", redactor=SecretRedactor()) as warc:
        yield CrawlWriter(database, new_run(database), warc, RateTable.from_setting())


def read(writer: CrawlWriter, page: CataloguePage, request_id: int) -> CatalogueRead:
    page.request_id = request_id
    return writer.read(page)


def test_a_message_that_cannot_be_stored_costs_only_itself(database: Database, tmp_path: Path) -> None:
    with crawl_writer(database, tmp_path) as writer:
        response = home_page("a.example")
        read(writer, catalogue("a.example", response.record_id, "7"), 1)
        writer.apply([
            SiteStarted("a.example"), response,
            SiteFinishedItem("never-started.example", "complete", None, pages=1, services=0),  # no run record to end
            StoreCatalogue(2),  # never read
            StoreCatalogue(1),
        ])
    assert (writer.counts["messages"], writer.counts["failed_messages"], writer.counts["captures"]) == (5, 2, 1)
    with database.session() as session:
        [price] = session.scalars(select(PriceObservation)).all()
        assert price.capture_id == session.scalar(select(Capture.id))
        assert session.scalars(select(SiteCrawl.status)).all() == ["running"]


def test_storing_gives_way_while_a_catalogue_page_is_read(database: Database, tmp_path: Path) -> None:
    """The crawl waits for a page's answer, and nothing for storing: storing waits while a page is read."""
    with crawl_writer(database, tmp_path) as writer:
        storing = threading.Thread(target=writer.apply, args=([SiteStarted("a.example"), home_page("a.example")],))
        with writer.reading:  # as the reading thread holds it for each page
            storing.start()
            storing.join(0.5)
            assert storing.is_alive()
            assert not list(tmp_path.glob("*.warc.gz"))
        storing.join(60)
    assert not storing.is_alive()
    assert (writer.counts["messages"], writer.counts["captures"]) == (2, 1)


def start_writer(tmp_path: Path, **options: int) -> tuple[Database, StorageProcess]:
    """A fresh SQLite database with a run, and a storage process writing into it."""
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    database = Database.open(database_url)
    database.upgrade()
    writer = configured(WriterConfig(
        database_url=database_url, run_id=new_run(database), warc_directory=str(tmp_path / "warc"),
        warc_prefix="test", software="panelmap-test", secret_values=[],
    ), **options)
    return database, writer


def test_the_crawl_learns_that_the_storage_process_died(tmp_path: Path) -> None:
    database, writer = start_writer(tmp_path)
    os.kill(writer.pid, signal.SIGSTOP)
    unanswered = writer.ask(catalogue("a.example", None, "1"))
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(StorageError, match="stopped before reading"):
        unanswered.result(timeout=30)
    with pytest.raises(StorageError, match="stopped"):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            writer.send(SiteStarted("a.example"))
            time.sleep(0.05)
    with pytest.raises(StorageError, match="failed"):
        writer.close()
    database.dispose()


def test_sends_wait_while_the_backlog_of_bodies_is_full(tmp_path: Path) -> None:
    database, writer = start_writer(tmp_path, backlog_bytes=1 << 20)
    big = home_page("a.example")
    big.body = b"x" * (2 << 20)  # more than the pipe holds: its sender waits while the writer is stopped
    os.kill(writer.pid, signal.SIGSTOP)
    try:
        writer.send(SiteStarted("a.example"))
        writer.send(big)  # the backlog was empty: accepted
        second = threading.Thread(target=writer.send, args=(home_page("a.example"),))
        second.start()
        second.join(1.0)
        assert second.is_alive()  # waits: 2 MiB of bodies are still waiting for the writer
    finally:
        os.kill(writer.pid, signal.SIGCONT)
    second.join(30)
    assert not second.is_alive()
    assert writer.close()["captures"] == 2
    database.dispose()


def test_a_failing_database_stops_the_writer_in_one_line(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    database = Database.open(database_url)
    database.upgrade()
    run_id = new_run(database)
    with database.engine.begin() as connection:  # what a vanished table or a dead server looks like to SQLAlchemy
        connection.exec_driver_sql("DROP TABLE price_observation")
    writer = configured(WriterConfig(
        database_url=database_url, run_id=run_id, warc_directory=str(tmp_path / "warc"), warc_prefix="test",
        software="panelmap-test", secret_values=[],
    ))
    response = home_page("a.example")
    writer.send(SiteStarted("a.example"))
    writer.send(response)
    writer.ask(catalogue("a.example", response.record_id, "1")).result(timeout=60)
    with pytest.raises(StorageError, match="failed"):
        writer.close()
    errors = capfd.readouterr().err
    assert "storage stopped: OperationalError" in errors and "Traceback" not in errors
    database.dispose()


def test_catalogue_pages_are_read_then_stored_and_each_sites_two_catalogues_reconciled(
        database: Database, tmp_path: Path) -> None:
    with crawl_writer(database, tmp_path) as writer:
        answers = [read(writer, services_page("a.example", None, "1", "2"), 1),
                   read(writer, catalogue("a.example", None, "2", "3", rate="0.95"), 2)]
        assert [(answer.request_id, answer.service_ids) for answer in answers] == [(1, ["1", "2"]), (2, ["2", "3"])]
        assert answers[0].next_pages == ["https://a.example/services?page=2"]
        writer.apply([SiteStarted("a.example"), StoreCatalogue(1), StoreCatalogue(2)])
        writer.apply([SiteFinishedItem("a.example", "complete", None, pages=2, services=3)])
    with database.session() as session:
        details = session.scalars(select(SiteCrawl.details)).one()
        sources = session.execute(select(PriceObservation.source, PriceObservation.rate)).all()
    assert sorted(sources) == [("api", Decimal("0.95")), ("api", Decimal("0.95")),
                               ("html", Decimal("0.90")), ("html", Decimal("0.90"))]
    assert details["reconciliation"] == {
        "only_in_html": 1, "only_in_api": 1, "disagreements": 1,
        "examples": [{"service_id": "2", "field": "rate", "html": "0.90", "api": "0.95"}],
    }


def test_a_page_that_cannot_be_read_is_answered_with_why(database: Database, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with crawl_writer(database, tmp_path) as writer:
        refused = catalogue("a.example", None)
        refused.body = b'{"error": "Invalid API key"}'
        answers = [read(writer, refused, 1)]

        def broken_extractor(*args: object, **kwargs: object) -> None:
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setattr("panelmap.spiders.writer.read_catalogue", broken_extractor)
        answers.append(read(writer, services_page("a.example", None, "1"), 2))
        answers.append(read(writer, catalogue("a.example", None, "1"), 3))
    assert [answer.error for answer in answers] == [
        "Invalid API key", "RecursionError: maximum recursion depth exceeded",
        "RecursionError: maximum recursion depth exceeded"]
    assert all(answer.service_ids == [] for answer in answers)


def test_a_service_in_both_catalogues_is_one_service_even_when_a_batch_is_replayed(database: Database,
                                                                                   tmp_path: Path) -> None:
    """The writer remembers each open site's service ids, but only once their transaction committed."""
    from panelmap.storage.models import Service

    with crawl_writer(database, tmp_path) as writer:
        read(writer, services_page("a.example", None, "1", "2"), 1)
        read(writer, catalogue("a.example", None, "2", "3"), 2)
        # The never-read page fails the batch's transaction: the batch is replayed one message at a time.
        writer.apply([SiteStarted("a.example"), StoreCatalogue(1), StoreCatalogue(99), StoreCatalogue(2)])
        writer.apply([SiteFinishedItem("a.example", "complete", None, pages=2, services=3)])
    assert writer.counts["failed_messages"] == 1
    with database.session() as session:
        services = dict(session.execute(select(Service.service_key, Service.id)).all())
        prices = session.execute(select(PriceObservation.source, PriceObservation.service_id)).all()
    assert sorted(services) == ["1", "2", "3"]
    assert sorted(prices) == sorted([("html", services["1"]), ("html", services["2"]),
                                     ("api", services["2"]), ("api", services["3"])])
