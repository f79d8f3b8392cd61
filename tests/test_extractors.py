"""Page extraction: saved pages against their expected output, the real price
lists of the smmpanels sample, and the number, currency, API and software rules."""

from __future__ import annotations

import csv
import html
import json
import re
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import pytest
from shared_data import SMMPANELS, require

from panelmap.spiders.extract_api import ApiFormatError, PanelApiError, parse_services
from panelmap.spiders.extract_table import Column, column_for_title, map_columns
from panelmap.spiders.extractors import extract_page, home_links, services_page
from panelmap.spiders.numbers import (
    Currency,
    currency_in_text,
    parse_average_time,
    parse_decimal,
    parse_quantities,
    resolve_currency,
    split_max,
)
from panelmap.spiders.software import detect_software

PAGES = Path(__file__).parent / "pages"





# --- saved pages --------------------------------------------------------------

SAVED = sorted(path.stem for path in PAGES.glob("*.html"))


def test_every_saved_page_has_its_expected_output():
    assert SAVED and all((PAGES / f"{name}.json").is_file() for name in SAVED)


@pytest.mark.parametrize("name", SAVED)
def test_saved_page(name):
    expected = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    body = (PAGES / f"{name}.html").read_bytes()
    url = expected["url"]
    assert asdict(detect_software(url, body)) == expected["software"]
    if "extraction" in expected:
        assert extract_page(url, body).to_dict() == expected["extraction"]
    if "services_links" in expected:
        assert home_links(url, body).services == expected["services_links"]
    if "side_pages" in expected:
        links = home_links(url, body)
        assert (links.side_pages, links.favicon) == (expected["side_pages"], expected["favicon"])


def test_home_links_take_the_icon_and_side_pages_from_links_or_text():
    page = b"""<html><head><base href="https://shop.example/en/"><link rel="Shortcut Icon" href="img/fav.png"></head>
    <body><a href="addfunds">Wallet</a> <a href="/help"> Support </a> <a href="https://other.example/terms">Terms</a>
    <a href="/legal/TOS/">Rules</a></body></html>"""
    links = home_links("https://shop.example/", page)
    assert links.favicon == "https://shop.example/en/img/fav.png"
    assert links.side_pages == {
        "api_docs": ["https://shop.example/api"], "addfunds": ["https://shop.example/en/addfunds"],
        "terms": ["https://shop.example/legal/TOS/"], "contact": ["https://shop.example/help"],
    }


def test_page_kinds_are_chosen_by_markup():
    kinds = {name: services_page("https://x.example/services", (PAGES / f"{name}.html").read_bytes()).kind
             for name in ("perfectpanel_classic", "perfectpanel_constructor", "smartpanel", "generic_table")}
    assert kinds == {"perfectpanel_classic": "perfect_panel", "perfectpanel_constructor": "perfect_panel",
                     "smartpanel": "smartpanel", "generic_table": "table"}


def test_headers_and_encodings_as_scrapy_gives_them():
    page = "<table><tr><th>ID</th><th>Услуга</th><th>Цена за 1000</th></tr><tr><td>7</td><td>Подписчики ВК</td><td>95 ₽</td></tr></table>"
    headers = {b"Content-Type": [b"text/html; charset=windows-1251"]}
    body = page.replace("₽", "руб").encode("cp1251")
    [entry] = extract_page("https://ru.example/prices", body, headers).entries
    assert (entry.service_id, entry.name, entry.rate, entry.currency, entry.platform, entry.metric) == (
        "7", "Подписчики ВК", Decimal(95), "RUB", "vk", "followers")


def test_currency_is_assumed_only_when_nothing_names_one():
    page = "<table><tr><th>ID</th><th>Service</th><th>Rate per 1000</th></tr><tr><td>1</td><td>Plays</td><td>1.5</td></tr></table>"
    [entry] = extract_page("https://x.example/services", page).entries
    assert (entry.currency, entry.currency_assumed) == ("USD", True)


# --- the real price lists of the sample ------------------------------------------

def _raw_csvs() -> list[Path]:
    directory = SMMPANELS / "raw"
    return sorted(directory.glob("*/*.csv")) if directory.is_dir() else []


