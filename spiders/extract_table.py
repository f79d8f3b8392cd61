"""Services tables of any panel software, and what every services page shares.

A services page is a table whose columns a person recognises by their titles:
"ID", "Service", "Rate per 1000", "Min order"... Themes and scrapers mangle
those titles ("Rateper1000", "$RATE/1000", "format_list_numberedID" where an
icon's ligature name is glued to the title), so columns are recognised by the
words inside the squeezed, lower-cased title, never by position or by a theme's
ids. `ServicesPage` is the base of the page objects (web-poet style: one class
per kind of page, built from a URL, a body and headers, with `to_entries()`);
`TablePage` is the generic one, used when no panel software's own markup is found.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import islice
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urljoin, urlsplit

from lxml import etree
from w3lib.encoding import html_body_declared_encoding, html_to_unicode, http_content_type_encoding, read_bom

from .items import CatalogueEntry, PageExtraction
from .numbers import (
    Currency,
    clean_text,
    currency_in_text,
    parse_average_time,
    parse_decimal,
    parse_quantities,
    parse_quantity,
    resolve_currency,
    split_max,
)
from .taxonomy import classify, normalise

Headers = Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None
# Plain lxml.etree elements, not lxml.html's: lxml.html looks up a Python class
# for every element it hands out, which costs more than the rest of reading a row.
Element = etree._Element


# --- the page --------------------------------------------------------------

def header_dict(headers: Headers) -> dict[str, str]:
    """Lower-case name -> value, from a mapping, pairs or Scrapy's Headers
    (bytes keys, list values); repeated headers are joined with ", "."""
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, str] = {}
    for name, value in pairs:
        values = value if isinstance(value, (list, tuple)) else [value]
        text = ", ".join(item.decode("latin-1") if isinstance(item, bytes) else str(item) for item in values)
        key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        result[key] = f"{result[key]}, {text}" if key in result else text
    return result


def decode_body(body: str | bytes, headers: Mapping[str, str]) -> str:
    """The page as text: the Content-Type charset, a BOM or a <meta> charset
    decide, UTF-8 otherwise (what browsers do)."""
    if isinstance(body, str):
        return body
    _, text = html_to_unicode(headers.get("content-type"), body)
    return text


def body_encoding(body: bytes, headers: Mapping[str, str]) -> str:
    """The encoding a browser would use: a BOM, else the Content-Type charset,
    else a <meta> charset, else UTF-8 (w3lib's order)."""
    bom_encoding, _ = read_bom(body)
    return (bom_encoding or http_content_type_encoding(headers.get("content-type"))
            or html_body_declared_encoding(body) or "utf-8")


@lru_cache(maxsize=16)
def _parser(encoding: str) -> etree.HTMLParser:
    return etree.HTMLParser(encoding=encoding)


def parse_html(body: str | bytes, headers: Mapping[str, str] | None = None) -> Element:
    """The document tree. Bytes are parsed as they are, in their encoding:
    decoding a large page to text first costs about as much as parsing it."""
    if isinstance(body, bytes):
        blank = not body or body.isspace()
        root = None if blank else etree.fromstring(body, _parser(body_encoding(body, headers or {})))
    else:
        if body.lstrip().startswith("<?xml"):  # lxml refuses an encoding declaration in text
            body = body.split("?>", 1)[1]
        root = None if not body or body.isspace() else etree.HTML(body)
    return root if root is not None else etree.HTML("<html></html>")


def text_of(element: Element) -> str:
    """All the text inside `element` (what lxml.html calls text_content())."""
    if len(element) == 0:  # most cells: no child elements, the text is all there is
        return element.text or ""
    return "".join(element.itertext())


_NEXT_WORDS = frozenset({
    "next", "next page", "next »", "»", "›", ">", "→", ">>", "следующая", "далее", "siguiente",
    "próxima", "proxima", "suivant", "sonraki", "berikutnya", "weiter", "successivo",
})
_CATEGORY_PARAMS = frozenset({"category", "category_id", "categoryid", "cat", "cat_id", "cid"})


class ServicesPage(ABC):
    """A fetched services page. Subclasses read one kind of markup."""

    kind: ClassVar[str]

    def __init__(self, url: str, body: str | bytes, headers: Headers = None, *,
                 tree: Element | None = None) -> None:
        self.url = url
        self.headers = header_dict(headers)
        self._body = body
        if tree is not None:
            self.__dict__["tree"] = tree

    @cached_property
    def tree(self) -> Element:
        return parse_html(self._body, self.headers)

    @classmethod
    @abstractmethod
    def matches(cls, tree: Element) -> bool:
        """Whether `tree` carries this kind's markup (cheap: no extraction)."""

    @abstractmethod
    def to_entries(self) -> list[CatalogueEntry]:
        """Every service listed on the page, in page order."""

    @cached_property
    def services_tables(self) -> list[Element]:
        """The tables that list services (the bulk of a large page)."""
        return []

    def extract(self) -> PageExtraction:
        return PageExtraction(
            url=self.url, extractor=self.kind, entries=self.to_entries(),
            next_pages=self.next_pages(), category_pages=self.category_pages(),
        )

    @cached_property
    def _chrome(self) -> _Chrome:
        """The page around the services tables: navigation, pager, currency menu.

        Walking only these elements keeps link and currency look-ups cheap:
        any search of the whole tree would visit every cell of 5,000 rows.
        """
        chrome = _Chrome()
        skip = set(self.services_tables)
        stack: list[Element] = [self.tree]
        while stack:
            element = stack.pop()
            tag = element.tag
            if not isinstance(tag, str) or element in skip:
                continue  # a comment or processing instruction, or a services table
            stack.extend(reversed(element))
            if element.get("data-rate-key") is not None:
                chrome.rate_keys.append(element)
            if tag == "a" or tag == "link":
                if tag == "a":
                    chrome.anchors.append(element)
                if element.get("rel") == "next":
                    chrome.next_links.append(element)
            elif tag == "base" and element.get("href") and chrome.base is None:
                chrome.base = element.get("href")
            elif tag == "select":
                chrome.selects.append(element)
            elif element.get("id") == "currencies-list":
                chrome.currency_lists.append(element)
            classes = element.get("class", "")
            if "pagination" in classes or "pager" in classes:
                chrome.pagers.append(element)
        return chrome

    @cached_property
    def base_url(self) -> str:
        base = self._chrome.base
        return urljoin(self.url, base) if base else self.url

    def _absolute(self, href: str | None) -> str | None:
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            return None
        absolute = urljoin(self.base_url, href.strip()).split("#", 1)[0]
        return None if absolute == self.url else absolute

    def next_pages(self) -> list[str]:
        """Pagination links: rel="next", or a "Next"/"»" link inside a pager."""
        found = [element.get("href") for element in self._chrome.next_links]
        for pager in self._chrome.pagers:
            for anchor in pager.iter("a"):
                label = clean_text(text_of(anchor)) or anchor.get("aria-label") or ""
                parent = anchor.getparent()
                classes = anchor.get("class", "") + " " + (parent.get("class", "") if parent is not None else "")
                if label.casefold() in _NEXT_WORDS or "next" in classes.split():
                    found.append(anchor.get("href"))
        return _unique(filter(None, map(self._absolute, found)))

    def category_pages(self) -> list[str]:
        """Links to per-category listings of this site (`?category=12`, `/category/12`)."""
        host = urlsplit(self.url).hostname
        found: list[str] = []
        for anchor in self._chrome.anchors:
            absolute = self._absolute(anchor.get("href"))
            if absolute is None:
                continue
            parts = urlsplit(absolute)
            if parts.hostname != host:
                continue
            params = {key.lower() for key, _ in parse_qsl(parts.query)}
            if params & _CATEGORY_PARAMS or "/category/" in parts.path.lower():
                found.append(absolute)
        return _unique(found)

    @cached_property
    def page_currency(self) -> Currency | None:
        """The currency the page's selector has chosen: the active item of a
        Perfect Panel-style currency list (`data-rate-key`), the selected option
        of a currency <select>, or the text of the currency dropdown's toggle."""
        chrome = self._chrome
        for element in chrome.rate_keys:
            item = element if element.tag == "li" else next(element.iterancestors("li"), element)
            if "active" in (element.get("class", "") + " " + item.get("class", "")).split():
                found = currency_in_text(element.get("data-rate-key"))
                if found:
                    return found
        for select in chrome.selects:
            if "currenc" not in (select.get("name", "") + select.get("id", "")).casefold():
                continue
            for option in select.iterfind("option[@selected]"):
                found = currency_in_text(option.get("value")) or currency_in_text(text_of(option))
                if found:
                    return found
        for menu in chrome.currency_lists:
            toggle = menu.getprevious()
            if toggle is not None and "dropdown-toggle" in toggle.get("class", ""):
                found = currency_in_text(text_of(toggle))
                if found:
                    return found
        return None


@dataclass
class _Chrome:
    """What the walk outside the services tables collected."""

    anchors: list[Element] = field(default_factory=list)
    next_links: list[Element] = field(default_factory=list)
    pagers: list[Element] = field(default_factory=list)
    rate_keys: list[Element] = field(default_factory=list)
    selects: list[Element] = field(default_factory=list)
    currency_lists: list[Element] = field(default_factory=list)
    base: str | None = None


def outer_tables(tree: Element) -> list[Element]:
    """The tables of the page that are not inside another table, found without
    entering any table: a walk of the page around them, not of their rows."""
    tables: list[Element] = []
    stack = [tree]
    while stack:
        element = stack.pop()
        if element.tag == "table":
            tables.append(element)
        elif isinstance(element.tag, str):
            stack.extend(reversed(element))
    return tables


def _unique(urls: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(urls))


# --- columns ---------------------------------------------------------------

class Column:
    """What a column holds. Plain strings, not an Enum: they are dictionary keys
    in the per-row loop, where Enum's Python-level hashing shows."""

    ID = "id"
    NAME = "name"
    CATEGORY = "category"
    RATE = "rate"
    MIN = "min"
    MAX = "max"
    MIN_MAX = "min_max"
    AVERAGE_TIME = "average_time"
    DESCRIPTION = "description"


# Checked in this order: the first rule whose words occur in the squeezed title
# wins ("Average time" before "time"-less rules, "Min/Max" before "Min").
_TITLE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (Column.DESCRIPTION, ("desc", "detail", "описан", "açıklama", "aciklama", "deskripsi")),
    (Column.AVERAGE_TIME, ("average", "avg", "среднее", "ortalama")),
    (Column.MIN_MAX, ()),  # both "min" and "max": see column_for_title
    (Column.MAX, ("max", "макс", "maks")),
    (Column.MIN, ("min", "мин")),
    (Column.RATE, ("rate", "price", "cost", "per1000", "цена", "стоимость", "fiyat", "harga",
                   "precio", "preço", "preco", "prix", "tarif", "kurs")),
    (Column.CATEGORY, ("categor", "категор", "kategori")),
    (Column.NAME, ("servi", "name", "title", "product", "услуг", "hizmet", "layanan", "nama", "nombre")),
)
_SQUEEZE = re.compile(r"[\W_]+")


