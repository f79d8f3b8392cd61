"""A real crawl of the sandbox world: Scrapy and Chromium through the sandbox proxy, as a user runs it.

Each crawl is a `panelmap crawl` process (Scrapy's reactor runs once per
process); the sandbox serves the world from this test process.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from crawling import crawl_command, run_crawl
from warcio.archiveiterator import ArchiveIterator

from panelmap.storage import Database, read_record_payload
from panelmap.storage.models import Capture

HOSTILE_OUTCOMES = {
    "redirect_loop": "failed",
    "trickle": "failed",
    "huge_body": "failed",
    "gzip_bomb": "failed",
    "error_200": "partial",
    "malformed_html": "complete",
    "dns_servfail": "complete",
    "tls_expired": "complete",
    "tls_wrong_name": "complete",
}


def site_outcomes(database_url: str) -> dict[str, tuple[str, str | None, dict]]:
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT site.domain, site_crawl.status, site_crawl.reason, site_crawl.details FROM site_crawl "
            "JOIN site ON site.id = site_crawl.site_id WHERE site_crawl.run_id = (SELECT max(id) FROM crawl_run)"
        ).fetchall()
    return {domain: (status, reason, json.loads(details)) for domain, status, reason, details in rows}


def html_observations(database_url: str) -> dict[str, dict[str, tuple]]:
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT site.domain, service.service_key, p.rate, p.min_quantity, p.max_quantity, p.max_unlimited "
            "FROM price_observation p JOIN service ON service.id = p.service_id JOIN site ON site.id = service.site_id "
            "WHERE p.source = 'html'"
        ).fetchall()
    found: dict[str, dict[str, tuple]] = {}
    for domain, key, rate, minimum, maximum, unlimited in rows:
        found.setdefault(domain, {})[key] = (Decimal(rate), minimum, None if unlimited else maximum)
    return found


def test_crawl_recovers_the_served_catalogues_exactly(sandbox_crawl, ground_truth) -> None:
    found = html_observations(sandbox_crawl["db"])
    served = recovered = 0
    for domain in ground_truth["seeds"]:
        for entry in ground_truth["sites"][domain]["catalogue"]:
            served += 1
            got = found.get(domain, {}).get(str(entry["service_id"]))
            recovered += got == (Decimal(entry["rate"]), entry["min"], entry["max"])
    assert served > 5000
    assert recovered / served >= 0.98, f"{recovered}/{served} entries recovered exactly"


def test_every_seed_completes_with_its_software_detected(sandbox_crawl, ground_truth) -> None:
    outcomes = site_outcomes(sandbox_crawl["db"])
    software_names = {"perfectpanel": "perfect_panel", "smartpanel": "smartpanel"}
    for domain in ground_truth["seeds"]:
        status, reason, _ = outcomes[domain]
        assert status == "complete", (domain, reason)
    with Database.open(sandbox_crawl["db"]).session() as session:
        from panelmap.storage.models import Site

        detected = {site.domain: site.software for site in session.query(Site)}
    for domain in ground_truth["seeds"]:
        expected = software_names.get(ground_truth["sites"][domain]["software"])
        if expected:
            assert detected[domain] == expected, domain


def test_the_session_from_the_secrets_file_opens_add_funds_pages(sandbox_crawl, ground_truth, world) -> None:
    outcomes = site_outcomes(sandbox_crawl["db"])
    behind_sign_in = [domain for domain, site in ground_truth["sites"].items()
                      if domain in ground_truth["seeds"] and site["addfunds"]["needs_cookie"]
                      and "cookie" in world.secrets[domain]]
    assert behind_sign_in
    for domain in behind_sign_in:
        fetched = outcomes[domain][2]["pages"]["addfunds"]  # where the add-funds request ended up
        assert urlsplit(fetched).path == urlsplit(ground_truth["sites"][domain]["addfunds"]["url"]).path, domain


def test_rendered_sites_keep_raw_response_dom_and_screenshots(sandbox_crawl, ground_truth) -> None:
    xhr_sites = [d for d in ground_truth["seeds"] if ground_truth["sites"][d]["render_required"]]
    assert xhr_sites
    with Database.open(sandbox_crawl["db"]).session() as session:
        from panelmap.storage.models import Site

        for domain in xhr_sites:
            site_id = session.query(Site.id).filter_by(domain=domain).scalar()
            captures = session.query(Capture).filter_by(site_id=site_id).all()
            kinds = {capture.kind for capture in captures}
            assert {"response", "dom", "screenshot"} <= kinds, (domain, kinds)
            for capture in captures:
                if capture.kind == "screenshot":
                    assert read_record_payload(capture.warc_file, capture.warc_offset).startswith(b"\x89PNG")
                if capture.kind == "dom":
                    parent = session.get(Capture, capture.parent_id)
                    assert parent is not None and parent.kind == "response"


def test_api_v2_catalogue_is_stored_beside_the_page(sandbox_crawl, ground_truth) -> None:
    outcomes = site_outcomes(sandbox_crawl["db"])
    path = sandbox_crawl["db"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        api_counts = dict(connection.execute(
            "SELECT site.domain, count(*) FROM price_observation p JOIN service ON service.id = p.service_id "
            "JOIN site ON site.id = service.site_id WHERE p.source = 'api' GROUP BY site.domain"
        ).fetchall())
    for domain in ground_truth["seeds"]:
        _, _, details = outcomes[domain]
        assert details["api_key_check"] == "ok", domain
        assert api_counts[domain] == len(ground_truth["sites"][domain]["catalogue"]), domain
        assert details["reconciliation"]["disagreements"] == 0 if "reconciliation" in details else True


def test_api_without_a_key_is_not_called_and_says_so(sandbox, ground_truth, tmp_path) -> None:
    domain = ground_truth["seeds"][0]
    database_url = f"sqlite:///{tmp_path / 'nokey.db'}"
    run_crawl(database_url, tmp_path / "captures", sandbox, [domain], "--render", "never")
    _, _, details = site_outcomes(database_url)[domain]
    assert details["api"] == "no API key in the secrets file"
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        assert connection.execute("SELECT count(*) FROM price_observation WHERE source = 'api'").fetchone() == (0,)
        urls = [row[0] for row in connection.execute("SELECT url FROM capture")]
    assert not any("/api/v" in url for url in urls)


def test_wrong_api_key_is_recorded_not_fatal(sandbox, ground_truth, tmp_path) -> None:
    domain = ground_truth["seeds"][0]
    secrets = tmp_path / "wrong.toml"
    secrets.write_text(f'["{domain}"]\napi_key = "not-the-right-key-123"\n')
    database_url = f"sqlite:///{tmp_path / 'wrongkey.db'}"
    run_crawl(database_url, tmp_path / "captures", sandbox, [domain], "--render", "never", "--secrets", str(secrets))
    status, _, details = site_outcomes(database_url)[domain]
    assert status == "complete"  # the page catalogue is still there
    assert details["api_key_check"].startswith("error: ")
    assert details["api"].startswith("error: ")


def _all_bytes(paths) -> bytes:
    chunks = []
    for path in paths:
        data = path.read_bytes()
        chunks.append(data)
        if path.name.endswith(".gz"):
            chunks.append(gzip.decompress(data))
    return b"".join(chunks)


def test_secrets_reach_no_capture_log_or_database(sandbox_crawl, world) -> None:
    secrets = [value for site in world.secrets.values() for value in site.values()]
    secrets += [part.split("=", 1)[1] for site in world.secrets.values() if "cookie" in site
                for part in site["cookie"].split("; ")]
    assert secrets
    warc_bytes = _all_bytes((sandbox_crawl["path"] / "captures").rglob("*.warc.gz"))
    database_bytes = _all_bytes(sandbox_crawl["path"].glob("panelmap.db*"))
    log_bytes = (sandbox_crawl["result"].stdout + sandbox_crawl["result"].stderr).encode()
    assert b"[REDACTED]" in warc_bytes  # the keys were sent, and replaced in the records
    for secret in secrets:
        for haystack, where in ((warc_bytes, "WARC"), (database_bytes, "database"), (log_bytes, "log")):
            assert secret.encode() not in haystack, f"a secret reached the {where}"


def test_no_console_that_runs_code_opens_during_a_crawl(sandbox_crawl) -> None:
    """A crawl holds the sites' keys and cookies: neither Scrapy's telnet console nor its
    remote control (which runs code sent to it over HTTP) may listen."""
    log = sandbox_crawl["result"].stderr
    assert "Enabled extensions" in log  # Scrapy lists them at -vv
    assert "RemoteControl" not in log and "TelnetConsole" not in log
    assert "listening on port" not in log


def test_warc_files_are_valid_and_every_capture_points_at_its_record(sandbox_crawl) -> None:
    files = sorted((sandbox_crawl["path"] / "captures").rglob("*.warc.gz"))
    assert files
    for path in files:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
    with Database.open(sandbox_crawl["db"]).session() as session:
        captures = session.query(Capture).all()
        for capture in captures[:: max(1, len(captures) // 60)]:
            with open(capture.warc_file, "rb") as handle:
                handle.seek(capture.warc_offset)
                record = next(iter(ArchiveIterator(handle)))
                assert record.rec_headers.get_header("WARC-Record-ID") == capture.warc_record_id


@pytest.mark.parametrize("kind,expected", sorted(HOSTILE_OUTCOMES.items()))
def test_hostile_corner_costs_only_its_own_site(sandbox_crawl, ground_truth, kind: str, expected: str) -> None:
    [domain] = [d for d, corner in ground_truth["hostile"].items() if corner["kind"] == kind]
    status, reason, _ = site_outcomes(sandbox_crawl["db"])[domain]
    assert status == expected, (domain, reason)
    if expected != "complete":
        assert reason


def test_the_whole_crawl_never_hangs(sandbox_crawl) -> None:
    # Every corner is bounded by its own limit (5 s timeout, 1 retry, size caps), not by the test's timeout.
    assert sandbox_crawl["seconds"] < 300


def services_listing(database_url: str) -> list[tuple]:
    result = subprocess.run([sys.executable, "-m", "panelmap", "--db", database_url, "services", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return sorted((row["site"], row["service_id"], row["source"], row["rate"], row["min"], row["max"])
                  for row in json.loads(result.stdout))


def table_counts(database_url: str) -> dict[str, int]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("site", "service", "price_observation", "capture")}


def wait_for_rows(database_url: str, table: str, more_than: int, timeout: float = 120) -> None:
    """Until the crawl writing `database_url` has stored more than `more_than` rows of `table`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            if table_counts(database_url)[table] > more_than:
                return
        except sqlite3.OperationalError:
            continue  # schema not created yet


