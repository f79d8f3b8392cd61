"""panelmap: a reconnaissance crawler for SMM panels, their resellers and infrastructure."""

import os
from importlib.metadata import PackageNotFoundError, version

# panelmap fetches nothing at run time but what it is told to crawl. Scrapy's cookie
# handling uses tldextract, which would otherwise download the Public Suffix List on
# first use; with no URLs it uses the snapshot it ships. A user's own setting wins.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

try:
    __version__ = version("panelmap")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
