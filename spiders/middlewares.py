"""Downloader middlewares, one concern each.

Order matters (Scrapy calls process_response from the highest number down):
`CaptureMiddleware` sits at 950, next to the downloader, so it sees every
response as received: before redirects are followed, retries decided or
bodies decompressed.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from panelmap.spiders.store import CrawlStore


class ProxyMiddleware:
    """Sends every request through PANELMAP_PROXY (the investigator's vantage point)."""

    def __init__(self, proxy: str | None):
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyMiddleware:
        return cls(crawler.settings.get("PANELMAP_PROXY"))

    def process_request(self, request: Request) -> None:
        if self.proxy and not request.meta.get("playwright"):
            request.meta.setdefault("proxy", self.proxy)


def _headers(headers: Any) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


class CaptureMiddleware:
    """Writes every request and response to WARC, and a Capture row for it, as it arrives.

    Responses rendered by Playwright are a DOM, not bytes on the wire: they are
    kept as `resource` records (kind "dom") next to the raw response, with the
    screenshots the request asked for.
    """

    def __init__(self, store: CrawlStore):
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureMiddleware:
        return cls(CrawlStore.of(crawler))

    def process_request(self, request: Request) -> None:
        request.meta["panelmap_started"] = time.monotonic()

    def process_response(self, request: Request, response: Response) -> Response:
        now = datetime.now(timezone.utc)
        started = request.meta.get("panelmap_started")
        duration_ms = int((time.monotonic() - started) * 1000) if started else None
        domain = request.meta.get("site")
        if "playwright" in response.flags:
            self._capture_rendering(request, response, domain, now)
            return response
        ip = str(response.ip_address) if response.ip_address else None
        written = self.store.warc.write_response(
            response.url, response.status, _reason(response.status), _headers(response.headers), response.body,
            at=now, ip_address=ip,
        )
        self.store.warc.write_request(
            request.url, request.method, _headers(request.headers), request.body, at=now,
            concurrent_to=written.record_id,
        )
        request.meta["capture_id"] = self.store.record(
            "response", request.url, written, domain=domain,
            final_url=response.url, method=request.method, http_status=response.status,
            content_type=response.headers.get("Content-Type", b"").decode("latin-1") or None,
            server_ip=ip, fetched_at=now, duration_ms=duration_ms,
        )
        request.meta["warc_record"] = written
        return response

    def _capture_rendering(self, request: Request, response: Response, domain: str | None, now: datetime) -> None:
        parent = request.meta.get("raw_capture")  # (capture id, WrittenRecord) of the static fetch
        parent_id, parent_record = parent if parent else (None, None)
        dom = self.store.warc.write_resource(
            f"urn:panelmap:dom:{response.url}", "text/html; charset=utf-8", response.body, at=now,
            refers_to=parent_record,
        )
        request.meta["capture_id"] = self.store.record(
            "dom", request.url, dom, domain=domain, parent_id=parent_id, final_url=response.url,
            http_status=response.status, content_type="text/html", fetched_at=now,
        )
        for method in request.meta.get("playwright_page_methods", []):
            if getattr(method, "method", None) == "screenshot" and isinstance(method.result, bytes):
                shot = self.store.warc.write_resource(
                    f"urn:panelmap:screenshot:{response.url}", "image/png", method.result, at=now,
                    refers_to=dom,
                )
                self.store.record("screenshot", request.url, shot, domain=domain,
                                  parent_id=request.meta["capture_id"], content_type="image/png", fetched_at=now)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

