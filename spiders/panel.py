"""The `panel` spider: one panel or reseller site per seed, catalogued and captured.

Per site it fetches the home page (software detection, links), the services
page(s) wherever they are linked, with pagination and category pages, the
API documentation, add-funds, terms and contact pages and the favicon; with an
API key from the secrets file it asks API v2 for `balance` and `services` (no
other action, ever). Pages whose static HTML lacks the catalogue are rendered
in Chromium when rendering is `auto`.

Catalogue pages are read by the storage process, which extracts and stores
their entries and answers with the services found and the pages to fetch next:
the crawl's own thread only fetches and follows links.

Each site keeps a count of its requests in flight; when it drops to zero the
site's outcome is yielded, so no site ends without saying how it went.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from panelmap.spiders.crawl_items import CataloguePage, CatalogueRead, SiteFinishedItem, SiteSoftwareItem, SiteStarted
from panelmap.spiders.extractors import home_links, same_site
from panelmap.spiders.secrets import Secrets
from panelmap.spiders.signals import catalogue_read
from panelmap.spiders.software import detect_software
from panelmap.spiders.store import CrawlStore
from panelmap.storage import normalise_domain

MAX_ERRORS_KEPT = 50


@dataclass
class SiteProgress:
    domain: str
    base_url: str
    pending: int = 0
    pages: int = 0
    seen: set[str] = field(default_factory=set)
    software: str | None = None
    html_services: set[str] = field(default_factory=set)  # service ids each source listed
    api_services: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    home_failed: str | None = None
    rendered: set[str] = field(default_factory=set)
    home_capture: str | None = None  # WARC-Record-ID of the raw home page, which a rendering refers to
    finished: bool = False


def seed_to_url(seed: str) -> str:
    seed = seed.strip()
    return seed if "://" in seed else f"https://{seed}/"


class PanelSpider(scrapy.Spider):
    name = "panel"

    def __init__(self, seeds: str | list[str] = "", seeds_file: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        seed_list = [s for s in (seeds.split(",") if isinstance(seeds, str) else seeds) if s.strip()]
        if seeds_file:
            with open(seeds_file, encoding="utf-8") as handle:
                seed_list += [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        self.seed_urls = list(dict.fromkeys(seed_to_url(seed) for seed in seed_list))
        self.sites: dict[str, SiteProgress] = {}

    # -- settings ------------------------------------------------------------

    @property
    def render_mode(self) -> str:
        return self.settings.get("PANELMAP_RENDER", "auto")

    @property
    def store(self) -> CrawlStore:
        return CrawlStore.of(self.crawler)

    @property
    def secrets(self) -> Secrets:
        return self.store.secrets

    # -- bookkeeping ---------------------------------------------------------

    def _request(self, site: SiteProgress, url: str, callback: Callable[..., Any], *, optional: bool = False,
                 render: bool = False, **kwargs: Any) -> scrapy.Request | None:
        """A request for one of the site's pages, counted as in flight; None if already fetched."""
        key = f"{kwargs.get('method', 'GET')} {url} {render} {kwargs.get('body', '')}"
        if key in site.seen:
            return None
        site.seen.add(key)
        site.pending += 1
        meta = {"site": site.domain, "optional": optional, **kwargs.pop("meta", {})}
        if render:
            meta.update(self._render_meta(kwargs.pop("screenshot", False)))
        meta["handler"] = callback.__name__
        handle = self._handle_async if inspect.isasyncgenfunction(callback) else self._handle
        return scrapy.Request(url, callback=handle, errback=self._on_error, meta=meta, dont_filter=True, **kwargs)

    def _render_meta(self, screenshot: bool) -> dict[str, Any]:
        from scrapy_playwright.page import PageMethod

        methods = [PageMethod("wait_for_load_state", "networkidle")]
        if screenshot:
            methods.append(PageMethod("screenshot", full_page=True, type="png"))
        return {"playwright": True, "playwright_page_methods": methods}

    def _handle(self, response: Response) -> Iterator[Any]:
        """Every response whose handler is a plain generator comes here: run the handler,
        then count the request as done.

        Two callbacks for all requests (the handler's name rides in meta) keep requests
        serialisable and let Scrapy inspect each callback once, not once per request.
        Handlers that wait for the storage process go through `_handle_async`; the others
        stay out of Scrapy's machinery for asynchronous output, which costs more per item.
        """
        site = self.sites[response.meta["site"]]
        site.pages += 1
        try:
            yield from getattr(self, response.meta["handler"])(response, site)
        except Exception as exc:  # a broken page costs that page, never the crawl
            self._page_failed(site, response, exc)
        yield from self._settle(site)

    async def _handle_async(self, response: Response) -> AsyncIterator[Any]:
        """`_handle` for handlers that are async generators."""
        site = self.sites[response.meta["site"]]
        site.pages += 1
        try:
            async for output in getattr(self, response.meta["handler"])(response, site):
                yield output
        except Exception as exc:  # a broken page costs that page, never the crawl
            self._page_failed(site, response, exc)
        for output in self._settle(site):
            yield output

    def _page_failed(self, site: SiteProgress, response: Response, exc: Exception) -> None:
        self.logger.warning("%s: could not process %s: %s", site.domain, response.url, exc)
        site.errors.append(f"{response.url}: {type(exc).__name__}: {exc}")

    def _on_error(self, failure: Failure) -> Iterator[Any]:
        request = failure.request
        site = self.sites[request.meta["site"]]
        message = _failure_reason(failure)
        if request.meta.get("home"):
            site.home_failed = message
        elif not request.meta.get("optional"):
            site.errors.append(f"{request.url}: {message}")
        yield from self._settle(site)

    def _settle(self, site: SiteProgress) -> Iterator[Any]:
        site.pending -= 1
        if site.pending == 0 and not site.finished:
            site.finished = True
            yield from self._finish(site)

    # -- crawling ------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        store = self.store
        for url in self.seed_urls:
            domain = normalise_domain(url)
            if domain in self.sites:
                continue
            site = SiteProgress(domain=domain, base_url=url)
            self.sites[domain] = site
            store.send(SiteStarted(domain))
            request = self._request(site, url, self.parse_home, meta={"home": True},
                                    cookies=self._session_cookies(domain))
            if request is not None:
                yield request

    def _session_cookies(self, domain: str) -> list[dict[str, str]]:
        """The investigator's session for a site, for its home request: Scrapy's cookie jar then
        sends it to the site and its subdomains (`www.` included) and follows the site's own
        Set-Cookie, as a browser would; a redirect to another domain does not get it. Every
        request comes after the home page's, so none goes without it. (Passed on every request,
        it cost Scrapy's cookie middleware more CPU than this spider.) The WARC redactor keeps
        its value out of the captures."""
        cookies = self.secrets.for_site(domain).cookies()
        site = domain.removeprefix("www.")
        # An address or a one-label name cannot take a domain cookie: the session then goes to that host alone.
        scope = {} if "." not in site or _is_address(site) else {"domain": f".{site}"}
        return [{"name": name, "value": value, "path": "/", **scope} for name, value in cookies.items()]

    def parse_home(self, response: Response, site: SiteProgress) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            site.home_failed = f"home page is not text ({response.headers.get('Content-Type', b'').decode()})"
            return
        headers = _header_map(response)
        detection = detect_software(response.url, response.body, headers)
        site.software = detection.software
        yield SiteSoftwareItem(site.domain, detection)
        site.base_url = response.url
        site.home_capture = _raw_capture(response)

        links = home_links(response.url, response.body, headers)
        for url in links.services or [urljoin(response.url, "/services")]:
            yield from _some(self._request(site, url, self.parse_services, meta={"services_root": True}))
        for kind, urls in links.side_pages.items():
            for url in urls:
                yield from _some(self._request(site, url, self.parse_side_page, optional=True, meta={"page": kind}))
        yield from _some(self._request(site, links.favicon, self.parse_side_page, optional=True,
                                       meta={"page": "favicon"}))
        if self.render_mode == "always":
            yield from _some(self._request(site, response.url, self.parse_rendered_home, render=True,
                                           screenshot=True, meta={"raw_capture": site.home_capture}))
        yield from self._api_requests(site, response.url)

    async def parse_services(self, response: Response, site: SiteProgress) -> AsyncIterator[Any]:
        if not isinstance(response, TextResponse):
            site.errors.append(f"{response.url}: services page is not text")
            return
        found = await self._read_catalogue(site, "html", response, response.body, _header_map(response))
        if not found.service_ids and ("signin" in response.url or "login" in response.url):
            site.notes["services_need_sign_in"] = True
        if self.render_mode == "always" or (self.render_mode == "auto" and not found.service_ids
                                             and response.meta.get("services_root")):
            for request in _some(self._request(site, response.url, self.parse_rendered_services, render=True,
                                               screenshot=True, meta={"raw_capture": _raw_capture(response)})):
                yield request
        for request in self._catalogue_pages(site, found, self.parse_services):
            yield request

    async def parse_rendered_services(self, response: Response, site: SiteProgress) -> AsyncIterator[Any]:
        site.rendered.add(response.url)
        found = await self._read_catalogue(site, "html", response, response.text.encode(),
                                           {"content-type": "text/html; charset=utf-8"})
        # A site we had to render gets its home page rendered too, for the screenshot.
        if self.render_mode == "auto":
            for request in _some(self._request(site, site.base_url, self.parse_rendered_home, render=True,
                                               screenshot=True, meta={"raw_capture": site.home_capture})):
                yield request
        for request in self._catalogue_pages(site, found, self.parse_rendered_services, render=True):
            yield request

    def _catalogue_pages(self, site: SiteProgress, found: CatalogueRead, handler: Callable[..., Any],
                         **kwargs: Any) -> Iterator[scrapy.Request]:
        """Requests for the pages that continue a catalogue: pagination, then categories."""
        for url in [*found.next_pages, *found.category_pages]:
            if same_site(site.base_url, url):
                yield from _some(self._request(site, url, handler, **kwargs))

    def parse_rendered_home(self, response: Response, site: SiteProgress) -> Iterator[Any]:
        site.rendered.add(response.url)
        return iter(())

    def parse_side_page(self, response: Response, site: SiteProgress) -> Iterator[Any]:
        site.notes.setdefault("pages", {})[response.meta["page"]] = response.url
        return iter(())

    # -- API v2 --------------------------------------------------------------

    def _api_requests(self, site: SiteProgress, home_url: str) -> Iterator[scrapy.Request]:
        """`balance` first (it checks the key and names the account's currency), then `services`."""
        if not self.secrets.for_site(site.domain).api_key:
            site.notes["api"] = "no API key in the secrets file"
            return
        site.notes["api_url"] = urljoin(home_url, "/api/v1" if site.software == "smartpanel" else "/api/v2")
        yield from _some(self._api_request(site, "balance"))

    def _api_request(self, site: SiteProgress, action: str) -> scrapy.Request | None:
        api_key = self.secrets.for_site(site.domain).api_key
        return self._request(
            site, site.notes["api_url"], self.parse_api, method="POST",
            body=urlencode({"key": api_key, "action": action}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            meta={"api_action": action},
        )

    async def parse_api(self, response: Response, site: SiteProgress) -> AsyncIterator[Any]:
        if response.meta["api_action"] == "balance":
            try:
                answer = json.loads(response.text)
            except ValueError:
                answer = None
            if not isinstance(answer, dict) or "error" in answer or "balance" not in answer:
                error = answer.get("error") if isinstance(answer, dict) else "not a JSON object"
                site.notes["api_key_check"] = f"error: {error}"
            else:
                site.notes["api_key_check"] = "ok"
                site.notes["api_currency"] = answer.get("currency")
            # Ask for the catalogue even when the key check failed: the error text is itself evidence.
            for request in _some(self._api_request(site, "services")):
                yield request
            return
        found = await self._read_catalogue(site, "api", response, response.body, {},
                                           currency=site.notes.get("api_currency"))
        site.notes["api"] = f"error: {found.error}" if found.error else f"{len(found.service_ids)} services"

    # -- results -------------------------------------------------------------

    async def _read_catalogue(self, site: SiteProgress, source: str, response: Response, body: bytes,
                              headers: dict[str, str], *, currency: str | None = None) -> CatalogueRead:
        """Have the storage process read (and store) one catalogue page; its answer says
        which services the page lists and where the catalogue goes on."""
        page = CataloguePage(site.domain, source, response.url, response.meta.get("capture"), body, headers,
                             currency=currency)
        found = await asyncio.wrap_future(self.store.read_catalogue(page))
        if found.error and source == "html":
            site.errors.append(f"{response.url}: {found.error}")
        (site.api_services if source == "api" else site.html_services).update(found.service_ids)
        self.crawler.signals.send_catch_log(catalogue_read, site=site.domain, services=len(found.service_ids))
        return found

    def _finish(self, site: SiteProgress) -> Iterator[SiteFinishedItem]:
        services = len(site.html_services | site.api_services)
        details: dict[str, Any] = {**site.notes, "errors": site.errors[:MAX_ERRORS_KEPT]}
        if site.rendered:
            details["rendered"] = sorted(site.rendered)
        if site.home_failed:
            status, reason = "failed", f"home page: {site.home_failed}"
        elif not services:
            status = "partial"
            reason = "no catalogue found" + (": the services list needs a session cookie" if
                                            site.notes.get("services_need_sign_in") else "")
            if site.errors:
                reason += f"; {site.errors[0]}"
        elif site.errors:
            status, reason = "partial", f"{len(site.errors)} page(s) failed; first: {site.errors[0]}"
        else:
            status, reason = "complete", None
        yield SiteFinishedItem(site.domain, status, reason, site.pages, services, details)


def _some(request: scrapy.Request | None) -> Iterator[scrapy.Request]:
    if request is not None:
        yield request


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _raw_capture(response: Response) -> str | None:
    """The WARC-Record-ID of a static fetch, for the rendering of the same page to refer to."""
    return response.meta.get("capture")


def _header_map(response: Response) -> dict[str, str]:
    return {name.decode("latin-1").lower(): response.headers.get(name, b"").decode("latin-1")
            for name in response.headers}


def _failure_reason(failure: Failure) -> str:
    from scrapy.spidermiddlewares.httperror import HttpError

    if failure.check(HttpError):
        return f"HTTP {failure.value.response.status}"
    message = failure.getErrorMessage() or failure.type.__name__
    return f"{failure.type.__name__}: {message}".splitlines()[0][:300]