def render_csv(path: Path) -> tuple[list[str], list[list[str]], str]:
    """(titles, rows, HTML table) of one scraped price list. The CSVs were written
    by pandas: their first column is pandas' row number, not the page's, and is
    dropped (FollowersKart 2020-03-20 lacks it in its rows: it is dropped only
    where present)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    titles = rows[0][1:] if rows[0][0] == "" else rows[0]
    body = [row[1:] if len(row) == len(titles) + 1 else row for row in rows[1:]]
    head = "".join(f"<th>{html.escape(title)}</th>" for title in titles)
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in body)
    return titles, body, f"<html><body><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></body></html>"


def expected_from_csv(titles: list[str], rows: list[list[str]]) -> list[tuple]:
    """(id, rate, min, max, unlimited) of every service row, read independently of
    the extractor: the column of each kind is located by hand-written title
    lists, numbers are plain ("1.10", "$ 2500.00", "₹200.00")."""
    def index(*words: str) -> int:
        squeezed = [re.sub(r"\W", "", title).lower() for title in titles]
        return next(i for i, title in enumerate(squeezed) if any(title.endswith(word) for word in words))
    id_at = index("id")
    rate_at = index("rateper1000", "priceper1000", "price1000", "rate1000", "rateusdper1000")
    min_at, max_at = index("minorder", "min"), index("maxorder", "max")
    expected = []
    for row in rows:
        if not row[id_at].strip().isdigit():
            continue  # a header repeated inside the table, or the membership table under it
        maximum = int(row[max_at]) if max_at < len(row) and row[max_at].strip() else None
        unlimited = maximum is not None and maximum >= 2**31 - 1
        expected.append((row[id_at].strip(), Decimal(re.sub(r"[^\d.]", "", row[rate_at])),
                         int(row[min_at]), None if unlimited else maximum, unlimited))
    return expected


@pytest.mark.parametrize("path", _raw_csvs() or [SMMPANELS / "raw"], ids=lambda path: "/".join(path.parts[-2:]))
def test_generic_extractor_reads_every_real_price_list(path):
    require(SMMPANELS / "raw")
    titles, rows, page = render_csv(path)
    extraction = extract_page(f"https://{path.parent.name.lower()}.example/services", page.encode())
    got = [(e.service_id, e.rate, e.min_quantity, e.max_quantity, e.max_unlimited) for e in extraction.entries]
    assert got == expected_from_csv(titles, rows)


def test_every_real_header_title_is_understood():
    require(SMMPANELS / "raw")
    kinds = {}
    for path in _raw_csvs():
        titles, _, _ = render_csv(path)
        for title in titles:
            kinds[title] = column_for_title(title)
    assert {title for title, kind in kinds.items() if kind is None} == set()
    assert kinds["format_list_numberedID"] == Column.ID
    assert kinds["bar_chartPriceper1000"] == Column.RATE
    assert kinds["call_receivedMinorder"] == Column.MIN
    assert kinds["call_madeMaxorder"] == Column.MAX
    assert kinds["Rate($USD)per1000"] == Column.RATE
    assert kinds["$ RATE/1000"] == Column.RATE
    assert kinds["SERVICES"] == Column.NAME
    assert kinds["Average time                                        "] == Column.AVERAGE_TIME


@pytest.mark.parametrize("titles, expected", [
    (["#", "Service Name", "Rate per 1000 (€)", "Min/Max order", "Description"],
     {"id": 0, "name": 1, "rate": 2, "min_max": 3, "description": 4}),
    (["Service ID", "Category", "Service", "Price($)Per1000", "Min/Maxorder"],
     {"id": 0, "category": 1, "name": 2, "rate": 3, "min_max": 4}),
])
def test_columns_by_meaning(titles, expected):
    assert map_columns(titles) == expected


# --- numbers and currencies ---------------------------------------------------

@pytest.mark.parametrize("text, currency, expected", [
    ("1.1025", None, "1.1025"), ("0.892", None, "0.892"), ("1 000", None, "1000"),
    ("200\u00a0000", None, "200000"), ("1,000", None, "1000"), ("0,892", None, "0.892"),
    ("1,5", None, "1.5"), ("1.000,50", None, "1000.50"), ("1,000.50", None, "1000.50"),
    ("1.000.000", None, "1000000"), ("9.399", None, "9.399"), ("$ 2500.00", None, "2500.00"),
    ("₹200.00", None, "200.00"), ("NGN 2500.00 per 1000", None, "2500.00"),
    ("Rp 15.000", "IDR", "15000"), ("", None, None), ("Not enough data", None, None),
])
def test_parse_decimal(text, currency, expected):
    assert parse_decimal(text, currency=currency) == (Decimal(expected) if expected else None)


@pytest.mark.parametrize("text, expected", [
    ("100 / 10000", [100, 10000]), ("Min: 10 - Max: 20 000", [10, 20000]),
    ("1.000 / 5.000.000", [1000, 5000000]), ("2147483647", [2147483647]), ("", []),
])
def test_parse_quantities(text, expected):
    assert parse_quantities(text) == expected


def test_integer_ceiling_means_unlimited_and_round_limits_stay():
    assert split_max(2147483647) == (None, True)
    assert split_max(10_000_000_000) == (None, True)
    assert split_max(999_999_999) == (999_999_999, False)
    assert split_max(1_000_000_000) == (1_000_000_000, False)


@pytest.mark.parametrize("text, expected", [
    ("Rate ($ USD) per 1000", Currency("USD", True)), ("₹200.00", Currency("INR", True)),
    ("$0.0135", Currency("USD", False)), ("R$ 5,00", Currency("BRL", True)),
    ("95 руб.", Currency("RUB", True)), ("1.20 €", Currency("EUR", True)),
    ("Software", None), ("0.90", None),
])
def test_currency_in_text(text, expected):
    assert currency_in_text(text) == expected


def test_currency_resolution():
    usd_sign, eur, aud = Currency("USD", False), Currency("EUR", True), Currency("AUD", True)
    assert resolve_currency(None, None, eur) == ("EUR", False)  # the page's selector
    assert resolve_currency(usd_sign, None, aud) == ("AUD", False)  # "$" on an AUD page
    assert resolve_currency(usd_sign, None, eur) == ("USD", False)  # "$" cannot be euros
    assert resolve_currency(None, None, None) == ("USD", True)


def test_average_time():
    assert parse_average_time("  32877 hours and 14 minutes ") == "32877 hours and 14 minutes"
    assert parse_average_time("Not enough data") is None
    assert parse_average_time("") is None


# --- API v2 -----------------------------------------------------------------

def test_api_services_variants():
    payload = json.dumps([
        {"service": 1, "name": "Spotify Premium Plays [USA]", "type": "Default", "category": "Spotify",
         "rate": "1.1025", "min": "100", "max": "2147483647", "refill": True, "cancel": False},
        {"service": "2", "name": "IG Followers", "category": "Instagram", "rate": 0.9, "min": 50,
         "max": 10000, "desc": "Refill: 30 days", "dripfeed": "1"},
        {"service": 3, "name": "YouTube Views", "rate": 2},
        {"name": "no id", "rate": "1"},
        {"service": 5, "name": "no rate"},
        "not an object",
    ])
    entries = parse_services(payload, currency="EUR")
    assert [(e.service_id, e.rate, e.rate_text, e.min_quantity, e.max_quantity, e.max_unlimited)
            for e in entries] == [
        ("1", Decimal("1.1025"), "1.1025", 100, None, True),
        ("2", Decimal("0.9"), "0.9", 50, 10000, False),
        ("3", Decimal(2), "2", None, None, False),
    ]
    assert [(e.refill, e.cancel, e.dripfeed) for e in entries] == [(True, False, None), (None, None, True),
                                                                    (None, None, None)]
    assert [(e.platform, e.metric, e.guarantee_days) for e in entries] == [
        ("spotify", "plays", None), ("instagram", "followers", 30), ("youtube", "views", None)]
    assert {(e.currency, e.currency_assumed, e.source) for e in entries} == {("EUR", False, "api")}
    assert entries[1].description == "Refill: 30 days"
    assert parse_services(b"[]") == []
    assert parse_services([{"service": 9, "name": "x", "rate": "1"}])[0].currency_assumed is True


@pytest.mark.parametrize("payload, error", [
    ('{"error": "Invalid API key"}', PanelApiError),
    ({"error": "Incorrect request"}, PanelApiError),
    ("<html>Sign in</html>", ApiFormatError),
    ('{"services": []}', ApiFormatError),
    ('"text"', ApiFormatError),
])
def test_api_errors(payload, error):
    with pytest.raises(error):
        parse_services(payload)


def test_api_error_message_is_kept():
    with pytest.raises(PanelApiError) as caught:
        parse_services('{"error": "Invalid API key"}')
    assert caught.value.message == "Invalid API key"


# --- software ---------------------------------------------------------------

def test_smartpanel_needs_more_than_codeigniter():
    page = "<html><head><title>Boost</title></head><body>Sign in</body></html>"
    assert detect_software("https://x.example/", page, {"Set-Cookie": "ci_session=abc; path=/"}).software == "unknown"
    with_docs = page.replace("Sign in", '<a href="/api/docs">API</a>')
    detection = detect_software("https://x.example/", with_docs, [("Set-Cookie", "ci_session=abc; path=/")])
    assert detection.software == "smartpanel"
    assert detection.evidence == ["link to /api/docs", "cookie ci_session (CodeIgniter)"]


def test_rental_clone():
    page = ('<link href="https://cdn.apanel.link/css/app.css" rel="stylesheet">'
            '<form><input name="_csrf"><input name="OrderForm[service]"></form>')
    detection = detect_software("https://x.example/", page)
    assert detection.software == "rental_clone"
    assert detection.evidence == ["assets from cdn.apanel.link", "form field _csrf", "form field OrderForm[service]"]


def test_perfect_panel_markup_without_its_cdn_is_a_copy():
    page = '<form><input name="_csrf"><input name="RegistrationForm[login]"></form>'
    detection = detect_software("https://x.example/", page)
    assert detection.software == "rental_clone"
    assert detection.evidence[-1] == "perfect panel markup without perfectcdn/mypanel assets"


def test_unknown_software():
    assert asdict(detect_software("https://x.example/", b"<html><body>Hello</body></html>")) == {
        "software": "unknown", "evidence": [], "tenant_code": None}


def test_shared_perfect_panel_folder_is_not_a_tenant_code() -> None:
    from panelmap.spiders.software import detect_software

    page = ('<link href="https://storage.perfectcdn.com/global/aa11.css">'
            '<script src="https://storage.perfectcdn.com/global/bb22.js"></script>'
            '<link href="https://storage.perfectcdn.com/x7k2qa/theme.css">'
            '<script>window.modules.layouts = {"theme_id":3};</script>')
    detection = detect_software("https://panel.example/", page)
    assert (detection.software, detection.tenant_code) == ("perfect_panel", "x7k2qa")
