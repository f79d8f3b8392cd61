"""Running a crawl in-process: what `panelmap crawl` and `panelmap demo` call.

A crawl is seeds plus options, nothing in memory, so a job can be handed to
another process or machine unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from panelmap import settings as default_settings
from panelmap.browser import CHROMIUM_ARGS, find_chromium
from panelmap.gc_tuning import tune_for_long_run
from panelmap.spiders.panel import PanelSpider
from panelmap.spiders.writer import StorageProcess

RENDER_MODES = ("auto", "always", "never")


@dataclass
class CrawlOptions:
    database_url: str | None = None
    proxy: str | None = None
    ca_bundle: str | None = None
    render: str = "auto"
    secrets_file: str | None = None
    concurrency: int | None = None
    job: str | None = None
    job_id: int | None = None  # the scheduler's Job row, recorded as CrawlRun.job_id
    dns: str | None = None
    warc_dir: str = "captures"
    rates: dict[str, str] = field(default_factory=dict)
    chromium: str | None = None
    # Politeness and limits; None keeps the default in panelmap/settings.py.
    per_domain_concurrency: int | None = None
    download_timeout: float | None = None
    max_body_size: int | None = None
    max_redirects: int | None = None
    retries: int | None = None
    autothrottle: bool | None = None
    user_agent: str | None = None
    log_level: str = "WARNING"
    extra_settings: dict[str, Any] = field(default_factory=dict)


def crawl_settings(options: CrawlOptions, progress: Callable[[dict[str, int]], None] | None = None) -> Settings:
    """Scrapy settings for a crawl with these options."""
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    overrides: dict[str, Any] = {
        "PANELMAP_DATABASE_URL": options.database_url,
        "PANELMAP_PROXY": options.proxy,
        "PANELMAP_CA_BUNDLE": options.ca_bundle,
        "PANELMAP_RENDER": options.render,
        "PANELMAP_SECRETS_FILE": options.secrets_file,
        "PANELMAP_JOB": options.job,
        "PANELMAP_JOB_ID": options.job_id,
        "PANELMAP_DNS": options.dns,
        "PANELMAP_WARC_DIR": options.warc_dir,
        "PANELMAP_RATES": options.rates,
        "PANELMAP_PROGRESS": progress,
        "LOG_LEVEL": options.log_level,
        # The CLI's own log handler shows Scrapy's messages; a LOG_FILE still gets Scrapy's handler.
        "LOG_INSTALL_ROOT_HANDLER": bool(options.extra_settings.get("LOG_FILE")),
    }
    limits = {
        "CONCURRENT_REQUESTS": options.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": options.per_domain_concurrency,
        "DOWNLOAD_TIMEOUT": options.download_timeout,
        "DOWNLOAD_MAXSIZE": options.max_body_size,
        "REDIRECT_MAX_TIMES": options.max_redirects,
        "RETRY_TIMES": options.retries,
        "AUTOTHROTTLE_ENABLED": options.autothrottle,
        "USER_AGENT": options.user_agent,
    }
    overrides.update({name: value for name, value in limits.items() if value is not None})
    if options.render != "never":
        overrides.update(playwright_settings(options))
    settings.setdict({**overrides, **options.extra_settings}, priority="cmdline")
    return settings


def playwright_settings(options: CrawlOptions) -> dict[str, Any]:
    launch: dict[str, Any] = {"headless": True, "args": CHROMIUM_ARGS}
    chromium = find_chromium(options.chromium)
    if chromium:
        launch["executable_path"] = chromium
    if options.proxy:
        launch["proxy"] = {"server": options.proxy}
    return {
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        },
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        # Certificates are judged (and recorded) by the TLS enricher; a bad one never hides a page.
        "PLAYWRIGHT_CONTEXTS": {"default": {"ignore_https_errors": True}},
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 30_000,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
    }


def run_crawl(seeds: list[str], options: CrawlOptions,
              progress: Callable[[dict[str, int]], None] | None = None) -> int:
    """Crawl `seeds` and return the id of the CrawlRun that holds the results."""
    storage = StorageProcess()  # imports its modules on another core while Scrapy sets up
    try:
        settings = crawl_settings(options, progress)
        settings.set("PANELMAP_STORAGE_PROCESS", storage, priority="cmdline")
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(PanelSpider)
        process.crawl(crawler, seeds=seeds)
        tune_for_long_run()
        process.start()
    finally:
        storage.close()  # already closed by the crawl, unless it failed before it began
    store = getattr(crawler, "_panelmap_store", None)
    if store is None:
        raise RuntimeError("the crawl did not start")
    return store.run_id
