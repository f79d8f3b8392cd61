"""Sites that misbehave the ways real ones do, so crawlers prove they survive them:
a redirect loop, a body that trickles for minutes, a 50 MB body, a gzip bomb, broken
HTML, and a 200 page that is really an error. (DNS SERVFAIL and bad certificates are
ordinary panels with broken infrastructure; generate.py sets those up.)
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from .site_base import Offer, esc
from .world import HttpRequest, HttpResponse

TRICKLE_SECONDS_PER_BYTE = 1.0
BIG_BODY_BYTES = 50 * 1024 * 1024
BIG_BODY_CHUNK = 64 * 1024
GZIP_BOMB_DECOMPRESSED = 1024 * 1024 * 1024

_HTML = [("Content-Type", "text/html; charset=UTF-8"), ("Server", "nginx")]


def _redirect_to_https(request: HttpRequest) -> HttpResponse | None:
    if request.scheme == "http":
        return HttpResponse(301, [("Location", f"https://{request.host}{request.target}")], b"")
    return None


@dataclass
class RedirectLoop:
    """`/` sends to `/login?next=/`, which sends back to `/`: every URL loops."""

    domain: str

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.target).path
        location = f"https://{self.domain}/" if path == "/login" else f"https://{self.domain}/login?next=%2F"
        return HttpResponse(302, [("Location", location), ("Server", "nginx")], b"")


TRICKLE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Services</title></head><body>"
    b'<h1>Services</h1><table id="service-table"><thead><tr><th>ID</th><th>Service</th>'
    b"<th>Rate per 1000</th><th>Min order</th><th>Max order</th></tr></thead><tbody>"
    b"<tr><td>1</td><td>Spotify Plays [USA]</td><td>0.95</td><td>1000</td><td>1000000</td></tr>"
    b"</tbody></table></body></html>\n"
)


@dataclass
class Trickle:
    """200 with a small page sent one byte a second: about five minutes in all."""

    domain: str

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        return _redirect_to_https(request) or HttpResponse(200, list(_HTML), self._body())

    async def _body(self) -> AsyncIterator[bytes]:
        for index in range(len(TRICKLE_PAGE)):
            if index:
                await asyncio.sleep(TRICKLE_SECONDS_PER_BYTE)
            yield TRICKLE_PAGE[index : index + 1]


@cache
def _big_chunks() -> tuple[bytes, bytes]:
    """The first chunk (page head, then rows) and the filler chunk every other one repeats."""
    row = b"<tr><td>0</td><td>Instagram Followers [Refill 30D]</td><td>1.20</td><td>100</td><td>100000</td></tr>\n"
    filler = (row * (BIG_BODY_CHUNK // len(row) + 1))[:BIG_BODY_CHUNK]
    head = b'<!DOCTYPE html><html><head><title>All services</title></head><body><table id="service-table"><tbody>\n'
    return (head + filler)[:BIG_BODY_CHUNK], filler


@dataclass
class HugeBody:
    """200 with a 50 MiB body streamed in 64 KiB chunks (Content-Length announced)."""

    domain: str

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        headers = [*_HTML, ("Content-Length", str(BIG_BODY_BYTES))]
        return _redirect_to_https(request) or HttpResponse(200, headers, self._body())

    async def _body(self) -> AsyncIterator[bytes]:
        first, filler = _big_chunks()
        yield first
        for _ in range(BIG_BODY_BYTES // BIG_BODY_CHUNK - 1):
            yield filler
            await asyncio.sleep(0)


_BOMB_HEAD = b"<!DOCTYPE html><html><head><title>Services</title></head><body>"
_BOMB_BLOCK = 1024 * 1024
_BOMB_BLOCKS = (GZIP_BOMB_DECOMPRESSED - len(_BOMB_HEAD)) // _BOMB_BLOCK
GZIP_BOMB_INFLATED = len(_BOMB_HEAD) + _BOMB_BLOCKS * _BOMB_BLOCK


@cache
def _bomb_parts() -> tuple[bytes, bytes, bytes]:
    """Compressed head, one compressed megabyte of spaces, and the final empty block.

    After a full flush deflate forgets its window, so every identical megabyte compresses
    to identical bytes: the bomb is the middle part repeated.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(_BOMB_HEAD) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(b" " * _BOMB_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first, repeated, compressor.flush()


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"


def gzip_bomb_wire_size() -> int:
    first, repeated, tail = _bomb_parts()
    return len(_GZIP_HEADER) + len(first) + len(repeated) * _BOMB_BLOCKS + len(tail) + 8


@cache
def gzip_bomb() -> bytes:
    """About 1 MB of gzip inflating to `GZIP_BOMB_INFLATED` bytes (just under 1 GiB): an
    HTML page padded with spaces. Built once per process (the CRC takes a few tenths of a
    second), then cached."""
    first, repeated, tail = _bomb_parts()
    block = b" " * _BOMB_BLOCK
    crc = zlib.crc32(_BOMB_HEAD)
    for _ in range(_BOMB_BLOCKS):
        crc = zlib.crc32(block, crc)
    trailer = struct.pack("<II", crc, GZIP_BOMB_INFLATED & 0xFFFFFFFF)
    return _GZIP_HEADER + first + repeated * _BOMB_BLOCKS + tail + trailer


@dataclass
class GzipBomb:
    domain: str

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        body = gzip_bomb()
        headers = [*_HTML, ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))]
        return _redirect_to_https(request) or HttpResponse(200, headers, body)


