"""Domain registration by RDAP: registrar, creation date and registrar abuse contact from a
server that serves domains, and a clean "unavailable" from one that does not (the sandbox's)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from enrich_support import enrich, new_run, sandbox_settings
from panelmap.enrich.base import EnrichmentSettings
from panelmap.enrich.registration import Registration, RegistrationEnricher, parse_domain
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database, read_record_payload
from panelmap.storage.models import Capture, Fingerprint
from sandbox_tiny import tiny_world

pytestmark = pytest.mark.timeout(60)

SAVED = Path(__file__).parent / "enrich_pages" / "rdap_domain.json"


class DomainRdap(BaseHTTPRequestHandler):
    """Serves the saved domain object for boostking.example, 404 for any other name."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        found = self.path.lower() == "/domain/boostking.example"
        body = SAVED.read_bytes() if found else json.dumps({"errorCode": 404, "title": "Not Found"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def domain_rdap() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), DomainRdap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def registration_rows(database: Database, run_id: int) -> dict[str, set[str]]:
    with database.session() as session:
        rows = session.execute(select(Fingerprint.kind, Fingerprint.value).where(Fingerprint.run_id == run_id)).all()
    found: dict[str, set[str]] = {}
    for kind, value in rows:
        found.setdefault(kind, set()).add(value)
    return found


def test_saved_domain_object() -> None:
    assert parse_domain(json.loads(SAVED.read_text())) == Registration("NameCheap, Inc.", "2019-03-14",
                                                                        ["abuse@namecheap.com"])


def test_registrar_date_and_abuse_contact_are_stored_against_the_answer(domain_rdap: str, database: Database,
                                                                         tmp_path: Path) -> None:
    run_id = new_run(database)
    settings = EnrichmentSettings(resolver="127.0.0.1:9", rdap_url=domain_rdap)
    for _ in range(2):  # idempotent
        stats = enrich(database, run_id, ["boostking.example"], settings, tmp_path, enrichers=[RegistrationEnricher])
        assert not stats.failures and stats.observations["registration"] == 3
    assert registration_rows(database, run_id) == {
        "registrar": {"NameCheap, Inc."}, "registered_on": {"2019-03-14"}, "registrar_abuse": {"abuse@namecheap.com"}}
    with database.session() as session:
        capture_ids = set(session.scalars(select(Fingerprint.capture_id).where(Fingerprint.run_id == run_id)))
        capture = session.get(Capture, capture_ids.pop())
    assert not capture_ids
    assert (capture.kind, capture.url, capture.http_status) == ("rdap", f"{domain_rdap}/domain/boostking.example", 200)
    assert read_record_payload(capture.warc_file, capture.warc_offset) == SAVED.read_bytes()


def test_unknown_domain_is_unavailable_not_a_failure(domain_rdap: str, database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    stats = enrich(database, run_id, ["other.example"], EnrichmentSettings(resolver="127.0.0.1:9", rdap_url=domain_rdap),
                   tmp_path, enrichers=[RegistrationEnricher])
    assert not stats.failures and stats.counters["registration_unavailable"] == 1
    assert registration_rows(database, run_id) == {}


def test_sandbox_rdap_serves_no_domains_and_that_is_recorded(database: Database, tmp_path: Path) -> None:
    with Sandbox(tiny_world(), tmp_path / "sandbox") as sb:
        run_id = new_run(database)
        stats = enrich(database, run_id, ["shop.example"], sandbox_settings(sb), tmp_path,
                       enrichers=[RegistrationEnricher])
    assert not stats.failures and stats.counters["registration_unavailable"] == 1
    with database.session() as session:
        capture = session.execute(select(Capture).where(Capture.run_id == run_id)).scalar_one()
    assert (capture.kind, capture.url, capture.http_status) == ("rdap", f"{sb.rdap_url}/domain/shop.example", 400)
    assert registration_rows(database, run_id) == {}