def column_for_title(title: str | None) -> str | None:
    """What a column holds, from its title as displayed or as scraped:
    "Rate ($ USD) per 1000" and "bar_chartPriceper1000" are RATE,
    "format_list_numberedID" and "Service ID" are ID, "Min/Maxorder" is MIN_MAX."""
    if not title:
        return None
    raw = normalise(title).casefold().strip()
    key = _SQUEEZE.sub("", raw)
    if raw == "#" or key in ("id", "no", "sl", "sn", "sno") or (key.endswith("id") and len(key) < 24
                                                                   and "desc" not in key):
        return Column.ID
    for column, words in _TITLE_RULES:
        if column == Column.MIN_MAX:
            if ("min" in key or "мин" in key) and ("max" in key or "макс" in key):
                return Column.MIN_MAX
        elif any(word in key for word in words):
            return column
    return None


def map_columns(titles: Iterable[str | None]) -> dict[str, int]:
    """Column -> index of the first cell with that meaning."""
    mapping: dict[str, int] = {}
    for index, title in enumerate(titles):
        column = column_for_title(title)
        if column is not None and column not in mapping:
            mapping[column] = index
    return mapping


def is_services_header(mapping: Mapping[str, int]) -> bool:
    """A header that lists services: a rate, and an id or a name."""
    return Column.RATE in mapping and (Column.ID in mapping or Column.NAME in mapping)


