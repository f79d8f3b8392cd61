"""Web fingerprints on the generated sandbox world: for every panel site, the favicon hashes,
title, Server header, tracking ids, software, tenant code and TXT tokens its ground truth names."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mmh3
import pytest
from sqlalchemy import select

from enrich_support import crawl_pages, enrich, new_run, sandbox_settings
from panelmap.enrich.dns import DnsEnricher
from panelmap.enrich.fingerprints import FingerprintsEnricher, favicon_hash, tracking_ids
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.server import Sandbox
from panelmap.storage import Database, read_record_payload
from panelmap.storage.models import Capture, Fingerprint

pytestmark = pytest.mark.timeout(120)

# The crawler's names for the software the sandbox's page styles imitate.
SOFTWARE = {"perfectpanel": "perfect_panel", "smartpanel": "smartpanel", "rental": "rental_clone"}


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(generate_world(seed=1), tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture(scope="module")
def truth(sb: Sandbox) -> dict[str, dict[str, Any]]:
    sites = json.loads(sb.ground_truth_path.read_text())["sites"]
    return {domain: site for domain, site in sites.items() if site.get("favicon")}  # the served panel sites


def fingerprints(database: Database, run_id: int) -> dict[str, dict[str, set[str]]]:
    from panelmap.storage.models import Site

    found: dict[str, dict[str, set[str]]] = {}
    with database.session() as session:
        rows = session.execute(
            select(Site.domain, Fingerprint.kind, Fingerprint.value)
            .join(Site, Site.id == Fingerprint.site_id).where(Fingerprint.run_id == run_id)
        )
        for domain, kind, value in rows:
            found.setdefault(domain, {}).setdefault(kind, set()).add(value)
    return found


def expected_tracking(analytics: dict[str, str]) -> set[str]:
    prefixes = {"fb_pixel": "fbq:", "yandex_metrika": "ym:"}
    return {prefixes.get(kind, "") + value for kind, value in analytics.items()}


def test_every_panel_site_shows_the_fingerprints_its_truth_names(sb: Sandbox, truth: dict, database: Database,
                                                                 tmp_path: Path) -> None:
    run_id = new_run(database)
    # The crawl captured home pages only: every favicon is fetched (and captured) by the enricher.
    crawl_pages(database, run_id, sb, {domain: ["/"] for domain in truth}, tmp_path)
    stats = enrich(database, run_id, list(truth), sandbox_settings(sb), tmp_path,
                   enrichers=[DnsEnricher, FingerprintsEnricher])
    assert not stats.failures
    found = fingerprints(database, run_id)
    for domain, site in truth.items():
        seen = found[domain]
        favicon = site["favicon"]
        assert seen["favicon_mmh3"] == {str(favicon["mmh3"])}, domain
        assert seen["favicon_md5"] == {favicon["md5"]} and seen["favicon_sha256"] == {favicon["sha256"]}, domain
        assert seen["title"] == {site["title"]}, domain
        assert seen["server"] == {site["server"]}, domain
        assert seen.get("tracking_id", set()) == expected_tracking(site["analytics"]), domain
        # ghostsmm.org's DNS answers SERVFAIL: its tokens exist but no resolver can show them.
        tokens = {f"{k}={v}" for k, v in site["dns_txt_tokens"].items()} if site["hosting"] else set()
        assert seen.get("dns_txt_token", set()) == tokens, domain
        # SmartPanel has no tenant CDN; the Laravel and custom-script sites carry no CDN code either.
        tenant = {site["tenant_code"]} if site["software"] in ("perfectpanel", "rental") else set()
        assert seen.get("tenant_code", set()) == tenant, domain
        if site["software"] in SOFTWARE:
            assert seen["software"] == {SOFTWARE[site["software"]]}, domain
        assert len(seen["body_sha256"]) == 1


def test_favicon_hash_matches_shodans_formula_on_the_served_bytes(sb: Sandbox, truth: dict, database: Database,
                                                                  tmp_path: Path) -> None:
    domain = next(iter(truth))
    run_id = new_run(database)
    enrich(database, run_id, [domain], sandbox_settings(sb), tmp_path, enrichers=[FingerprintsEnricher])
    with database.session() as session:
        row = session.execute(select(Fingerprint).where(Fingerprint.run_id == run_id,
                                                        Fingerprint.kind == "favicon_mmh3")).scalar_one()
        capture = session.get(Capture, row.capture_id)
    icon = read_record_payload(capture.warc_file, capture.warc_offset)
    assert (capture.kind, capture.url, capture.http_status) == ("response", f"https://{domain}/favicon.ico", 200)
    # Computed here, independently: signed 32-bit MurmurHash3 of base64 with a newline every 76 characters.
    expected = mmh3.hash(base64.encodebytes(icon))
    assert -2**31 <= expected < 2**31
    assert row.value == str(expected) and icon == sb.world.sites[domain].__self__.favicon.data  # type: ignore[attr-defined]
    assert str(expected) != str(mmh3.hash(base64.b64encode(icon)))  # the newlines matter


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit, written out from the reference, signed as mmh3 and Shodan print it."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & mask  # noqa: E731
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = rotl((int.from_bytes(data[i:i + 4], "little") * c1) & mask, 15) * c2 & mask
        h = (rotl(h ^ k, 13) * 5 + 0xE6546B64) & mask
    tail = int.from_bytes(data[whole:], "little")
    if tail or len(data) % 4:
        h ^= rotl((tail * c1) & mask, 15) * c2 & mask
    h ^= len(data)
    for shift, factor in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = ((h ^ (h >> shift)) * factor) & mask
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def test_favicon_hash_of_known_bytes() -> None:
    data = bytes(range(256)) * 3  # 768 bytes: base64 with several line breaks
    assert murmur3_32(b"hello") == 613153351  # the reference implementation's published value
    assert favicon_hash(data) == str(murmur3_32(base64.encodebytes(data))) == "1836528006"


def test_hostile_favicons_are_counted_not_fatal(sb: Sandbox, database: Database, tmp_path: Path) -> None:
    # A favicon that trickles (past the timeout), one that never ends and a gzip bomb (both past
    # the 1 MiB an icon may take).
    hostile = ["slowfollowers.net", "megapanel-bulk.com", "compactsmm.net"]
    run_id = new_run(database)
    stats = enrich(database, run_id, hostile, sandbox_settings(sb, http_timeout=0.5), tmp_path,
                   enrichers=[FingerprintsEnricher])
    assert not stats.failures and stats.counters["favicon_fetch_failed"] == 3
    assert fingerprints(database, run_id) == {}


def test_captured_favicon_is_used_instead_of_fetching(sb: Sandbox, truth: dict, database: Database,
                                                      tmp_path: Path) -> None:
    domain = next(iter(truth))
    run_id = new_run(database)
    crawl_pages(database, run_id, sb, {domain: ["/", "/favicon.ico"]}, tmp_path)
    enrich(database, run_id, [domain], sandbox_settings(sb), tmp_path, enrichers=[FingerprintsEnricher])
    with database.session() as session:
        captures = session.scalars(select(Capture.url).where(Capture.run_id == run_id)).all()
    assert sorted(captures) == [f"https://{domain}/", f"https://{domain}/favicon.ico"]  # nothing new fetched


def test_tracking_ids_from_vendor_snippets() -> None:
    html = """<script>gtag('config', 'G-9S70870T2T'); gtag('config', 'UA-134081485-3');</script>
    <script>(function(w,d,s,l,i){})(window,document,'script','dataLayer','GTM-2I9KQA1');</script>
    <script>fbq('init', '123456789012345');</script><script>ym(87654321, "init", {clickmap:true});</script>
    <script src="https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-pub-1234567890123456"></script>
    <div class="BIG-SALE g-recaptcha" data-x="G-SHORT"></div>"""
    assert tracking_ids(html) == ["UA-134081485-3", "G-9S70870T2T", "GTM-2I9KQA1", "pub-1234567890123456",
                                  "fbq:123456789012345", "ym:87654321"]
