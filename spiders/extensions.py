"""Scrapy extensions: the run record's lifecycle, and live progress for the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from panelmap.spiders.crawl_items import SiteFinishedItem
from panelmap.spiders.signals import catalogue_read
from panelmap.spiders.store import CrawlStore


class RunRecorder:
    """Opens the CrawlRun when the spider opens and closes it, with the crawl's stats, at the end."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        store = CrawlStore.of(self.crawler)
        spider.logger.info("crawl run %s: captures in %s", store.run_id, store.warc_directory)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        CrawlStore.of(self.crawler).close(reason, stats)


class CrawlProgress:
    """Counts what the crawl has done, for a progress display (sites / pages / services / errors).

    `PANELMAP_PROGRESS` is a callable the CLI sets; it gets the counts after every change.
    """

    def __init__(self, crawler: Crawler, report: Callable[[dict[str, int]], None] | None):
        self.report = report
        self.counts = {"sites_done": 0, "sites_failed": 0, "pages": 0, "services": 0, "errors": 0}
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.catalogue_read, signal=catalogue_read)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        return cls(crawler, crawler.settings.get("PANELMAP_PROGRESS"))

    def _changed(self) -> None:
        if self.report:
            self.report(dict(self.counts))

    def response_received(self, **_: Any) -> None:
        self.counts["pages"] += 1
        self._changed()

    def catalogue_read(self, services: int, **_: Any) -> None:
        self.counts["services"] += services
        self._changed()

    def item_scraped(self, item: object, **_: Any) -> None:
        if isinstance(item, SiteFinishedItem):
            self.counts["sites_done"] += 1
            self.counts["sites_failed"] += item.status == "failed"
            self.counts["errors"] += item.status != "complete"
            self._changed()