UNAVAILABLE_PAGE = (
    "<!DOCTYPE html><html><head><title>{brand}</title></head><body>"
    '<div class="container"><h1>Service temporarily unavailable</h1>'
    "<p>The server is temporarily unable to service your request due to maintenance downtime or capacity problems. "
    "Please try again later.</p></div></body></html>"
)
DATABASE_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>Database Exception</title></head><body>"
    "<h1>Database Exception &ndash; yii\\db\\Exception</h1>"
    "<p>SQLSTATE[HY000] [2002] Connection refused</p>"
    "<pre>Error Info: Array\n(\n    [0] =&gt; HY000\n    [1] =&gt; 2002\n)\n</pre>"
    "<p>Caused by: PDOException SQLSTATE[HY000] [2002] Connection refused in "
    "/var/www/panel/vendor/yiisoft/yii2/db/Connection.php:722</p>"
    "</body></html>"
)


@dataclass
class ErrorAsOk:
    """Answers 200 everywhere; the home page says the service is down and the services
    page prints a database exception. Nothing here is a catalogue."""

    domain: str
    brand: str

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if redirect := _redirect_to_https(request):
            return redirect
        path = urlsplit(request.target).path
        page = DATABASE_ERROR_PAGE if path.startswith("/services") else UNAVAILABLE_PAGE.format(brand=esc(self.brand))
        return HttpResponse(200, list(_HTML), page.encode())


MALFORMED_COLUMNS = ("ID", "Service", "Rate per 1000", "Min order", "Max order", "Description")


@dataclass
class MalformedPanel:
    """A Perfect-Panel-like services page with broken markup: unclosed cells and rows,
    unquoted attributes, misnested inline tags, stray end tags, raw `&` and `<`, no
    `</table>`, and an unterminated comment before the end. Browsers and lxml recover
    every service row; strict parsers do not."""

    domain: str
    brand: str
    catalogue: tuple[Offer, ...]

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if redirect := _redirect_to_https(request):
            return redirect
        path = urlsplit(request.target).path
        if path == "/services":
            return HttpResponse(200, list(_HTML), self.services_page().encode())
        if path == "/":
            home = (
                f"<html><head><title>{esc(self.brand)}</title><body><div class=nav><a href=/services>Services</a>"
                f"<a href=/terms>Terms</div><h1>{esc(self.brand)}<p>Best SMM panel</h2>"
            )
            return HttpResponse(200, list(_HTML), home.encode())
        return HttpResponse(404, list(_HTML), b"<h1>Not Found")

    def services_page(self) -> str:
        head = "".join(f"<th>{title}" for title in MALFORMED_COLUMNS)
        rows: list[str] = []
        category = None
        for index, o in enumerate(self.catalogue):
            if o.category != category:
                category = o.category
                rows.append(f"<tr data-filter-table-category-id={len(rows)}><td colspan=6><strong>{esc(category)}</td>")
            rows.append(
                f"<tr><td data-filter-table-service-id={o.service_id}>{o.service_id}<td class=service-name><b>{esc(o.name)}"
                f"<td>{o.rate_display}</b><td>{o.min_display}<td>{o.max_display}"
                f"<td><div class=hidden id=service-description-id-{o.service_id}>{esc(o.description)} & fast start <3</td>"
            )
            if index % 7 == 3:
                rows.append("</div></span></td>")
        return (
            f"<html><head><meta charset=utf-8><title>Services - {esc(self.brand)}</title>"
            '<body><div class="container"><div class=row><div class="col-lg-12">'
            f"<table class=table id=service-table><thead><tr>{head}</thead>"
            "<tbody id=service-tbody>" + "\n".join(rows) + "\n<div class=footer>&copy; 2024 " + esc(self.brand) + "</span>"
            "\n<!-- footer scripts\n<script>window.modules = {};</script>"
        )
