"""The sandbox world: deterministic, and its ground truth is what its sites really serve.

Handlers are called directly with `HttpRequest`s; pages are parsed with lxml the way an
extractor would, then compared with `ground_truth["sites"][domain]["catalogue"]`.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import lxml.html
import mmh3
import pytest

from panelmap.sandbox.catalogue import Pricing, round_rate
from panelmap.sandbox.generate import DEFAULT_SITES, generate_world
from panelmap.sandbox.world import HttpRequest, HttpResponse, World


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(1)


def fetch(
    world: World,
    host: str,
    target: str,
    *,
    cookie: str | None = None,
    method: str = "GET",
    form: dict[str, str] | None = None,
    scheme: str = "https",
) -> HttpResponse:
    headers = [("Host", host)]
    if cookie:
        headers.append(("Cookie", cookie))
    body = b""
    if form is not None:
        body = "&".join(f"{k}={v}" for k, v in form.items()).encode()
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    request = HttpRequest(method, "https" if scheme == "https" else "http", host, target, headers, body)
    return asyncio.run(world.sites[host](request))


def body(response: HttpResponse) -> bytes:
    assert isinstance(response.body, bytes)
    return response.body


def page(world: World, host: str, target: str, **kwargs: Any) -> str:
    return body(fetch(world, host, target, **kwargs)).decode("utf-8")


def api(world: World, host: str, path: str, **form: str) -> Any:
    return json.loads(body(fetch(world, host, path, method="POST", form=form)))


def header(response: HttpResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


def html(response: HttpResponse) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(body(response).decode("utf-8"))


def text(element: lxml.html.HtmlElement) -> str:
    return element.text_content().strip()


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"


def sites_of(world: World, *, style: str | None = None, panels: bool = False) -> Iterator[dict[str, Any]]:
    """Served sites; with `panels`, only those with the full panel furniture (API, add-funds)."""
    for site in world.ground_truth["sites"].values():
        if site["served"] and (style is None or site["page_style"] == style) and (not panels or "api" in site):
            yield site


# --- extracting catalogues the way extractors will ---------------------------------------

Row = tuple[str, int, str, str, str, str]  # category, id, name, rate, min, max


def _rows_perfectpanel(doc: lxml.html.HtmlElement) -> list[Row]:
    rows, category = [], ""
    for tr in doc.xpath("//table[starts-with(@id, 'service-table')]/tbody/tr"):
        cells = tr.xpath("./td")
        if len(cells) == 1 and cells[0].get("colspan"):
            category = text(cells[0])
            continue
        labelled = {td.get("data-label"): td for td in cells if td.get("data-label")}
        if labelled:  # the constructor theme: key on data-label, not position
            cells = [labelled[label] for label in ("ID", "Service", "Rate per 1000", "Min order", "Max order")]
        ident, name, rate, low, high = (text(td) for td in cells[:5])
        rows.append((category, int(ident), name, rate, low, high))
    return rows


def _rows_smartpanel(doc: lxml.html.HtmlElement) -> list[Row]:
    rows = []
    for card in doc.xpath("//div[@class='card'][.//table]"):
        category = text(card.xpath(".//h3[@class='card-title']")[0])
        for tr in card.xpath(".//tbody/tr"):
            cells = [text(td) for td in tr.xpath("./td")]
            low, high = cells[3].split(" / ")
            rows.append((category, int(cells[0]), cells[1], cells[2], low, high))
    return rows


def _rows_generic(doc: lxml.html.HtmlElement, columns: list[str]) -> list[Row]:
    rows = []
    if columns[0].startswith("format_list_numbered"):  # one table per category, icon ligatures in headers
        for block in doc.xpath("//div[@class='category-block']"):
            category = text(block.xpath("./h4")[0])
            for tr in block.xpath(".//tbody/tr"):
                cells = [text(td) for td in tr.xpath("./td")]
                rows.append((category, int(cells[0]), cells[1], cells[2], cells[3], cells[4]))
        return rows
    category = ""
    for tr in doc.xpath("//table[@id='services']/tbody/tr"):
        cells = [text(td) for td in tr.xpath("./td")]
        if tr.get("class") == "category":
            category = cells[0]
        elif "Min/Max order" in columns:
            low, high = cells[3].split(" / ")
            rows.append((category, int(cells[0]), cells[1], cells[2], low, high))
        else:  # ID, Name, Description, Price Per 1000, Min, Max
            rows.append((category, int(cells[0]), cells[1], cells[3], cells[4], cells[5]))
    return rows


def _rows_paginated(world: World, site: dict[str, Any]) -> list[Row]:
    rows, category = [], ""
    for url in site["services_urls"]:
        for tr in html(fetch(world, site["domain"], path_of(url))).xpath("//table/tbody/tr"):
            if tr.get("class") == "table-active":
                category = text(tr)
                continue
            cells = [text(td) for td in tr.xpath("./td")]
            rows.append((category, int(cells[0]), cells[1], cells[2], cells[3], cells[4]))
    return rows


def _rows_xhr(world: World, site: dict[str, Any]) -> list[Row]:
    doc = html(fetch(world, site["domain"], path_of(site["services_urls"][0])))
    assert doc.xpath("//table[@id='price-table']/tbody/tr") == []  # nothing without a browser
    for url in re.findall(r"fetch\('([^']+)'", " ".join(doc.xpath("//script[not(@src)]/text()"))):
        assert url.startswith("/") and not url.startswith("//")  # same origin only
    data = json.loads(body(fetch(world, site["domain"], path_of(site["services_urls"][1]))))
    return [(c["name"], s["id"], s["name"], s["price"], s["min"], s["max"]) for c in data["categories"] for s in c["services"]]


def served_rows(world: World, site: dict[str, Any]) -> list[Row]:
    domain, style = site["domain"], site["page_style"]
    if style == "paginated":
        return _rows_paginated(world, site)
    if style == "xhr":
        return _rows_xhr(world, site)
    doc = html(fetch(world, domain, path_of(site["services_urls"][0]), cookie=world.secrets[domain]["cookie"]))
    if style == "smartpanel":
        return _rows_smartpanel(doc)
    if style == "generic":
        return _rows_generic(doc, site["columns"])
    return _rows_perfectpanel(doc)


def truth_rows(site: dict[str, Any]) -> list[Row]:
    return [
        (s["category"], s["service_id"], s["name"], s["rate_display"], s["min_display"], s["max_display"])
        for s in site["catalogue"]
    ]


# --- determinism and size ------------------------------------------------------------------


def test_same_seed_same_world_and_bytes(world: World) -> None:
    again = generate_world(1)
    assert json.dumps(again.ground_truth, sort_keys=True) == json.dumps(world.ground_truth, sort_keys=True)
    assert again.dns == world.dns and again.certificates == world.certificates and again.secrets == world.secrets
    for domain in world.ground_truth["seeds"][:6]:
        assert body(fetch(again, domain, "/services")) == body(fetch(world, domain, "/services"))
        assert body(fetch(again, domain, "/favicon.ico")) == body(fetch(world, domain, "/favicon.ico"))


def test_different_seed_different_world(world: World) -> None:
    other = generate_world(2)
    assert other.ground_truth["seeds"] != world.ground_truth["seeds"]
    assert json.dumps(other.ground_truth, sort_keys=True) != json.dumps(world.ground_truth, sort_keys=True)


def test_default_cast(world: World) -> None:
    truth = world.ground_truth
    roles = [s["role"] for s in sites_of(world)]
    assert roles.count("upstream") >= 3 and roles.count("reseller") >= 15 and roles.count("decoy") == 1
    assert len(truth["hostile"]) == 9
    assert "justanotherpanel.com" in truth["seeds"]
    for domain in truth["seeds"]:
        assert domain in world.sites and f"www.{domain}" in world.sites
    styles = {s["page_style"] for s in sites_of(world) if s["role"] in ("upstream", "reseller")}
    assert {"perfectpanel", "perfectpanel_constructor", "smartpanel", "xhr", "generic", "paginated"} <= styles
    json.dumps(truth)  # JSON-ready


def test_larger_worlds_keep_the_cast_and_grow() -> None:
    big, small = generate_world(1, sites=200), generate_world(1)
    assert sum(1 for s in sites_of(big) if s["role"] != "hostile") == 200
    assert big.ground_truth["seeds"][:DEFAULT_SITES] == small.ground_truth["seeds"]
    assert len(big.sites) == 2 * (200 + len(big.ground_truth["hostile"]))
    with pytest.raises(ValueError):
        generate_world(1, sites=5)


# --- the ground truth is what is served ----------------------------------------------------


def test_every_services_page_serves_its_ground_truth(world: World) -> None:
    checked = set()
    for site in sites_of(world):
        if site["role"] != "hostile":
            assert served_rows(world, site) == truth_rows(site), site["domain"]
            checked.add(site["page_style"])
    assert len(checked) == 6


def test_api_v2_matches_catalogue_and_guards_its_key(world: World) -> None:
    for site in sites_of(world, panels=True):
        if site["api"]["dialect"] not in ("perfectpanel", "rental", "custom"):
            continue
        domain, path = site["domain"], path_of(site["api"]["url"])
        key = world.secrets[domain]["api_key"]
        listing = api(world, domain, path, key=key, action="services")
        assert [(int(s["service"]), s["rate"], str(s["min"]), str(s["max"])) for s in listing] == [
            (s["service_id"], s["rate"], str(s["min"]), str(s["max"])) for s in site["catalogue"]
        ]
        wrong = fetch(world, domain, path, method="POST", form={"key": "0" * 32, "action": "services"})
        assert (wrong.status, json.loads(body(wrong))) == (200, {"error": "Invalid API key"})
        assert api(world, domain, path, action="balance") == {"error": "Invalid API key"}
        assert api(world, domain, path, key=key, action="nope") == {"error": "Incorrect request"}
        assert api(world, domain, path, key=key, action="balance")["currency"] == site["currency"]
        order = api(world, domain, path, key=key, action="add", service="1", link="x", quantity="1000")
        assert "error" in order and "order" not in order


def test_smartpanel_signin_wall_and_api_v1(world: World) -> None:
    site = next(sites_of(world, style="smartpanel"))
    domain = site["domain"]
    wall = fetch(world, domain, "/services")
    assert wall.status == 302 and header(wall, "Location") == f"https://{domain}/auth/login"
    assert (
        site["services_need_cookie"] and fetch(world, domain, "/services", cookie=world.secrets[domain]["cookie"]).status == 200
    )
    titles = {text(t) for s in sites_of(world, style="smartpanel") for t in html(fetch(world, s["domain"], "/")).xpath("//title")}
    assert "SmartPanel - SMM Panel Reseller Tool" in titles
    assert site["api"]["url"].endswith("/api/v1") and fetch(world, domain, "/api/docs").status == 200
    assert api(world, domain, "/api/v1", key="x", action="services") == {"status": "error", "message": "The API key is invalid"}
    listing = api(world, domain, "/api/v1", key=world.secrets[domain]["api_key"], action="services")
    assert [int(s["service"]) for s in listing] == [s["service_id"] for s in site["catalogue"]]


def test_laravel_api_answers_405_401_400_and_429() -> None:
    fresh = generate_world(1)  # its own rate-limit counters
    site = next(sites_of(fresh, style="paginated"))
    domain, key = site["domain"], fresh.secrets[site["domain"]]["api_key"]
    assert fetch(fresh, domain, "/api/v2").status == 405
    assert fetch(fresh, domain, "/api/v2", method="POST", form={"key": "bad", "action": "services"}).status == 401
    assert fetch(fresh, domain, "/api/v2", method="POST", form={"key": key, "action": "add"}).status == 400
    statuses = [fetch(fresh, domain, "/api/v2", method="POST", form={"key": key, "action": "balance"}).status for _ in range(60)]
    assert statuses[:57] == [200] * 57 and statuses[-1] == 429


def test_upstream_links_markups_and_rounding(world: World) -> None:
    sites = world.ground_truth["sites"]
    for site in sites.values():
        rules = {u["domain"]: Pricing(Decimal(u["markup"]), u["currency"], u["rounding"]) for u in site["upstreams"]}
        for service in site["catalogue"]:
            if service["upstream"] is None:
                continue
            upstream = sites[service["upstream"]["domain"]]
            source = next(s for s in upstream["catalogue"] if s["service_id"] == service["upstream"]["service_id"])
            rule = rules[upstream["domain"]]
            assert (service["min"], service["max"]) == (source["min"], source["max"])
            expected = round_rate(Decimal(source["rate"]) * rule.factor(upstream["currency"]), rule.rounding)
            assert Decimal(service["rate"]) == expected, (site["domain"], service["service_id"])
    assert len([s for s in sites.values() if len({u["domain"] for u in s["upstreams"]}) == 2]) == 1
    assert {"1.08", "1.5", "3"} <= {u["markup"] for s in sites.values() for u in s["upstreams"]}
    assert {"USD", "EUR", "INR", "RUB"} <= {s["currency"] for s in sites.values()}
    assert {"2dp", "4dp", "up_x9"} <= {u["rounding"] for s in sites.values() for u in s["upstreams"]}
    imported = [s for site in sites.values() if site["role"] == "reseller" for s in site["catalogue"] if s["upstream"]]
    assert any(s["service_id"] != s["upstream"]["service_id"] for s in imported)
    assert any(s["service_id"] == s["upstream"]["service_id"] for s in imported)
    assert any(s["name"].startswith("ID ") for s in imported)


def test_hidden_upstream_is_a_group_with_constant_ratios(world: World) -> None:
    truth = world.ground_truth
    (hidden,) = truth["hidden_upstreams"]
    assert hidden not in truth["seeds"] and hidden not in world.sites and hidden not in world.dns.records
    (group,) = truth["unknown_upstream_groups"]
    assert group["upstream"] == hidden and len(group["members"]) == 3
    first, *others = (truth["sites"][d] for d in group["members"])
    by_upstream_id = {s["upstream"]["service_id"]: s for s in first["catalogue"] if s["upstream"]}
    for member in others:
        ratio = Decimal(group["ratio_to_first"][member["domain"]])
        pairs = [
            (Decimal(s["rate"]), Decimal(by_upstream_id[s["upstream"]["service_id"]]["rate"]))
            for s in member["catalogue"]
            if s["upstream"] and s["upstream"]["service_id"] in by_upstream_id
        ]
        assert len(pairs) > 50
        assert all(abs(a / b / ratio - 1) < Decimal("0.02") for a, b in pairs if a >= 1 and b >= 1)  # rounding aside


def test_decoy_shares_names_not_prices(world: World) -> None:
    (decoy,) = (s for s in world.ground_truth["sites"].values() if s["role"] == "decoy")
    jap = {s["name"]: Decimal(s["rate"]) for s in world.ground_truth["sites"]["justanotherpanel.com"]["catalogue"]}
    ratios = [Decimal(s["rate"]) / jap[s["name"]] for s in decoy["catalogue"] if jap.get(s["name"])]
    assert len(ratios) >= 100 and decoy["upstreams"] == []
    assert len({round(r, 1) for r in ratios}) > 30  # no dominant markup


# --- site furniture ------------------------------------------------------------------------


def test_addfunds_shows_payments_and_some_need_a_session(world: World) -> None:
    needs = set()
    for site in sites_of(world, panels=True):
        domain, path = site["domain"], path_of(site["addfunds"]["url"])
        needs.add(site["addfunds"]["needs_cookie"])
        if site["addfunds"]["needs_cookie"]:
            assert fetch(world, domain, path).status == 302
        text_ = page(world, domain, path, cookie=world.secrets[domain]["cookie"])
        for payment in site["payments"]:
            assert payment["identifier"] in text_
        if any(p["processor"] == "payeer" for p in site["payments"]):
            assert 'action="https://payeer.com/merchant/"' in text_ and 'name="m_shop"' in text_
    assert needs == {True, False}
    jap = world.ground_truth["sites"]["justanotherpanel.com"]
    assert any(p["host"] == "bobsal.gateway.mastercard.com" for p in jap["payments"])
    payments = [p for s in sites_of(world, panels=True) for p in s["payments"]]
    assert {"payeer.com", "perfectmoney.is", "js.stripe.com", "www.paypal.com", "www.coinpayments.net"} <= {
        p["host"] for p in payments
    }
    assert {"BTC", "TRC20", "ERC20"} <= {p.get("network") for p in payments}


def test_favicons_analytics_and_shared_identifiers(world: World) -> None:
    sites = list(sites_of(world, panels=True))
    for site in sites:
        icon = body(fetch(world, site["domain"], "/favicon.ico"))
        assert icon[:4] in (b"\x89PNG", b"\x00\x00\x01\x00")
        assert mmh3.hash(base64.encodebytes(icon)) == site["favicon"]["mmh3"]
        home = page(world, site["domain"], "/")
        analytics = site["analytics"]
        assert all(analytics[key] in home for key in ("ga_ua", "ga4", "gtm", "adsense") if key in analytics)
        if "fb_pixel" in analytics:
            assert f"fbq('init', '{analytics['fb_pixel']}')" in home
        if "yandex_metrika" in analytics:
            assert f'ym({analytics["yandex_metrika"]}, "init"' in home
    hashes = [s["favicon"]["mmh3"] for s in sites]
    assert len(set(hashes)) < len(hashes)  # some operators reuse their icon
    merchants = [p["identifier"] for s in sites for p in s["payments"] if p["processor"] != "crypto"]
    assert len(set(merchants)) < len(merchants)


def test_terms_contact_api_docs_and_links(world: World) -> None:
    linked = 0
    for site in sites_of(world, panels=True):
        domain = site["domain"]
        hrefs = {href.removeprefix(f"https://{domain}") for href in html(fetch(world, domain, "/")).xpath("//a/@href")}
        assert path_of(site["services_urls"][0]) in hrefs, domain
        assert fetch(world, domain, "/terms").status == 200
        assert fetch(world, domain, path_of(site["api"]["docs"])).status == 200
        contact = next(h for h in hrefs if "contact" in h)
        assert site["contacts"]["email"] in page(world, domain, contact)
        for link in site["links"]:
            assert f"https://{link['target']}/" in hrefs
            linked += 1
    assert linked >= 5


def test_http_and_www_canonicalisation(world: World) -> None:
    plain = fetch(world, "justanotherpanel.com", "/services", scheme="http")
    assert plain.status == 301 and header(plain, "Location") == "https://justanotherpanel.com/services"
    redirecting = [s["domain"] for s in sites_of(world, panels=True) if s["www_redirects"]]
    serving = [s["domain"] for s in sites_of(world, panels=True) if not s["www_redirects"]]
    www = fetch(world, f"www.{redirecting[0]}", "/terms")
    assert www.status == 301 and header(www, "Location") == f"https://{redirecting[0]}/terms"
    assert fetch(world, f"www.{serving[0]}", "/terms").status == 200


# --- infrastructure ------------------------------------------------------------------------


def test_dns_addresses_are_public_and_inside_known_networks(world: World) -> None:
    records = world.dns.records
    for name, rrsets in records.items():
        for address in rrsets.get("A", []) + rrsets.get("AAAA", []):
            assert ipaddress.ip_address(address).is_global, (name, address)
            assert world.network_for(address) is not None, (name, address)
    for site in sites_of(world):
        if site["hosting"] is not None:
            zone = records[site["domain"]]
            assert zone["A"] == site["hosting"]["ipv4"] and [ns.rstrip(".") for ns in zone["NS"]] == site["hosting"]["ns"]
            assert "SOA" in zone and "CAA" in zone
    every_txt = " ".join(t for rr in records.values() for t in rr.get("TXT", []))
    for needle in ("v=spf1", "google-site-verification=", "facebook-domain-verification=", "stripe-verification="):
        assert needle in every_txt
    all_ns = {ns for rr in records.values() for ns in rr.get("NS", [])}
    assert {"dns1.cloudns.net.", "ns1.perfectdns.com."} <= all_ns and any(ns.endswith(".ns.cloudflare.com.") for ns in all_ns)
    assert any("CNAME" in rr for rr in records.values()) and any("MX" in rr for rr in records.values())
    assert any("PTR" in rr for rr in records.values()) and any("AAAA" in rr for rr in records.values())
    ipv4 = [s["hosting"]["ipv4"][0] for s in sites_of(world) if s["hosting"]]
    assert len(set(ipv4)) < len(ipv4)  # shared IPs
    assert {b.rir for b in world.networks} == {"arin", "ripencc"}
    jap = world.network_for(world.ground_truth["sites"]["justanotherpanel.com"]["hosting"]["ipv4"][0])
    assert jap is not None and (jap.country, jap.asn_country, jap.rir) == ("NL", "AE", "ripencc")


def test_certificates_cover_every_host_and_some_are_shared(world: World) -> None:
    assert set(world.sites) == set(world.certificates)
    specs = list({id(spec): spec for spec in world.certificates.values()}.values())
    assert any(len({n.removeprefix("www.") for n in spec.names}) > 1 and spec.profile == "valid" for spec in specs)
    assert all(host in spec.names for host, spec in world.certificates.items() if spec.profile == "valid")


# --- hostile corners -----------------------------------------------------------------------


def _hostile(world: World, kind: str) -> str:
    return next(d for d, h in world.ground_truth["hostile"].items() if h["kind"] == kind)


async def _first_chunks(stream: AsyncIterator[bytes], count: int) -> list[bytes]:
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
        if len(chunks) == count:
            break
    await stream.aclose()  # type: ignore[attr-defined]  # an async generator
    return chunks


def test_redirect_loop(world: World) -> None:
    domain = _hostile(world, "redirect_loop")
    first = fetch(world, domain, "/")
    second = fetch(world, domain, path_of(header(first, "Location") or ""))
    assert first.status == second.status == 302 and header(second, "Location") == f"https://{domain}/"


def test_trickle_and_huge_bodies_stream(world: World) -> None:
    slow = fetch(world, _hostile(world, "trickle"), "/")
    assert slow.status == 200 and header(slow, "Content-Length") is None and not isinstance(slow.body, bytes)
    assert asyncio.run(_first_chunks(slow.body, 1)) == [b"<"]
    domain = _hostile(world, "huge_body")
    huge = fetch(world, domain, "/")
    assert header(huge, "Content-Length") == str(world.ground_truth["hostile"][domain]["body_bytes"]) == str(50 * 1024 * 1024)
    assert not isinstance(huge.body, bytes)
    chunks = asyncio.run(_first_chunks(huge.body, 3))
    assert chunks[0].startswith(b"<!DOCTYPE html>") and all(len(c) == 65536 for c in chunks)


def test_gzip_bomb(world: World) -> None:
    domain = _hostile(world, "gzip_bomb")
    response = fetch(world, domain, "/")
    wire, expected = body(response), world.ground_truth["hostile"][domain]
    assert header(response, "Content-Encoding") == "gzip"
    assert len(wire) == expected["wire_bytes"] < 2 * 1024 * 1024
    assert struct.unpack("<I", wire[-4:])[0] == expected["inflated_bytes"] > 1000 * 1024 * 1024
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(wire[:4096], 200).startswith(b"<!DOCTYPE html>")


def test_malformed_html_still_yields_its_catalogue(world: World) -> None:
    domain = _hostile(world, "malformed_html")
    raw = page(world, domain, "/services")
    assert "</table>" not in raw and "<!--" in raw.split("</span>")[-1]
    rows = []
    for cell in lxml.html.fromstring(raw).xpath("//td[@data-filter-table-service-id]"):
        ident, name, rate, low, high = (text(td) for td in [cell, *cell.itersiblings("td")][:5])
        rows.append((int(ident), name, rate, low, high))
    catalogue = world.ground_truth["sites"][domain]["catalogue"]
    assert rows == [(s["service_id"], s["name"], s["rate_display"], s["min_display"], s["max_display"]) for s in catalogue]
    assert len(rows) == 40


def test_error_pages_dns_failure_and_bad_certificates(world: World) -> None:
    down = _hostile(world, "error_200")
    home, services = fetch(world, down, "/"), fetch(world, down, "/services")
    assert home.status == services.status == 200
    assert b"Service temporarily unavailable" in body(home) and b"SQLSTATE" in body(services)
    ghost = _hostile(world, "dns_servfail")
    assert {ghost, f"www.{ghost}"} <= world.dns.servfail and ghost not in world.dns.records
    assert fetch(world, ghost, "/services").status == 200
    assert world.certificates[_hostile(world, "tls_expired")].profile == "expired"
    wrong = _hostile(world, "tls_wrong_name")
    assert world.certificates[wrong].profile == "wrong_name" and wrong not in world.certificates[wrong].names
    assert not set(world.ground_truth["hostile"]) & set(world.ground_truth["seeds"])


# --- epochs --------------------------------------------------------------------------------


def test_second_epoch_changes_prices_moves_a_site_and_adds_a_reseller(world: World) -> None:
    later = generate_world(1, epoch=2)
    changes = later.ground_truth["changes"]
    assert {"price", "removed", "move_ip", "new_site"} <= {c["kind"] for c in changes}
    before, after = world.ground_truth["sites"], later.ground_truth["sites"]
    for change in (c for c in changes if c["kind"] == "price"):
        old = next(s for s in before[change["domain"]]["catalogue"] if s["service_id"] == change["service_id"])
        new = next(s for s in after[change["domain"]]["catalogue"] if s["service_id"] == change["service_id"])
        assert (old["rate"], new["rate"]) == (change["old_rate"], change["new_rate"])
    assert any(after[c["domain"]]["role"] == "reseller" for c in changes if c["kind"] == "price")  # resellers follow
    (move,) = (c for c in changes if c["kind"] == "move_ip")
    assert later.dns.records[move["domain"]]["A"] == move["new"]["ipv4"] != world.dns.records[move["domain"]]["A"]
    assert move["new"]["networks"][0]["asn"] != move["old"]["networks"][0]["asn"]
    (new_site,) = (c for c in changes if c["kind"] == "new_site")
    assert new_site["domain"] in later.sites and new_site["domain"] not in world.sites
    assert new_site["domain"] in later.ground_truth["seeds"]
    assert f"https://{new_site['domain']}/" in page(later, new_site["linked_from"], "/")
    assert json.dumps(generate_world(1, epoch=2).ground_truth) == json.dumps(later.ground_truth)


def test_worlds_do_not_depend_on_hash_randomisation() -> None:
    script = (
        "import asyncio, hashlib, json\n"
        "from panelmap.sandbox.generate import generate_world\n"
        "from panelmap.sandbox.world import HttpRequest\n"
        "w = generate_world(3, epoch=2)\n"
        "digest = hashlib.sha256(json.dumps(w.ground_truth).encode() + repr(sorted(w.dns.records.items())).encode())\n"
        "for d in w.ground_truth['seeds']:\n"
        "    digest.update(asyncio.run(w.sites[d](HttpRequest('GET', 'https', d, '/', []))).body)\n"
        "print(digest.hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