_SERVICE_ID = re.compile(r"^\W*(?:id\W*)?(\d{1,12})\W*$", re.IGNORECASE)


def service_id_in(text: str | None) -> str | None:
    """The id in an ID cell ("1401", "#1401", "ID: 1401"), or None for anything
    else (a repeated header, a notice)."""
    if not text or len(text) > 40:
        return None
    match = _SERVICE_ID.match(text.strip())
    return match.group(1) if match else None


# --- entries ---------------------------------------------------------------

# What <br> becomes in the text: a private-use character, so that a line break
# the page shows survives while the source's own newlines (mere white space to
# a browser) are collapsed.
_BREAK = "\ue000"


def _lines(text: str) -> str | None:
    if _BREAK not in text:
        return " ".join(text.split()) or None
    lines = (" ".join(line.split()) for line in text.split(_BREAK))
    return "\n".join(line for line in lines if line) or None


def cell_text(element: Element | None) -> str | None:
    """An element's text as a browser shows it on one line: white space
    collapsed, None when empty."""
    if element is None:
        return None
    return " ".join(text_of(element).split()) or None


def description_text(element: Element | None) -> str | None:
    """A description's text: <br> kept as line breaks (the text alone
    would glue "Start: 0-1h<br>Speed" into "Start: 0-1hSpeed"), the source's own
    newlines collapsed as a browser does, button labels ("View") left out."""
    if element is None:
        return None
    for br in element.iter("br"):
        tail = br.tail or ""
        if not tail.startswith(_BREAK):  # marked once, however often it is read
            br.tail = _BREAK + tail
    if next(element.iter("button"), None) is not None:
        return _lines("".join(element.xpath(".//text()[not(ancestor::button)]")))
    return _lines(text_of(element))


