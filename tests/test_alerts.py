"""Alerts: a JSONL file and a webhook on a loopback receiver; a dead webhook never stops a job."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import pytest

from panelmap.alerts import AlertTargets, WebhookPolicy, check_webhook_url, deliver_alerts, redact_webhook
from panelmap.scheduler import JobRequest, Scheduler
from panelmap.schedules import Recurrence, add_schedule
from panelmap.storage import Database, upsert_site
from panelmap.storage.models import CrawlRun, Job, SiteCrawl

FAST = WebhookPolicy(budget=3.0, attempt_timeout=1.0, attempts=4, backoff=0.05)
PAYLOAD = {"schedule": "nightly", "job_id": 7, "run_id": 3,
           "changes": [{"site": "panel.example", "kind": "price", "summary": "1 USD -> 1.1 USD (+10.00%)"}]}


class Receiver:
    """A webhook on 127.0.0.1 that keeps what it was sent; the first `failures` requests get a 503."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(503)
                else:
                    receiver.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T0K3N"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def test_the_webhook_gets_the_alert_and_the_file_a_line_per_change(receiver: Receiver, tmp_path: Path) -> None:
    targets = AlertTargets(jsonl=tmp_path / "alerts" / "changes.jsonl", webhook=receiver.url)
    assert deliver_alerts(targets, PAYLOAD, policy=FAST) == {"jsonl": "appended 1", "webhook": "delivered"}
    assert receiver.bodies == [PAYLOAD]
    deliver_alerts(AlertTargets(jsonl=targets.jsonl), PAYLOAD)
    lines = [json.loads(line) for line in targets.jsonl.read_text().splitlines()]
    assert len(lines) == 2 and lines[0] == {"schedule": "nightly", "job_id": 7, "run_id": 3, **PAYLOAD["changes"][0]}


def test_a_failing_webhook_is_retried_with_backoff() -> None:
    with Receiver(failures=2) as flaky:
        assert deliver_alerts(AlertTargets(webhook=flaky.url), PAYLOAD, policy=FAST) == {
            "webhook": "delivered after 3 attempts"}
        assert flaky.bodies == [PAYLOAD]


def test_a_dead_webhook_fails_within_its_budget_without_raising() -> None:
    started = time.monotonic()
    outcome = deliver_alerts(AlertTargets(webhook=f"http://127.0.0.1:{closed_port()}/hook"), PAYLOAD, policy=FAST)
    assert time.monotonic() - started < FAST.budget + FAST.attempt_timeout
    assert outcome["webhook"].startswith("failed: ") and "refused" in outcome["webhook"].lower()


def test_webhook_urls_are_checked_and_never_shown_whole() -> None:
    assert check_webhook_url("https://hooks.example/services/T0K3N") == "https://hooks.example/services/T0K3N"
    with pytest.raises(ValueError):
        check_webhook_url("ftp://hooks.example/x")
    assert redact_webhook("https://user:pw@hooks.example:8443/services/T0K3N?x=1") == "https://hooks.example:8443/…"


@pytest.mark.parametrize("webhook", ["live", "dead"])
def test_a_scheduled_job_alerts_and_a_dead_webhook_does_not_stop_it(webhook: str, receiver: Receiver,
                                                                    tmp_path: Path) -> None:
    database = Database.open(f"sqlite:///{tmp_path / 'panelmap.db'}")
    database.upgrade()
    url = receiver.url if webhook == "live" else f"http://127.0.0.1:{closed_port()}/hook"
    alerts = AlertTargets(jsonl=tmp_path / "alerts.jsonl", webhook=url)
    with database.session() as session:
        add_schedule(session, "nightly", ["panel.example"], Recurrence.parse(every="1d"), alerts=alerts.as_options(),
                     now=datetime(2024, 6, 15, tzinfo=UTC))

    def crawl(request: JobRequest, cancel: threading.Event) -> str | None:
        with database.session() as session:
            run = CrawlRun(job_id=request.job_id, status="finished")
            session.add(run)
            session.flush()
            session.add(SiteCrawl(run_id=run.id, site_id=upsert_site(session, "panel.example"), status="complete"))
        return None

    [job_id] = Scheduler(database, runner=crawl, log_dir=tmp_path, webhook_policy=FAST).run_due()
    with database.session() as session:
        job = session.get_one(Job, job_id)
    assert job.status == "succeeded" and job.counts["changes"] == 1
    assert job.counts["alerts"]["jsonl"] == "appended 1"
    [line] = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert (line["schedule"], line["job_id"], line["site"], line["kind"], line["change"]) == (
        "nightly", job_id, "panel.example", "site", "new")
    if webhook == "live":
        assert job.counts["alerts"]["webhook"] == "delivered"
        assert receiver.bodies[0]["changes"][0]["site"] == "panel.example"
    else:
        assert job.counts["alerts"]["webhook"].startswith("failed: ")
        assert "failed: " in Path(job.log_path).read_text()
    database.dispose()
