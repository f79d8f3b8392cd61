"""Web fingerprints: the values that tie sites to one operator (section 6 of DOMAIN.md).

Read from the crawl's captures of the site: favicon hashes (Shodan's
`mmh3.hash(base64.encodebytes(data))`, signed 32-bit, plus MD5 and SHA-256),
the home page's title, body hash and Server header, tracking ids, the panel
software and its tenant asset code; and from the run's DNS TXT answers, domain
verification tokens. A favicon the crawl did not fetch is fetched here, through
the proxy, and captured like any other response.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import mmh3
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap.spiders.software import SHARED_ASSET_FOLDERS, detect_software
from panelmap.storage import record_capture, upsert
from panelmap.storage.models import Capture, DnsObservation, Fingerprint

from .base import Enricher, SiteTarget, read_capture
from .html import decode_body, parse_page
from .http import HttpError

MAX_VALUE = 512
MAX_ICON_BYTES = 1024 * 1024

TRACKING_PATTERNS = (
    re.compile(r"(?<![\w-])UA-\d{4,10}-\d{1,4}(?![\w-])"),
    re.compile(r"(?<![\w-])G-[A-Z0-9]{6,12}(?![\w-])"),
    re.compile(r"(?<![\w-])GTM-[A-Z0-9]{6,10}(?![\w-])"),
    re.compile(r"(?<![\w])pub-\d{10,20}(?![\w-])"),
)
_FACEBOOK_PIXEL = re.compile(r"""fbq\(\s*['"]init['"]\s*,\s*['"]?(\d{6,20})""")
_YANDEX_METRIKA = re.compile(r"""\bym\(\s*(\d{5,12})\s*,\s*['"]init['"]""")
_TENANT_ASSET = re.compile(r"(?:storage\.perfectcdn\.com|cdn\.mypanel\.link|cdn\.apanel\.link)/([A-Za-z0-9]{4,16})/")
_VERIFICATION_TOKEN = re.compile(r"^(?:[a-z0-9-]*-verification|ms)[=:]\s*\S+$", re.I)


def favicon_hash(data: bytes) -> str:
    """Shodan's `http.favicon.hash`: MurmurHash3 (32-bit, signed) of the base64 with newlines every 76 chars."""
    return str(mmh3.hash(base64.encodebytes(data)))


def tracking_ids(html: str) -> list[str]:
    """Analytics and ad ids; Facebook pixels and Yandex counters, bare digits, get a `fbq:` / `ym:` prefix."""
    found = [match.group(0) for pattern in TRACKING_PATTERNS for match in pattern.finditer(html)]
    found += [f"fbq:{match.group(1)}" for match in _FACEBOOK_PIXEL.finditer(html)]
    found += [f"ym:{match.group(1)}" for match in _YANDEX_METRIKA.finditer(html)]
    return list(dict.fromkeys(found))


def tenant_codes(html: str) -> list[str]:
    """Every tenant asset folder a page loads from (the detector keeps only the likeliest one)."""
    return list(dict.fromkeys(code for code in _TENANT_ASSET.findall(html) if code.lower() not in SHARED_ASSET_FOLDERS))


def page_fingerprints(url: str, html: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(kind, value) pairs any page of a site can show. The software verdict is the
    crawler's own detector's, so that a site is never two softwares at once."""
    pairs = [("tracking_id", value) for value in tracking_ids(html)]
    pairs += [("tenant_code", code) for code in tenant_codes(html)]
    software = detect_software(url, html, headers).software
    if software != "unknown":
        pairs.append(("software", software))
    return pairs


@dataclass
class _Found:
    kind: str
    value: str
    capture_id: int | None
    at: datetime


class _Findings(dict[tuple[str, str], _Found]):
    """Fingerprints of one site, each kept with the first capture that showed it."""

    def add(self, kind: str, value: str, capture_id: int | None, at: datetime) -> None:
        value = value[:MAX_VALUE]
        self.setdefault((kind, value), _Found(kind, value, capture_id, at))


class FingerprintsEnricher(Enricher):
    """Favicon, title, body hash, Server header, tracking ids, software, tenant code, TXT tokens."""

    name = "fingerprints"

    async def enrich(self, site: SiteTarget) -> int:
        found = _Findings()
        with self.session() as session:
            pages = html_pages(session, self.run_id, site.site_id)
            for token, capture_id, at in txt_tokens(session, self.run_id, site.site_id):
                found.add("dns_txt_token", token, capture_id, at)
        home = home_page(pages, site)
        icons = self._read_pages(home, pages, found)
        origin = _origin(home.final_url or home.url) if home else f"https://{site.domain}/"
        for url in dict.fromkeys([*icons, urljoin(origin, "/favicon.ico")]):
            icon = await self._favicon(site, url)
            if icon is not None:
                data, capture = icon
                found.add("favicon_mmh3", favicon_hash(data), capture.id, capture.fetched_at)
                found.add("favicon_md5", hashlib.md5(data).hexdigest(), capture.id, capture.fetched_at)
                found.add("favicon_sha256", hashlib.sha256(data).hexdigest(), capture.id, capture.fetched_at)
        with self.session() as session:
            for item in found.values():
                upsert(session, Fingerprint,
                       {"run_id": self.run_id, "site_id": site.site_id, "capture_id": item.capture_id,
                        "kind": item.kind, "value": item.value, "observed_at": item.at},
                       conflict=["run_id", "site_id", "kind", "value"], update=["capture_id", "observed_at"])
        return len(found)

    def _read_pages(self, home: Capture | None, pages: list[Capture], found: _Findings) -> list[str]:
        """Fingerprints of the captured pages, the home page first; returns the icons it links."""
        icons: list[str] = []
        for capture in ([home] if home else []) + [page for page in pages if page is not home]:
            stored = read_capture(capture)
            if not stored.complete:
                self.context.stats.counters["oversized_page"] += 1
                continue
            html = decode_body(stored.body, capture.content_type)
            url = capture.final_url or capture.url
            if capture is home:
                page = parse_page(html, url)
                if page.title:
                    found.add("title", page.title, capture.id, capture.fetched_at)
                found.add("body_sha256", hashlib.sha256(stored.body).hexdigest(), capture.id, capture.fetched_at)
                server = stored.header("server")
                if server:
                    found.add("server", server.strip(), capture.id, capture.fetched_at)
                icons = page.icons
            for kind, value in page_fingerprints(url, html, stored.headers):
                found.add(kind, value, capture.id, capture.fetched_at)
        return icons

    async def _favicon(self, site: SiteTarget, url: str) -> tuple[bytes, Capture] | None:
        """The icon's bytes (Content-Encoding undone) and their capture: the crawl's, else
        fetched and captured now. None when the site has none: an error status, an empty
        body, or an HTML page standing in for it."""
        with self.session() as session:
            capture = captured(session, self.run_id, site.site_id, url)
        if capture is None:
            capture = await self._fetch(site, url)
        if capture is None or capture.http_status != 200:
            return None
        stored = read_capture(capture, MAX_ICON_BYTES)
        if not stored.complete or not _is_icon(stored.body, capture.content_type):
            return None
        return stored.body, capture

    async def _fetch(self, site: SiteTarget, url: str) -> Capture | None:
        self.context.stats.counters["favicon_fetches"] += 1
        try:
            hops = await self.context.http.get(url, verify=False, max_redirects=3, max_bytes=MAX_ICON_BYTES)
        except HttpError:
            self.context.stats.counters["favicon_fetch_failed"] += 1
            return None
        last = hops[-1]
        written = self.context.warc.write_response(last.url, last.status, last.reason, last.headers, last.body,
                                                   at=last.fetched_at, ip_address=last.peer_ip)
        with self.session() as session:
            capture_id = record_capture(session, self.run_id, "response", url, written, site_id=site.site_id,
                                        final_url=last.url, method="GET", http_status=last.status,
                                        content_type=last.header("content-type"), server_ip=last.peer_ip,
                                        fetched_at=last.fetched_at, duration_ms=last.duration_ms)
            return session.get(Capture, capture_id)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


_IMAGE_MAGIC = (b"\x00\x00\x01\x00", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"BM", b"RIFF")


def _is_icon(data: bytes, content_type: str | None) -> bool:
    """An image, by its Content-Type or its first bytes: not the HTML or JSON error page
    some servers answer for a missing /favicon.ico."""
    if not data:
        return False
    if (content_type or "").lower().startswith("image/"):
        return True
    return data.startswith(_IMAGE_MAGIC) or data.lstrip()[:200].lower().startswith((b"<svg", b"<?xml"))


def html_pages(session: Session, run_id: int, site_id: int) -> list[Capture]:
    """The site's captured HTML responses in this run, oldest first."""
    captures = session.scalars(
        select(Capture)
        .where(Capture.run_id == run_id, Capture.site_id == site_id, Capture.kind == "response",
               Capture.http_status == 200)
        .order_by(Capture.id)
    )
    return [capture for capture in captures if "html" in (capture.content_type or "").lower()]


def home_page(pages: list[Capture], site: SiteTarget) -> Capture | None:
    """The home page: `/` on the domain itself if captured, else on another of its names."""
    homes = [page for page in pages if (urlsplit(page.final_url or page.url).path or "/") == "/"]
    on_domain = [page for page in homes if urlsplit(page.final_url or page.url).hostname == site.domain]
    return (on_domain or homes or [None])[0]


def captured(session: Session, run_id: int, site_id: int, url: str) -> Capture | None:
    """The latest response capture of `url` in this run, by requested or final URL."""
    return session.scalars(
        select(Capture)
        .where(Capture.run_id == run_id, Capture.site_id == site_id, Capture.kind == "response",
               (Capture.url == url) | (Capture.final_url == url))
        .order_by(Capture.id.desc())
    ).first()


def txt_tokens(session: Session, run_id: int, site_id: int) -> list[tuple[str, int | None, datetime]]:
    """Domain verification tokens (`google-site-verification=...`) in the site's TXT answers."""
    rows = session.execute(
        select(DnsObservation.answers, DnsObservation.capture_id, DnsObservation.observed_at)
        .where(DnsObservation.run_id == run_id, DnsObservation.site_id == site_id, DnsObservation.rtype == "TXT")
        .order_by(DnsObservation.qname)
    )
    return [(answer.strip(), capture_id, at) for answers, capture_id, at in rows
            for answer in answers or [] if _VERIFICATION_TOKEN.match(answer.strip())]
