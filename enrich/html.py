"""Just enough of an HTML page for fingerprints and payments: title, link tags, scripts, forms, URLs.

The standard library's tolerant parser is enough for this: no DOM is needed,
only the elements that carry identifiers.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

URL_ATTRIBUTES = {"href", "src", "action", "data-src", "data-href", "data-url", "formaction"}
# `&name` not closed by `;`: in `?client-id=X&currency=USD` a browser keeps it as written,
# but Python's unescape turns the legacy entity `&curren` into "¤" and breaks the URL.
_BARE_REFERENCE = re.compile(r"&(?=[A-Za-z][A-Za-z0-9]*(?:[^A-Za-z0-9;]|$))")


def literal_ampersands(markup: str) -> str:
    """`markup` with every `&` that opens no `;`-terminated reference written as `&amp;`."""
    return _BARE_REFERENCE.sub("&amp;", markup)


def page_text(markup: str) -> str:
    """The markup with character references decoded, for pattern searches over everything."""
    return html.unescape(literal_ampersands(markup))


@dataclass
class Form:
    action: str  # absolute
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> value, first one wins


@dataclass
class Page:
    base_url: str
    title: str | None = None
    icons: list[str] = field(default_factory=list)  # absolute URLs of <link rel="icon"> and kin
    scripts: list[str] = field(default_factory=list)  # absolute src URLs
    inline_scripts: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # every absolute URL in a URL attribute


class _PageParser(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self._in_title = False
        self._title: list[str] = []
        self._script: list[str] | None = None
        self._form: Form | None = None

    def _absolute(self, value: str) -> str:
        return urljoin(self.page.base_url, value.strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        for name, value in attributes.items():
            if name in URL_ATTRIBUTES and value and not value.startswith(("javascript:", "data:", "#", "mailto:")):
                self.page.urls.append(self._absolute(value))
        if tag == "title" and self.page.title is None:
            self._in_title = True
        elif tag == "link":
            rels = attributes.get("rel", "").lower().split()
            if "icon" in rels and attributes.get("href"):
                self.page.icons.append(self._absolute(attributes["href"]))
        elif tag == "script":
            if attributes.get("src"):
                self.page.scripts.append(self._absolute(attributes["src"]))
            self._script = []
        elif tag == "form":
            action = attributes.get("action") or self.page.base_url
            self._form = Form(self._absolute(action), (attributes.get("method") or "get").lower())
            self.page.forms.append(self._form)
        elif tag in ("input", "select", "textarea", "button") and self._form is not None:
            name = attributes.get("name")
            if name and name not in self._form.fields:
                self._form.fields[name] = attributes.get("value", "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "title"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.page.title = " ".join("".join(self._title).split())
        elif tag == "script" and self._script is not None:
            text = "".join(self._script).strip()
            if text:
                self.page.inline_scripts.append(text)
            self._script = None
        elif tag == "form":
            self._form = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        elif self._script is not None:
            self._script.append(data)


def parse_page(markup: str, base_url: str) -> Page:
    page = Page(base_url)
    parser = _PageParser(page)
    parser.feed(literal_ampersands(markup))
    parser.close()
    return page


def decode_body(body: bytes, content_type: str | None = None) -> str:
    """Text of an HTML body: the charset its Content-Type names, else UTF-8, never failing."""
    charset = "utf-8"
    for part in (content_type or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"\' ')
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")
