"""Storing what the spider found: one page's entries per transaction."""

from __future__ import annotations

from scrapy.crawler import Crawler

from panelmap.spiders.crawl_items import CatalogueItem, SiteFinishedItem, SiteSoftwareItem
from panelmap.spiders.store import CrawlStore
from panelmap.storage import record_prices, upsert_services


class StoragePipeline:
    def __init__(self, store: CrawlStore):
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(CrawlStore.of(crawler))

    def process_item(self, item: object) -> object:
        if isinstance(item, SiteSoftwareItem):
            detection = item.detection
            self.store.site_id(item.domain, software=detection.software, software_evidence=detection.evidence,
                               tenant_code=detection.tenant_code)
        elif isinstance(item, CatalogueItem):
            self._store_catalogue(item)
        elif isinstance(item, SiteFinishedItem):
            self.store.finish_site(item.domain, item.status, item.reason, item.pages, item.services, item.details)
        return item

    def _store_catalogue(self, item: CatalogueItem) -> None:
        site_id = self.store.site_id(item.domain)
        # A panel may list one id twice (in two categories): the last listing wins, as on the page.
        entries = list({entry.service_id: entry for entry in item.entries}.values())
        with self.store.database.session() as session:
            service_ids = upsert_services(session, site_id, [entry.service_id for entry in entries])
            record_prices(session, self.store.run_id, item.source, [
                {
                    "service_id": service_ids[entry.service_id], "capture_id": item.capture_id,
                    "name": entry.name, "category": entry.category, "description": entry.description,
                    "rate": entry.rate, "rate_text": entry.rate_text, "currency": entry.currency,
                    "currency_assumed": entry.currency_assumed,
                    "rate_usd": self.store.rates.to_usd(entry.rate, entry.currency),
                    "min_quantity": entry.min_quantity, "max_quantity": entry.max_quantity,
                    "max_unlimited": entry.max_unlimited, "average_time": entry.average_time,
                    "refill": entry.refill, "cancel": entry.cancel, "dripfeed": entry.dripfeed,
                    "platform": entry.platform, "metric": entry.metric, "geo": entry.geo,
                    "device": entry.device, "premium": entry.premium, "guarantee_days": entry.guarantee_days,
                }
                for entry in entries
            ])
