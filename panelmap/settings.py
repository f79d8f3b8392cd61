"""Scrapy settings for panelmap's spiders (scrapy.cfg points here).

Everything an investigator may want to tune is a setting, so that `scrapy crawl`
with `-s NAME=value` and `panelmap crawl` options change the same knobs.
"""

from panelmap import __version__

BOT_NAME = "panelmap"
SPIDER_MODULES = ["panelmap.spiders"]
NEWSPIDER_MODULE = "panelmap.spiders"

# Identify ourselves by default: investigators can override it per crawl.
USER_AGENT = f"panelmap/{__version__} (+https://github.com/panelmap/panelmap; research crawler)"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

# --- politeness and limits (all overridable with -s or the [crawl] config table) ---
ROBOTSTXT_OBEY = False  # investigators crawl sites that would rather not be seen
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Items go to one synchronous pipeline: running 100 of them "in parallel" (Scrapy's default)
# only costs 100 asyncio tasks per response.
CONCURRENT_ITEMS = 4
# A warning for spider authors: to give it, Scrapy parses a generator callback's source again
# whenever its cache has let go of that bound method, which with one callback for every
# response cost more CPU than the spider's own page handling.
WARN_ON_GENERATOR_RETURN_VALUE = False
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024  # also caps decompressed size: gzip bombs stop here
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
COOKIES_ENABLED = True
# Both consoles run code sent to them inside the crawl, which holds the sites' API keys
# and session cookies; Scrapy's remote control (on by default since 2.19) also writes its
# token to a file any process of the same user can read.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

# --- panelmap's components ---
DOWNLOADER_MIDDLEWARES = {
    "panelmap.spiders.middlewares.ProxyMiddleware": 740,
    # Highest number: first to see a response, before redirects, retries and decompression.
    "panelmap.spiders.middlewares.CaptureMiddleware": 950,
}
ITEM_PIPELINES = {"panelmap.spiders.pipelines.StoragePipeline": 300}
EXTENSIONS = {
    "panelmap.spiders.extensions.RunRecorder": 100,
    "panelmap.spiders.extensions.CrawlProgress": 110,
}

# --- panelmap's own settings (the `panelmap crawl` options set these) ---
PANELMAP_DATABASE_URL = None  # None: --db / $PANELMAP_DATABASE_URL / sqlite:///panelmap.db
PANELMAP_WARC_DIR = "captures"
PANELMAP_PROXY = None
PANELMAP_CA_BUNDLE = None
PANELMAP_RENDER = "auto"  # auto / always / never
PANELMAP_SECRETS_FILE = None
PANELMAP_JOB = None
PANELMAP_DNS = None
PANELMAP_RATES: dict[str, str] = {}
PANELMAP_CHROMIUM = None  # None: found by panelmap.browser.find_chromium()
PANELMAP_STORAGE_PROCESS = None  # a StorageProcess started early (run_crawl does); None: the crawl starts one
