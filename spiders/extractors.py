"""The entry point for page extraction: which page object reads a page.

The crawler hands over what it fetched (URL, body, headers) and gets typed
results back; it never needs to know which theme or software made the page.
Page objects are tried from the most specific markup to the generic table, and
a specific one that finds nothing gives way to the generic one (a theme that
keeps the hooks but moves the table still has a readable table).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .extract_api import parse_services
from .extract_perfectpanel import PerfectPanelServicesPage
from .extract_smartpanel import SmartPanelServicesPage
from .extract_table import Headers, ServicesPage, TablePage, header_dict, parse_html, text_of
from .items import PageExtraction

PAGE_KINDS: tuple[type[ServicesPage], ...] = (PerfectPanelServicesPage, SmartPanelServicesPage, TablePage)


def services_page(url: str, body: str | bytes, headers: Headers = None) -> ServicesPage:
    """The page object for a services page: the first kind whose markup the page
    carries, else the generic table."""
    header_map = header_dict(headers)
    tree = parse_html(body, header_map)
    kind = next((kind for kind in PAGE_KINDS if kind.matches(tree)), TablePage)
    return kind(url, body, header_map, tree=tree)


def extract_page(url: str, body: str | bytes, headers: Headers = None) -> PageExtraction:
    """Entries, pagination and category links of one services page."""
    page = services_page(url, body, headers)
    result = page.extract()
    if not result.entries and not isinstance(page, TablePage):
        fallback = TablePage(url, body, page.headers, tree=page.tree).extract()
        if fallback.entries:
            return fallback
    return result


def read_catalogue(source: str, url: str, body: str | bytes, headers: Headers = None, *,
                   currency: str | None = None) -> PageExtraction:
    """One page of a catalogue: a services page (`source` "html") or an API v2 `services`
    answer ("api", in `currency` when the account's balance named one). Raises the API's
    PanelApiError and ApiFormatError for an answer that is not a services list."""
    if source == "api":
        return PageExtraction(url, "api", parse_services(body, currency=currency))
    return extract_page(url, body, headers)


# Words that name the price list, in the languages panels are common in.
_SERVICES_WORDS = frozenset({
    "services", "service", "prices", "price", "pricing", "price list", "pricelist",
    "rates", "tarifs", "tarif", "tariffs", "precios", "preços", "precos", "servicios", "serviços",
    "servicos", "preise", "dienste", "fiyatlar", "hizmetler", "servisler", "layanan", "harga",
    "daftar layanan", "услуги", "цены", "прайс", "servizi", "prezzi", "khidmat", "الخدمات",
    "الأسعار", "सेवाएं", "dịch vụ", "bảng giá",
})
_SQUEEZE = re.compile(r"\s+")


# Pages other than the catalogue a home page may link to, by the words of their path or
# link text, and where to look when it links none.
SIDE_PAGE_WORDS = {
    "api_docs": ("api",),
    "addfunds": ("addfunds", "add-funds", "add funds", "deposit", "balance", "payment"),
    "terms": ("terms", "tos"),
    "contact": ("contact", "support"),
}
SIDE_PAGE_DEFAULTS = {"api_docs": "/api", "addfunds": "/addfunds", "terms": "/terms", "contact": "/contact"}


@dataclass
class HomeLinks:
    """Where a home page leads: its services page(s), best first; each side page kind's
    links (or the usual path when none is linked); its favicon."""

    services: list[str]
    side_pages: dict[str, list[str]]
    favicon: str


def home_links(url: str, body: str | bytes, headers: Headers = None) -> HomeLinks:
    """The links a crawl follows from a home page, read in one pass over its anchors.

    Services: links whose path ends in a word for the price list (/services,
    /pricing), then links whose text says it. Side pages: links whose path ends
    in, or whose text is, one of SIDE_PAGE_WORDS. Same site only.
    """
    tree = parse_html(body, header_dict(headers))
    base = tree.find(".//base[@href]")
    base_url = urljoin(url, base.get("href")) if base is not None else url
    site = _site(url)
    by_path: list[str] = []
    by_text: list[str] = []
    side_pages: dict[str, list[str]] = {kind: [] for kind in SIDE_PAGE_WORDS}
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        absolute = urljoin(base_url, href.strip()).split("#", 1)[0]
        parts = urlsplit(absolute)
        if _site(absolute) != site or parts.scheme not in ("http", "https"):
            continue
        text = _SQUEEZE.sub(" ", text_of(anchor)).strip()
        path = parts.path.lower().rstrip("/")
        last_segment = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]  # "services.php"
        if _means_services(last_segment.replace("-", " ").replace("_", " ")):
            by_path.append(absolute)
        elif _means_services(text):
            by_text.append(absolute)
        for kind, words in SIDE_PAGE_WORDS.items():
            if any(path.endswith("/" + word.replace(" ", "")) or word == text.lower() for word in words):
                side_pages[kind].append(absolute)
    icon = next((link.get("href") for link in tree.iter("link")
                 if "icon" in (link.get("rel") or "").lower().split() and link.get("href")), None)
    return HomeLinks(
        services=[link for link in dict.fromkeys(by_path + by_text) if link != url],
        side_pages={kind: list(dict.fromkeys(found)) or [urljoin(url, SIDE_PAGE_DEFAULTS[kind])]
                    for kind, found in side_pages.items()},
        favicon=urljoin(base_url, icon or "/favicon.ico"),
    )


def _means_services(text: str) -> bool:
    key = _SQUEEZE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()
    return key in _SERVICES_WORDS


def same_site(url: str, other: str) -> bool:
    """Whether two URLs are on one site (`www.` or not)."""
    return _site(url) == _site(other)


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")