def make_entry(
    service_id: str,
    name: str | None,
    rate_text: str | None,
    *,
    context_currencies: tuple[Currency | None, ...] = (),
    category: str | None = None,
    min_text: str | None = None,
    max_text: str | None = None,
    min_max_text: str | None = None,
    average_text: str | None = None,
    description: str | None = None,
) -> CatalogueEntry | None:
    """A catalogue entry from the texts of one listing (as `cell_text` gives
    them: white space already collapsed), or None when it shows no rate (a
    notice row, a header repeated inside the table).

    `context_currencies` are the column title's and the page's currencies, in
    that order; the rate cell's own symbol or code comes first.
    """
    if rate_text is None:
        return None
    cell_currency = currency_in_text(rate_text)
    currency, assumed = resolve_currency(cell_currency, *context_currencies)
    rate = parse_decimal(rate_text, currency=currency)
    if rate is None:
        return None
    if min_max_text is not None and min_text is None and max_text is None:
        quantities = parse_quantities(min_max_text)
        min_quantity = quantities[0] if quantities else None
        max_value = quantities[1] if len(quantities) > 1 else None
    else:
        min_quantity, max_value = parse_quantity(min_text), parse_quantity(max_text)
    max_quantity, unlimited = split_max(max_value)
    taxonomy = classify(name or "", category, description)
    return CatalogueEntry(
        service_id=service_id,
        name=name or "",
        rate=rate,
        rate_text=rate_text,
        currency=currency,
        currency_assumed=assumed,
        category=category,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        max_unlimited=unlimited,
        average_time=parse_average_time(average_text),
        description=description,
        source="html",
        platform=taxonomy.platform,
        metric=taxonomy.metric,
        geo=list(taxonomy.geo),
        device=taxonomy.device,
        premium=taxonomy.premium,
        guarantee_days=taxonomy.guarantee_days,
    )


