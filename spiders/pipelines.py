"""The storage pipeline: every item goes to the crawl's storage process, in order."""

from __future__ import annotations

from scrapy.crawler import Crawler

from panelmap.spiders.crawl_items import SiteFinishedItem, SiteSoftwareItem
from panelmap.spiders.store import CrawlStore


class StoragePipeline:
    def __init__(self, store: CrawlStore):
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(CrawlStore.of(crawler))

    def process_item(self, item: object) -> object:
        if isinstance(item, (SiteSoftwareItem, SiteFinishedItem)):
            self.store.send(item)
        return item
