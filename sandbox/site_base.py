"""What every simulated panel site shares: its served catalogue rows, number formats,
request dispatch (https and www canonicalisation, sessions, favicon) and response helpers.

Page styles (`site_perfectpanel`, `site_smartpanel`, ...) register a `Style` that lays
pages out and adds their own routes; everything a page shows comes from the `PanelSite`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from .generate_identity import Analytics, Contacts, Favicon, Payment
from .world import HttpRequest, HttpResponse

esc = html.escape

# Self-hosted assets that layouts link (`/assets/...`, `/static/...`): small but real, so a
# rendering crawler's page loads complete instead of logging 404s.
STATIC_PREFIXES = ("/assets/", "/static/", "/css/", "/js/")
STYLESHEET = (
    b"body{margin:0;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,sans-serif;color:#212529}"
    b"table{width:100%;border-collapse:collapse}td,th{padding:.5rem;border-top:1px solid #dee2e6;vertical-align:top}"
    b".hidden,.d-none{display:none}.container{max-width:1140px;margin:0 auto;padding:0 15px}\n"
)
SCRIPT = b"(function(){'use strict';document.documentElement.className+=' js';})();\n"


@dataclass(slots=True)
class Offer:
    """One service as a site serves it; `rate_display`/`min_display`/`max_display` are the
    page's cell texts (stripped), `rate` the panel's own decimal (also the API's string).
    Treated as immutable; not frozen only because frozen dataclasses construct eight times
    slower and large worlds build hundreds of thousands of these."""

    service_id: int
    category: str
    name: str
    rate: Decimal
    rate_display: str
    min: int
    max: int
    min_display: str
    max_display: str
    average_time: str
    description: str
    type: str = "Default"
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    upstream: tuple[str, int] | None = None  # (upstream domain, upstream service id)

    def truth(self, currency: str) -> dict[str, Any]:
        return {
            "service_id": self.service_id,
            "category": self.category,
            "name": self.name,
            "rate_display": self.rate_display,
            "rate": str(self.rate),
            "currency": currency,
            "min": self.min,
            "max": self.max,
            "min_display": self.min_display,
            "max_display": self.max_display,
            "average_time": self.average_time,
            "description": self.description,
            "flags": {"type": self.type, "refill": self.refill, "cancel": self.cancel, "dripfeed": self.dripfeed},
            "upstream": {"domain": self.upstream[0], "service_id": self.upstream[1]} if self.upstream else None,
        }


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "RUB": "₽", "TRY": "₺", "BRL": "R$"}


@dataclass(frozen=True)
class NumberFormat:
    """How a page prints money and quantities: "$0.0135", "1,25 €", "₹200.00", "200 000"."""

    currency: str = "USD"
    symbol: bool = False  # print the currency symbol at all
    symbol_after: bool = False  # "1,25 €" rather than "€1.25"
    decimal_comma: bool = False
    thousands: str = ""  # "", " " or ","

    def money(self, value: Decimal) -> str:
        text = str(value)
        if self.decimal_comma:
            text = text.replace(".", ",")
        if not self.symbol:
            return text
        symbol = CURRENCY_SYMBOLS[self.currency]
        if self.symbol_after:
            return f"{text} {symbol}"
        return f"{symbol} {text}" if len(symbol) > 1 else f"{symbol}{text}"

    def quantity(self, value: int) -> str:
        return f"{value:,}".replace(",", self.thousands)


@dataclass
class SiteOptions:
    """Per-site choices that change what pages look like, not what they say."""

    number_format: NumberFormat = field(default_factory=NumberFormat)
    services_path: str = "/services"
    contact_path: str = "/contact"
    addfunds_public: bool = False
    www_redirect: bool = False  # www.<domain> answers 301 to the apex
    title: str = ""  # <title> of the home page
    server: str = "nginx"
    theme_variant: int = 0  # which of the style's header sets / themes
    block_id: int = 59  # Perfect Panel constructor block number
    page_size: int = 50  # paginated lists
    show_average_time: bool = True
    csrf: str = ""
    extra_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SiteLink:
    target: str
    kind: str  # "partner" | "child_panel_parent"


Route = Callable[["PanelSite", HttpRequest], Awaitable[HttpResponse]]


class Style(Protocol):
    name: str
    software: str
    cookie_name: str
    addfunds_path: str
    api_path: str
    api_docs_path: str
    signin_path: str
    signup_path: str

    def layout(self, site: PanelSite, title: str, body: str, *, signed_in: bool = False) -> str: ...

    def columns(self, site: PanelSite) -> list[str]: ...

    def routes(self, site: PanelSite) -> dict[str, Route]: ...

    def services_urls(self, site: PanelSite) -> list[str]: ...


STYLES: dict[str, Style] = {}


def register(style: Style) -> Style:
    STYLES[style.name] = style
    return style


@dataclass
class PanelSite:
    """A panel as the proxy serves it. Call `handle` with an `HttpRequest`."""

    domain: str
    brand: str
    style_name: str
    currency: str
    catalogue: tuple[Offer, ...]
    api_key: str
    session: str  # cookie value; the cookie name comes from the style
    analytics: Analytics
    favicon: Favicon
    payments: list[Payment]
    contacts: Contacts
    tenant_code: str | None
    links: list[SiteLink] = field(default_factory=list)
    options: SiteOptions = field(default_factory=SiteOptions)
    state: dict[str, Any] = field(default_factory=dict, repr=False)  # server-side counters (rate limits)
    _routes: dict[str, Route] = field(default_factory=dict, repr=False)

    @property
    def style(self) -> Style:
        return STYLES[self.style_name]

    @property
    def cookie(self) -> str:
        return f"{self.style.cookie_name}={self.session}"

    def url(self, path: str) -> str:
        return f"https://{self.domain}{path}"

    def signed_in(self, request: HttpRequest) -> bool:
        header = request.header("cookie") or ""
        return self.cookie in (part.strip() for part in header.split(";"))

    def categories(self) -> list[tuple[str, list[Offer]]]:
        """Catalogue rows grouped by category, in first-appearance order."""
        groups: dict[str, list[Offer]] = {}
        for offer in self.catalogue:
            groups.setdefault(offer.category, []).append(offer)
        return list(groups.items())

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Every response, redirects included, carries the site's `Server` and extra headers."""
        response = await self._dispatch(request)
        response.headers += [("Server", self.options.server), *self.options.extra_headers]
        if request.method == "HEAD":
            response.body = b""
        return response

    async def _dispatch(self, request: HttpRequest) -> HttpResponse:
        if request.scheme == "http":
            return redirect(f"https://{request.host}{request.target}", 301)
        if request.host != self.domain and self.options.www_redirect:
            return redirect(self.url(request.target), 301)
        path = urlsplit(request.target).path or "/"
        if path == "/favicon.ico":
            return HttpResponse(200, [("Content-Type", self.favicon.content_type)], self.favicon.data)
        if path.endswith((".css", ".js")) and path.startswith(STATIC_PREFIXES):
            kind, data = ("text/css", STYLESHEET) if path.endswith(".css") else ("application/javascript", SCRIPT)
            return HttpResponse(200, [("Content-Type", kind)], data)
        if path == "/robots.txt":
            return text_response(f"User-agent: *\nDisallow: /admin\nSitemap: {self.url('/sitemap.xml')}\n")
        if path == "/sitemap.xml":
            return self._sitemap()
        if not self._routes:
            self._routes = self.style.routes(self)
        route = self._routes.get(path.rstrip("/") or "/")
        if route is None:
            prefix = next((p for p in self._routes if p.endswith("/") and path.startswith(p)), None)
            route = self._routes.get(prefix) if prefix else None
        if route is None:
            body = self.style.layout(self, "Page not found", '<div class="container"><h1>404</h1><p>Page not found</p></div>')
            return self.html(body, status=404)
        return await route(self, request)

    def _sitemap(self) -> HttpResponse:
        paths = dict.fromkeys(["/", self.options.services_path, self.style.api_docs_path, "/terms", self.options.contact_path])
        entries = "".join(f"<url><loc>{self.url(path)}</loc></url>" for path in paths)
        xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n'
        return HttpResponse(200, [("Content-Type", "application/xml; charset=UTF-8")], xml.encode())

    def html(self, body: str, status: int = 200) -> HttpResponse:
        return HttpResponse(status, [("Content-Type", "text/html; charset=UTF-8")], body.encode("utf-8"))

    def json(self, payload: Any, status: int = 200) -> HttpResponse:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return HttpResponse(status, [("Content-Type", "application/json; charset=utf-8")], body)


def redirect(location: str, status: int = 302) -> HttpResponse:
    return HttpResponse(status, [("Location", location), ("Content-Type", "text/html; charset=UTF-8")], b"")


def text_response(text: str) -> HttpResponse:
    return HttpResponse(200, [("Content-Type", "text/plain; charset=utf-8")], text.encode("utf-8"))


def form_fields(request: HttpRequest) -> dict[str, str]:
    """Query-string and url-encoded body parameters, body winning (PHP's $_REQUEST order)."""
    fields = dict(parse_qsl(urlsplit(request.target).query, keep_blank_values=True))
    content_type = request.header("content-type") or ""
    if request.body and "json" in content_type:
        try:
            payload = json.loads(request.body)
        except ValueError:
            payload = {}
        if isinstance(payload, dict):
            fields.update({str(k): str(v) for k, v in payload.items()})
    elif request.body:
        fields.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


def query(request: HttpRequest) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.target).query, keep_blank_values=True))
