"""The crawl's storage process: order, capture ids, batches, redaction, and what happens when it dies."""

from __future__ import annotations

import gzip
import os
import signal
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from panelmap.spiders.crawl_items import (
    CatalogueItem,
    PageRendered,
    ResponseCaptured,
    SiteFinishedItem,
    SiteStarted,
)
from panelmap.spiders.items import CatalogueEntry
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


def catalogue(domain: str, capture: str | None, *service_ids: str) -> CatalogueItem:
    entries = [CatalogueEntry(service_id=service_id, name=f"Spotify Plays {service_id}", rate=Decimal("0.90"),
                              rate_text="0.90", currency="EUR", min_quantity=100, max_quantity=10000)
               for service_id in service_ids]
    return CatalogueItem(domain, "api", f"https://{domain}/api/v2", capture, entries)


def test_the_storage_process_stores_in_order_with_capture_ids_and_no_secrets(database_url, tmp_path) -> None:
    database = Database.open(database_url)
    database.upgrade()
    run_id = new_run(database)
    writer = StorageProcess(WriterConfig(
        database_url=database_url, run_id=run_id, warc_directory=str(tmp_path / "warc"), warc_prefix="test",
        software="panelmap-test", secret_values=[API_KEY], usd_rates=RateTable.from_setting().as_strings(),
    ))
    response = home_page("a.example")
    rendered = PageRendered(record_id=new_record_id(), domain="a.example", url="https://a.example/services",
                            final_url="https://a.example/services", status=200, dom=b"<html>rendered</html>",
                            raw_record_id=response.record_id, fetched_at=AT,
                            screenshots=[(new_record_id(), b"\x89PNG fake")])
    for message in (SiteStarted("a.example"), response, catalogue("a.example", response.record_id, "1", "2"),
                    rendered, SiteFinishedItem("a.example", "complete", None, pages=2, services=2)):
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


def test_a_message_that_cannot_be_stored_costs_only_itself(database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    with WarcFileWriter(tmp_path, "test", redactor=SecretRedactor()) as warc:
        writer = CrawlWriter(database, run_id, warc, RateTable.from_setting())
        response = home_page("a.example")
        writer.apply([
            SiteStarted("a.example"), response,
            SiteFinishedItem("never-started.example", "complete", None, pages=1, services=0),  # no run record to end
            catalogue("a.example", response.record_id, "7"),
        ])
    assert (writer.counts["messages"], writer.counts["failed_messages"], writer.counts["captures"]) == (4, 1, 1)
    with database.session() as session:
        [price] = session.scalars(select(PriceObservation)).all()
        assert price.capture_id == session.scalar(select(Capture.id))
        assert session.scalars(select(SiteCrawl.status)).all() == ["running"]


def test_the_crawl_learns_that_the_storage_process_died(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    database = Database.open(database_url)
    database.upgrade()
    writer = StorageProcess(WriterConfig(
        database_url=database_url, run_id=new_run(database), warc_directory=str(tmp_path / "warc"),
        warc_prefix="test", software="panelmap-test", secret_values=[],
    ))
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(StorageError, match="stopped"):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            writer.send(SiteStarted("a.example"))
            time.sleep(0.05)
    with pytest.raises(StorageError, match="failed"):
        writer.close()
    database.dispose()


def test_sends_wait_while_the_backlog_of_bodies_is_full(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    database = Database.open(database_url)
    database.upgrade()
    writer = StorageProcess(WriterConfig(
        database_url=database_url, run_id=new_run(database), warc_directory=str(tmp_path / "warc"),
        warc_prefix="test", software="panelmap-test", secret_values=[],
    ), backlog_bytes=1 << 20)
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
    writer = StorageProcess(WriterConfig(
        database_url=database_url, run_id=run_id, warc_directory=str(tmp_path / "warc"), warc_prefix="test",
        software="panelmap-test", secret_values=[],
    ))
    response = home_page("a.example")
    for message in (SiteStarted("a.example"), response, catalogue("a.example", response.record_id, "1")):
        writer.send(message)
    with pytest.raises(StorageError, match="failed"):
        writer.close()
    errors = capfd.readouterr().err
    assert "storage stopped: OperationalError" in errors and "Traceback" not in errors
    database.dispose()