def process_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's parent here may never reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_killed_crawl_loses_nothing_and_a_rerun_completes_it(sandbox, ground_truth, secrets_file, tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path / 'killed.db'}"
    seeds = ground_truth["seeds"]
    process = subprocess.Popen(crawl_command(database_url, tmp_path / "captures", sandbox, seeds, "--secrets",
                                             str(secrets_file), "--render", "never"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_rows(database_url, "price_observation", 500)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Its storage process stores what it had received, then leaves on its own.
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        storage_pid = json.loads(connection.execute("SELECT stats FROM crawl_run").fetchone()[0])["storage_pid"]
    deadline = time.monotonic() + 60
    while process_running(storage_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_running(storage_pid)
    before = table_counts(database_url)
    assert before["price_observation"] > 0

    # Everything already stored is readable: every capture row points at a whole record.
    with Database.open(database_url).session() as session:
        for capture in session.query(Capture):
            read_record_payload(capture.warc_file, capture.warc_offset)

    run_crawl(database_url, tmp_path / "captures", sandbox, seeds, "--secrets", str(secrets_file),
              "--render", "never")
    after = table_counts(database_url)
    assert after["price_observation"] >= before["price_observation"]  # the killed run's rows are kept
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        statuses = dict(connection.execute("SELECT id, status FROM crawl_run").fetchall())
    assert statuses == {1: "interrupted", 2: "finished"}
    outcomes = site_outcomes(database_url)
    assert all(outcome[0] == "complete" for outcome in outcomes.values())

    # A second full run gives the same catalogue and no duplicated sites or services.
    run_crawl(database_url, tmp_path / "captures", sandbox, seeds, "--secrets", str(secrets_file),
              "--render", "never")
    again = table_counts(database_url)
    assert (again["site"], again["service"]) == (after["site"], after["service"])
    listing = services_listing(database_url)
    assert listing and len(listing) == len(set((row[0], row[1], row[2]) for row in listing))


def test_scrapy_users_can_run_the_same_spider(sandbox, ground_truth, tmp_path) -> None:
    repository = Path(__file__).resolve().parent.parent
    listing = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=repository, capture_output=True,
                             text=True, timeout=120)
    assert listing.stdout.split() == ["panel"]
    domain = ground_truth["seeds"][1]
    database = tmp_path / "scrapy.db"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "panel", "-a", f"seeds={domain}", "-s",
         f"PANELMAP_PROXY={sandbox.proxy_url}", "-s", f"PANELMAP_DATABASE_URL=sqlite:///{database}", "-s",
         f"PANELMAP_WARC_DIR={tmp_path / 'captures'}", "-s", "PANELMAP_RENDER=never", "-s", "LOG_LEVEL=ERROR"],
        cwd=repository, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    status, _, _ = site_outcomes(f"sqlite:///{database}")[domain]
    assert status == "complete"
    assert len(html_observations(f"sqlite:///{database}")[domain]) == len(ground_truth["sites"][domain]["catalogue"])


def test_panels_for_one_site_shows_its_enriched_infrastructure(sandbox_crawl, ground_truth) -> None:
    domain = "justanotherpanel.com"
    result = subprocess.run([sys.executable, "-m", "panelmap", "--db", sandbox_crawl["db"], "panels", "--site", domain,
                             "--format", "json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    hosting = ground_truth["sites"][domain]["hosting"]
    assert set(hosting["ipv4"]) <= set(row["ips"])
    assert {network["asn"] for network in hosting["networks"]} == {asn["number"] for asn in row["asns"]}
    assert sorted(row["ns"]) == sorted(hosting["ns"])
    assert row["abuse_contacts"]
    assert row["certificate"]["sha256"] == ground_truth["certificates"][domain]["sha256"].replace(":", "").lower()
    served = {(payment["host"], payment["identifier"]) for payment in ground_truth["sites"][domain]["payments"]}
    found = {(payment["host"], payment["identifier"]) for payment in row["payments"]}
    assert served <= found


def test_a_crawl_into_postgresql_stores_what_sqlite_does(sandbox_crawl, ground_truth, sandbox, secrets_file,
                                                          postgres_url, tmp_path) -> None:
    seeds = ground_truth["seeds"][:4]  # upstreams and resellers, HTML and API
    run_crawl(postgres_url, tmp_path / "captures", sandbox, seeds, "--secrets", str(secrets_file),
              "--render", "never", "--no-enrich")
    listing = services_listing(postgres_url)
    assert {row[0] for row in listing} == set(seeds)
    assert listing == [row for row in services_listing(sandbox_crawl["db"]) if row[0] in seeds]
    with Database.open(postgres_url).session() as session:
        captures = session.query(Capture).filter(Capture.kind == "response").all()
        assert captures and all(capture.site_id is not None for capture in captures)
        for capture in captures[:20]:
            read_record_payload(capture.warc_file, capture.warc_offset)


def test_ctrl_c_stops_the_crawl_in_order_and_says_so(sandbox, ground_truth, secrets_file, tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path / 'stopped.db'}"
    process = subprocess.Popen(crawl_command(database_url, tmp_path / "captures", sandbox, ground_truth["seeds"],
                                             "--secrets", str(secrets_file), "--render", "never", "--concurrency", "1"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_rows(database_url, "capture", 5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "stopped early (shutdown)" in stderr.strip().splitlines()[-1]
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        status, stats = connection.execute("SELECT status, stats FROM crawl_run").fetchone()
        lookups = connection.execute("SELECT count(*) FROM dns_observation").fetchone()[0]
    assert status == "interrupted" and lookups == 0  # stopped means stopped: no enrichment after it
    assert json.loads(stats)["storage"]["failed_messages"] == 0
    assert json.loads(stats)["max_rss_mib"] > 50  # the crawl process's own peak, recorded at the end
    assert not process_running(json.loads(stats)["storage_pid"])
    assert table_counts(database_url)["capture"] > 5


def test_a_crawl_whose_storage_fails_stops_and_says_so(sandbox, ground_truth, tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path / 'broken.db'}"
    database = Database.open(database_url)
    database.upgrade()
    with database.engine.begin() as connection:  # a schema gone wrong under the crawl's feet
        connection.exec_driver_sql("DROP TABLE price_observation")
    database.dispose()
    result = subprocess.run(crawl_command(database_url, tmp_path / "captures", sandbox, ground_truth["seeds"],
                                          "--render", "never", "--no-enrich"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "stopped early (storage_failed)" in result.stderr.strip().splitlines()[-1]
    assert "storage stopped: OperationalError" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        status, stats = connection.execute("SELECT status, stats FROM crawl_run").fetchone()
    assert status == "interrupted" and json.loads(stats)["storage"]["failure"]


@pytest.mark.parametrize(("seed", "first", "later", "sent"), [
    ("example.com", "https://example.com/", "https://www.example.com/addfunds", True),
    ("www.shop.io", "https://www.shop.io/", "https://shop.io/services", True),
    ("127.0.0.1", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/addfunds", True),
    ("example.com", "https://example.com/", "https://cdn.example.net/favicon.ico", False),
])
def test_the_session_cookie_reaches_the_site_and_no_other_host(seed, first, later, sent) -> None:
    from scrapy import Request
    from scrapy.downloadermiddlewares.cookies import CookiesMiddleware

    from panelmap.spiders.panel import PanelSpider
    from panelmap.spiders.secrets import Secrets, SiteSecrets

    class Spider(PanelSpider):
        secrets = Secrets({seed: SiteSecrets(cookie="PHPSESSID=s3ss10n; csrf=t0k3n")})

    cookies = CookiesMiddleware()
    home = Request(first, cookies=Spider(seeds=seed)._session_cookies(seed))
    cookies.process_request(home)
    page = Request(later)
    cookies.process_request(page)
    assert home.headers.get("Cookie") == b"PHPSESSID=s3ss10n; csrf=t0k3n"
    assert page.headers.get("Cookie") == (b"PHPSESSID=s3ss10n; csrf=t0k3n" if sent else None)
