"""Payment endpoints: the parser on saved add-funds and checkout pages, and the enricher
storing what it found against the capture that showed it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from enrich_support import crawl_pages, enrich, new_run
from panelmap.enrich.base import EnrichmentSettings
from panelmap.enrich.payments import PaymentFinding, PaymentsEnricher, extract_payments
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database, WarcFileWriter, record_capture, upsert_site
from panelmap.storage.models import PaymentEndpoint, Site

PAGES = Path(__file__).parent / "enrich_pages"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)

ADDFUNDS_EXPECTED = [
    PaymentFinding("payeer", "1843257790", "payeer.com", "https://payeer.com/merchant/"),
    PaymentFinding("perfect_money", "U22113344", "perfectmoney.is", "https://perfectmoney.is/api/step1.asp"),
    PaymentFinding("coinpayments", "6f1d2c3b4a5968778695a4b3c2d1e0f9", "www.coinpayments.net",
                   "https://www.coinpayments.net/index.php"),
    PaymentFinding("paypal", "AZx9kLmPq-2_rT7vWn4YbC0dEfGhIjKlMnOpQrStUvWxYz012345678", "www.paypal.com"),
    PaymentFinding("mastercard_gateway", "BOBSAL40718293", "bobsal.gateway.mastercard.com"),
    PaymentFinding("cryptomus", "0c5e7a9b-13d2-4f6a-a8b1-2c3d4e5f6a7b", "pay.cryptomus.com",
                   "https://pay.cryptomus.com/pay/0c5e7a9b-13d2-4f6a-a8b1-2c3d4e5f6a7b"),
    PaymentFinding("stripe", "pk_live_51Hq2ZxKd8TbLw3mNpQrStUvWxYz0123456789AbCdEfGh", "js.stripe.com"),
    PaymentFinding("crypto", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", crypto_network="BTC"),
    PaymentFinding("crypto", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", crypto_network="BTC"),
    PaymentFinding("crypto", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", crypto_network="TRC20"),
    # "BEP20" is mentioned after it, but its own label says ERC20.
    PaymentFinding("crypto", "0xdAC17F958D2ee523a2206206994597C13D831ec7", crypto_network="ERC20"),
]


def test_perfect_panel_addfunds_page_gives_every_rail_and_no_decoy() -> None:
    html = (PAGES / "addfunds_perfectpanel.html").read_text()
    assert extract_payments(html, "https://boostking.example/addfunds") == ADDFUNDS_EXPECTED


def test_checkout_page_legacy_paypal_regional_gateway_and_other_chains() -> None:
    html = (PAGES / "checkout_shop.html").read_text()
    assert extract_payments(html, "https://followershop.example/checkout") == [
        PaymentFinding("paypal", "payments@followershop.example", "www.paypal.com",
                       "https://www.paypal.com/cgi-bin/webscr"),
        PaymentFinding("mastercard_gateway", "", "ap-gateway.mastercard.com"),
        PaymentFinding("crypto", "LKKHMBjCU89fyFNgSRprDoD8Jb25N8uWvd", crypto_network="LTC"),
        PaymentFinding("crypto", "0x55d398326f99059fF775485246999027B3197955", crypto_network="BEP20"),
    ]


def test_scripts_alone_show_only_the_rails_their_urls_name() -> None:
    head = (PAGES / "addfunds_perfectpanel.html").read_text().split("<body>")[0] + "</html>"
    # Stripe.js without a publishable key names no account; the Mastercard script names its acquirer.
    assert extract_payments(head, "https://boostking.example/") == [
        PaymentFinding("paypal", "AZx9kLmPq-2_rT7vWn4YbC0dEfGhIjKlMnOpQrStUvWxYz012345678", "www.paypal.com"),
        PaymentFinding("mastercard_gateway", "", "bobsal.gateway.mastercard.com"),
    ]
    assert extract_payments("<html><body><p>Pay us on WhatsApp</p></body></html>", "https://x.example/") == []


def test_bare_ampersand_in_a_script_url_is_kept_as_written() -> None:
    # `&currency` must not become the legacy entity `&curren;` ("¤") glued to the client id.
    html = '<script src="https://www.paypal.com/sdk/js?client-id=AbC-123_x&currency=USD&intent=capture"></script>'
    assert extract_payments(html, "https://x.example/addfunds") == [PaymentFinding("paypal", "AbC-123_x", "www.paypal.com")]


def store_page(database: Database, run_id: int, url: str, html: str, directory: Path) -> int:
    with WarcFileWriter(directory, "crawl") as writer, database.session() as session:
        site_id = upsert_site(session, "boostking.example")
        written = writer.write_response(url, 200, "OK", [("Content-Type", "text/html; charset=utf-8")],
                                        html.encode(), at=NOW)
        return record_capture(session, run_id, "response", url, written, site_id=site_id, final_url=url,
                              http_status=200, content_type="text/html; charset=utf-8", fetched_at=NOW)


def test_enricher_stores_each_rail_once_against_its_capture(database: Database, tmp_path: Path) -> None:
    run_id = new_run(database)
    html = (PAGES / "addfunds_perfectpanel.html").read_text()
    addfunds = store_page(database, run_id, "https://boostking.example/addfunds", html, tmp_path)
    store_page(database, run_id, "https://boostking.example/addfunds?page=2", html, tmp_path)  # same rails again
    store_page(database, run_id, "https://boostking.example/services", html, tmp_path)  # not a payment page
    settings = EnrichmentSettings(resolver="127.0.0.1:9")
    for _ in range(2):  # a second pass over the run changes nothing
        stats = enrich(database, run_id, ["boostking.example"], settings, tmp_path, enrichers=[PaymentsEnricher])
        assert not stats.failures and stats.observations["payments"] == len(ADDFUNDS_EXPECTED)
    with database.session() as session:
        rows = session.scalars(select(PaymentEndpoint).where(PaymentEndpoint.run_id == run_id)).all()
    assert sorted((r.processor, r.identifier, r.host, r.form_action, r.crypto_network) for r in rows) == sorted(
        (f.processor, f.identifier, f.host, f.form_action, f.crypto_network) for f in ADDFUNDS_EXPECTED)
    assert {row.capture_id for row in rows} == {addfunds}


@pytest.mark.parametrize("path", ["/addfunds", "/add_funds", "/add-funds", "/checkout", "/deposit?method=3"])
def test_payment_pages_are_found_by_path(database: Database, tmp_path: Path, path: str) -> None:
    run_id = new_run(database)
    store_page(database, run_id, f"https://boostking.example{path}", (PAGES / "checkout_shop.html").read_text(), tmp_path)
    stats = enrich(database, run_id, ["boostking.example"], EnrichmentSettings(resolver="127.0.0.1:9"), tmp_path,
                   enrichers=[PaymentsEnricher])
    assert stats.observations["payments"] == 4


# The sandbox's ground truth names two processors the way its page generator does.
PROCESSOR = {"perfectmoney": "perfect_money", "mastercard": "mastercard_gateway"}


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(generate_world(seed=1), tmp_path_factory.mktemp("sandbox")) as box:
        yield box


def test_every_panel_sites_payment_rails_are_recovered(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    truth = {domain: site for domain, site in json.loads(sb.ground_truth_path.read_text())["sites"].items()
             if site.get("payments")}
    run_id = new_run(database)
    pages = {domain: [urlsplit(site["addfunds"]["url"]).path] for domain, site in truth.items()}
    cookies = {domain: sb.world.secrets[domain]["cookie"] for domain, site in truth.items()
               if site["addfunds"]["needs_cookie"]}
    crawl_pages(database, run_id, sb, pages, tmp_path, cookies=cookies)
    stats = enrich(database, run_id, list(truth), EnrichmentSettings(resolver="127.0.0.1:9"), tmp_path,
                   enrichers=[PaymentsEnricher])
    assert not stats.failures
    with database.session() as session:
        rows = session.execute(
            select(Site.domain, PaymentEndpoint.processor, PaymentEndpoint.identifier, PaymentEndpoint.host,
                   PaymentEndpoint.crypto_network)
            .join(Site, Site.id == PaymentEndpoint.site_id).where(PaymentEndpoint.run_id == run_id)
        ).all()
    found = {(domain, processor, identifier, host, network) for domain, processor, identifier, host, network in rows}
    expected = {(domain, PROCESSOR.get(p["processor"], p["processor"]), p["identifier"], p["host"], p.get("network"))
                for domain, site in truth.items() for p in site["payments"]}
    assert found == expected  # every rail of every site, and nothing else
    assert len(truth) >= 20
