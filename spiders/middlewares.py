"""Downloader middlewares, one concern each.

Order matters (Scrapy calls process_response from the highest number down):
`CaptureMiddleware` sits at 950, next to the downloader, so it sees every
response as received: before redirects are followed, retries decided or
bodies decompressed.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from panelmap.spiders.crawl_items import PageRendered, ResponseCaptured
from panelmap.spiders.store import CrawlStore
from panelmap.storage.warc import new_record_id


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
    """Hands every request and response, as it arrives, to storage for WARC and a Capture row.

    Each capture is named here by the WARC-Record-ID its record will have
    (`request.meta["capture"]`), so pages can point at their capture at once.
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
        record_id = request.meta["capture"] = new_record_id()
        if "playwright" in response.flags:
            self.store.send(PageRendered(
                record_id=record_id, domain=request.meta.get("site"), url=request.url, final_url=response.url,
                status=response.status, dom=response.body, raw_record_id=request.meta.get("raw_capture"),
                fetched_at=now, screenshots=[
                    (new_record_id(), method.result) for method in request.meta.get("playwright_page_methods", [])
                    if getattr(method, "method", None) == "screenshot" and isinstance(method.result, bytes)
                ],
            ))
            return response
        self.store.send(ResponseCaptured(
            record_id=record_id, domain=request.meta.get("site"), url=request.url, final_url=response.url,
            method=request.method, status=response.status, headers=_headers(response.headers), body=response.body,
            request_headers=_headers(request.headers), request_body=request.body, fetched_at=now,
            ip_address=str(response.ip_address) if response.ip_address else None,
            duration_ms=int((time.monotonic() - started) * 1000) if started else None,
        ))
        return response
