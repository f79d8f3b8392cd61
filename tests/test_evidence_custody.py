"""The custody log and EvidencePack rows, on SQLite and PostgreSQL, around a small hand-made site."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from panelmap.evidence import custody
from panelmap.evidence.errors import EvidenceError
from panelmap.evidence.export import export_pack
from panelmap.evidence.ledger import copy_pack, record_verification
from panelmap.evidence.tsa import LocalTimestampAuthority
from panelmap.evidence.verify import verify_pack
from panelmap.storage import WarcFileWriter, record_capture, record_prices, upsert_services, upsert_site
from panelmap.storage.models import CrawlRun, CustodyEvent, EvidencePack, SiteCrawl

SITE = "tinypanel.example"
PAGE = b"""<html><head><title>Tiny panel</title></head><body><table id="service-table">
<tr><td>1</td><td>Spotify Plays [USA]</td><td>$0.90</td></tr></table></body></html>"""


def _small_site(database, folder) -> None:
    """One crawl of one page with one Spotify service, written through the storage layer."""
    now = datetime.now(timezone.utc)
    url = f"https://{SITE}/services"
    with database.session() as session, WarcFileWriter(folder, "tiny") as warc:
        run = CrawlRun(job_name="tiny", config={"PANELMAP_PROXY": "http://user:hunter22@127.0.0.1:3128"},
                       proxy="http://127.0.0.1:3128", software_version="0.1.0")
        session.add(run)
        session.flush()
        site_id = upsert_site(session, SITE, kind="panel", software="perfect_panel")
        written = warc.write_response(url, 200, "OK", [("Content-Type", "text/html")], PAGE, at=now,
                                      ip_address="185.212.40.10")
        warc.write_request(url, "GET", [("Host", SITE)], at=now, concurrent_to=written.record_id)
        capture_id = record_capture(session, run.id, "response", url, written, site_id=site_id, http_status=200,
                                    content_type="text/html", fetched_at=now, final_url=url)
        service_id = upsert_services(session, site_id, ["1"])["1"]
        record_prices(session, run.id, "html", [{
            "service_id": service_id, "capture_id": capture_id, "name": "Spotify Plays [USA]", "rate": Decimal("0.90"),
            "rate_text": "$0.90", "currency": "USD", "rate_usd": Decimal("0.90"), "platform": "spotify",
            "metric": "plays", "geo": ["US"], "min_quantity": 1000, "max_quantity": 100000, "observed_at": now,
        }])
        session.add(SiteCrawl(run_id=run.id, site_id=site_id, status="complete", pages=1, services=1,
                              finished_at=now))


def test_pack_rows_and_custody_chain_on_each_database(database, tmp_path) -> None:
    _small_site(database, tmp_path / "captures")
    key = ec.generate_private_key(ec.SECP256R1())
    with LocalTimestampAuthority() as tsa:
        result = export_pack(database, [SITE], case_id="CASE-7", operator="A. Analyst", out=tmp_path / "tiny.wacz",
                             key=key, tsa_urls=[tsa.url], tsa_certificates=tsa.certificates)
    verdict = verify_pack(result.path)
    assert verdict.ok, verdict.text()
    html = result.report_html.read_text()
    assert "No links computed" in html and "Spotify plays [USA]".lower() in html.lower()
    assert "hunter22" not in html  # a proxy password in a run's configuration is scrubbed

    with database.session() as session:
        pack = session.get(EvidencePack, result.pack_id)
        assert (pack.case_id, pack.operator, pack.sites, pack.sha256) == ("CASE-7", "A. Analyst", [SITE],
                                                                           result.sha256)
        assert pack.signature["signedData"]["hash"] == result.datapackage_hash
    assert record_verification(database, verdict, "B. Expert").problems == []
    (tmp_path / "copies").mkdir()
    assert copy_pack(database, result.path, tmp_path / "copies", "C. Clerk").problems == []
    assert (tmp_path / "copies" / "tiny.wacz").read_bytes() == result.path.read_bytes()

    with database.session() as session:
        entries = custody.load_entries(session, result.pack_id)
        rows = session.scalars(select(CustodyEvent).filter_by(pack_id=result.pack_id)
                               .order_by(CustodyEvent.sequence)).all()
    assert [entry.action for entry in entries] == ["created", "exported", "verified", "copied"]
    assert [row.sequence for row in rows] == [1, 2, 3, 4]
    assert all(row.previous_hash == (rows[index - 1].entry_hash if index else custody.GENESIS_HASH)
               for index, row in enumerate(rows))
    assert custody.chain_problems(entries) == []  # hashes recomputed from what the database gave back
    assert entries[1].details["sha256"] == result.sha256


def test_export_with_nothing_in_range_says_so(database, tmp_path) -> None:
    _small_site(database, tmp_path / "captures")
    with pytest.raises(EvidenceError, match="no captures of tinypanel.example since"):
        export_pack(database, [SITE], case_id="C", operator="A", out=tmp_path / "x.wacz",
                    key=ec.generate_private_key(ec.SECP256R1()),
                    since=datetime.now(timezone.utc) + timedelta(days=1))
    assert not (tmp_path / "x.wacz").exists()
    with database.session() as session:
        assert session.scalars(select(EvidencePack)).all() == []  # a failed export records nothing


def test_any_change_to_the_log_breaks_the_chain_and_says_where() -> None:
    first = custody.next_entry(None, "created", "A", {"case_id": "C", "sites": ["x.example"]})
    second = custody.next_entry(first, "exported", "A", {"sha256": "00" * 32})
    third = custody.next_entry(second, "verified", "B", {"verified": True})
    assert custody.chain_problems([first, second, third]) == []
    assert custody.from_jsonl(custody.to_jsonl([first, second, third])) == [first, second, third]
    edited = replace(second, details={"sha256": "11" * 32})
    assert custody.chain_problems([first, edited, third]) == ["entry 2 (exported) was altered: its hash does not match"]
    assert "entry 2 has sequence number 3" in custody.chain_problems([first, third])
    assert "entry 2 does not follow the entry before it" in custody.chain_problems([first, third])
    assert custody.database_problems([first, second], [first, second, third]) == [
        "the database log does not begin with the pack's log"]
