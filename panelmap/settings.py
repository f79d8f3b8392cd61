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