# --- the generic table -----------------------------------------------------

def _cells(row: Element) -> list[Element]:
    return [cell for cell in row if cell.tag in ("td", "th")]


def _iter_rows(table: Element) -> Iterator[Element]:
    """The rows of `table` in order, whether or not they sit in thead/tbody/tfoot."""
    for child in table:
        if child.tag == "tr":
            yield child
        elif child.tag in ("thead", "tbody", "tfoot"):
            yield from child.iterchildren("tr")


def _rows(table: Element) -> list[Element]:
    return list(_iter_rows(table))


def category_title(cells: list[Element]) -> str | None:
    """The text of a category row (a cell spanning the table, or one cell with
    text among empty ones), or None for any other row."""
    filled = [text for text in map(cell_text, cells) if text]
    if len(filled) != 1 or service_id_in(filled[0]) is not None:
        return None
    return filled[0]


class TablePage(ServicesPage):
    """Any HTML table whose header names a rate and an id or a name."""

    kind = "table"

    @classmethod
    def matches(cls, tree: Element) -> bool:
        return any(_services_header(table) is not None for table in outer_tables(tree))

    @cached_property
    def _headed_tables(self) -> list[tuple[Element, Element, dict[str, int]]]:
        """(table, header row, column mapping) of every services table."""
        found = []
        for table in outer_tables(self.tree):
            header = _services_header(table)
            if header is not None:
                found.append((table, *header))
        return found

    @cached_property
    def services_tables(self) -> list[Element]:
        return [table for table, _, _ in self._headed_tables]

    def to_entries(self) -> list[CatalogueEntry]:
        entries: list[CatalogueEntry] = []
        for table, header, mapping in self._headed_tables:
            title_currency = currency_in_text(_text_at(_cells(header), mapping, Column.RATE))
            category = self.table_category(table)
            rows = _rows(table)
            for row in rows[rows.index(header) + 1:]:
                cells = _cells(row)
                entry = self.row_entry(row, cells, mapping, category, title_currency)
                if entry is not None:
                    entries.append(entry)
                elif Column.CATEGORY not in mapping:
                    category = category_title(cells) or category
        return entries

    def table_category(self, table: Element) -> str | None:
        """The category a whole table belongs to, when the page says so outside it."""
        return None

    def row_id(self, row: Element, cells: list[Element], mapping: Mapping[str, int]) -> str | None:
        return service_id_in(_text_at(cells, mapping, Column.ID))

    def row_description(self, row: Element, cells: list[Element],
                        mapping: Mapping[str, int]) -> str | None:
        index = mapping.get(Column.DESCRIPTION)
        return description_text(cells[index]) if index is not None and index < len(cells) else None

    def row_entry(self, row: Element, cells: list[Element], mapping: Mapping[str, int],
                  category: str | None, title_currency: Currency | None) -> CatalogueEntry | None:
        service_id = self.row_id(row, cells, mapping)
        if service_id is None:
            return None
        return make_entry(
            service_id,
            _text_at(cells, mapping, Column.NAME),
            _text_at(cells, mapping, Column.RATE),
            context_currencies=(title_currency, self.page_currency),
            category=_text_at(cells, mapping, Column.CATEGORY) or category,
            min_text=_text_at(cells, mapping, Column.MIN),
            max_text=_text_at(cells, mapping, Column.MAX),
            min_max_text=_text_at(cells, mapping, Column.MIN_MAX),
            average_text=_text_at(cells, mapping, Column.AVERAGE_TIME),
            description=self.row_description(row, cells, mapping),
        )


def _services_header(table: Element) -> tuple[Element, dict[str, int]] | None:
    """The header row of `table` and its column mapping, if it lists services."""
    for row in islice(_iter_rows(table), 5):
        mapping = map_columns(cell_text(cell) for cell in _cells(row))
        if is_services_header(mapping):
            return row, mapping
    return None


def _text_at(cells: list[Element], mapping: Mapping[str, int], column: str) -> str | None:
    index = mapping.get(column)
    if index is None or index >= len(cells):
        return None
    return cell_text(cells[index])
