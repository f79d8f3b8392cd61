"""Perfect Panel (hosted SaaS): the classic theme and the newer "constructor" theme.

Fingerprints reproduced from saved pages: `storage.perfectcdn.com/<tenant>/...` assets,
`window.modules.layouts`, `_csrf`, `OrderForm[...]`/`LoginForm[...]` fields, the
`table#service-table` list with category header rows and hidden descriptions, and in the
constructor theme `div#block_N`, `table#service-table-N` and `data-label` cells.
"""

from __future__ import annotations

import hashlib
import json

from . import site_api, site_pages
from .site_addfunds import addfunds_page
from .site_base import CURRENCY_SYMBOLS, Offer, PanelSite, Route, esc, redirect, register
from .world import HttpRequest, HttpResponse

CLASSIC_HEADERS = (
    ("ID", "Service", "Rate per 1000", "Min order", "Max order", "Average time", "Description"),
    ("ID", "SERVICES", "RATE/1000", "MIN", "MAX", "AVERAGE TIME", "DESCRIPTION"),
    ("ID", "Service", "Rate ({symbol}) per 1000", "Min order", "Max order", "Average time", "Description"),
)
CHILD_PANEL_NAMESERVERS = ("ns1.perfectdns.com", "ns2.perfectdns.com")


def _asset(site: PanelSite, kind: str, ext: str) -> str:
    digest = hashlib.md5(f"{site.tenant_code}:{kind}".encode()).hexdigest()
    return f"https://storage.perfectcdn.com/{site.tenant_code}/{digest[:16]}.{ext}"


def _global_asset(name: str, ext: str) -> str:
    return f"https://storage.perfectcdn.com/global/{hashlib.md5(name.encode()).hexdigest()[:16]}.{ext}"


class PerfectPanelStyle:
    software = "perfectpanel"
    cookie_name = "PHPSESSID"
    addfunds_path = "/addfunds"
    api_path = "/api/v2"
    api_docs_path = "/api"
    signin_path = "/"
    signup_path = "/signup"

    def __init__(self, name: str, theme_id: int, constructor: bool) -> None:
        self.name = name
        self.theme_id = theme_id
        self.constructor = constructor

    def columns(self, site: PanelSite) -> list[str]:
        if self.constructor:
            titles = list(CLASSIC_HEADERS[0])
        else:
            titles = [
                t.format(symbol=CURRENCY_SYMBOLS[site.currency] + " " + site.currency)
                for t in CLASSIC_HEADERS[site.options.theme_variant]
            ]
        if not site.options.show_average_time:
            del titles[5]
        return titles

    def services_urls(self, site: PanelSite) -> list[str]:
        return [site.url("/services")]

    def layout(self, site: PanelSite, title: str, body: str, *, signed_in: bool = False) -> str:
        nav = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in site_pages.nav_links(site, signed_in=signed_in))
        layouts = json.dumps(
            {"theme_id": self.theme_id, "auth": int(signed_in), "live": True, "csrftoken": site.options.csrf},
            separators=(",", ":"),
        )
        header = (
            f'<header id="block_{site.options.block_id - 1}" class="block-header"><div class="container">'
            f'<a class="navbar-brand" href="/">{esc(site.brand)}</a><ul class="nav navbar-nav">{nav}</ul></div></header>'
            if self.constructor
            else '<nav class="navbar navbar-default navbar-static-top"><div class="container"><div class="navbar-header">'
            f'<a class="navbar-brand" href="/">{esc(site.brand)}</a></div>'
            f'<div class="collapse navbar-collapse" id="navbar"><ul class="nav navbar-nav">{nav}</ul></div></div></nav>'
        )
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="X-UA-Compatible" content="IE=edge">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{esc(title)}</title>
  <meta name="keywords" content="smm panel, smm reseller panel, cheap smm panel, instagram panel, spotify plays">
  <meta name="description" content="{esc(site.brand)} - the cheapest SMM panel for resellers.">
  <link rel="shortcut icon" type="image/x-icon" href="/favicon.ico">
  <link rel="stylesheet" type="text/css" href="{_global_asset("bootstrap", "css")}">
  <link rel="stylesheet" type="text/css" href="{_asset(site, "style", "css")}">
  <script type="text/javascript">window.modules = {{}};</script>
{site_pages.tracking_head(site)}
</head>
<body>
{site_pages.tracking_body(site)}
{header}
<div class="wrapper-content">
{body}
</div>
{site_pages.footer(site)}
<script type="text/javascript" src="{_global_asset("jquery", "js")}"></script>
<script type="text/javascript" src="{_asset(site, "script", "js")}"></script>
<script type="text/javascript">window.modules.layouts = {layouts};</script>
</body>
</html>"""

    def routes(self, site: PanelSite) -> dict[str, Route]:
        return {
            "/": _home,
            "/services": _services,
            "/signup": _signup,
            "/orders": _orders,
            "/child-panel": _child_panel,
            "/api": site_pages.api_docs_page,
            "/api/v2": site_api.api_v2,
            "/addfunds": addfunds_page,
            "/terms": site_pages.terms_page,
            site.options.contact_path: site_pages.contact_page,
        }


CLASSIC = register(PerfectPanelStyle("perfectpanel", theme_id=1, constructor=False))
CONSTRUCTOR = register(PerfectPanelStyle("perfectpanel_constructor", theme_id=48, constructor=True))


def _classic_rows(site: PanelSite) -> str:
    columns = len(site.style.columns(site))
    rows = []
    for index, (category, offers) in enumerate(site.categories(), start=1):
        rows.append(
            f'<tr data-filter-table-category-id="{index}"><td colspan="{columns}"><strong>{esc(category)}</strong></td></tr>'
        )
        for o in offers:
            average = f'<td class="nowrap">{esc(o.average_time)}</td>' if site.options.show_average_time else ""
            rows.append(
                f'<tr data-filter-table-category-id="{index}">'
                f'<td data-filter-table-service-id="{o.service_id}">{o.service_id}</td>'
                f'<td class="service-name">{esc(o.name)}</td>'
                f"<td>{esc(o.rate_display)}</td><td>{o.min_display}</td><td>{o.max_display}</td>{average}"
                f'<td class="service-description"><button type="button" class="btn btn-default btn-xs" data-toggle="modal" '
                f'data-target="#service-description-id-{o.service_id}">Description</button>'
                f'<div id="service-description-id-{o.service_id}" class="hidden">{esc(o.description)}</div></td></tr>'
            )
    return "\n".join(rows)


def _constructor_rows(site: PanelSite) -> str:
    block = site.options.block_id
    columns = site.style.columns(site)
    rows = []
    for index, (category, offers) in enumerate(site.categories(), start=1):
        rows.append(
            f'<tr class="services-list-category-title" data-filter-table-category-id="{index}">'
            f'<td colspan="{len(columns)}"><strong>{esc(category)}</strong></td></tr>'
        )
        for o in offers:
            cells = [
                f'<td data-label="ID" data-filter-table-service-id="{o.service_id}">{o.service_id}</td>',
                f'<td data-label="Service" class="table-service">{esc(o.name)}</td>',
                f'<td data-label="Rate per 1000">{esc(o.rate_display)}</td>',
                f'<td data-label="Min order">{o.min_display}</td>',
                f'<td data-label="Max order">{o.max_display}</td>',
            ]
            if site.options.show_average_time:
                cells.append(f'<td data-label="Average time">{esc(o.average_time)}</td>')
            cells.append(
                f'<td data-label="Description"><button type="button" class="btn btn-actions btn-view-service-description" '
                f'data-service-id="{o.service_id}" data-min="{o.min}" data-max="{o.max}">View</button>'
                f'<div class="d-none" id="service-description-id-{block}-{o.service_id}">{esc(o.description)}</div></td>'
            )
            rows.append(f'<tr data-filter-table-category-id="{index}">{"".join(cells)}</tr>')
    return "\n".join(rows)


async def _services(site: PanelSite, request: HttpRequest) -> HttpResponse:
    style = site.style
    head = "".join(f"<th>{esc(title)}</th>" for title in style.columns(site))
    search = (
        '<div class="component_filter_search">'
        '<input type="text" class="form-control" placeholder="Search" data-filter-table-input></div>'
    )
    if isinstance(style, PerfectPanelStyle) and style.constructor:
        block = site.options.block_id
        body = (
            f'<div id="block_{block}" class="block-services"><div class="container"><div class="services-list">{search}'
            f'<table class="table" id="service-table-{block}"><thead><tr>{head}</tr>'
            f"</thead><tbody>\n{_constructor_rows(site)}\n</tbody></table>"
            "</div></div></div>"
        )
    else:
        body = (
            f'<div class="container"><div class="row"><div class="col-lg-12"><div class="well well-float">{search}'
            f'<table class="table" id="service-table"><thead><tr>{head}</tr></thead>'
            f'<tbody id="service-tbody">\n{_classic_rows(site)}\n</tbody></table>'
            "</div></div></div></div>"
        )
    return site.html(style.layout(site, f"Services - {site.brand}", body, signed_in=site.signed_in(request)))


def _order_form(site: PanelSite) -> str:
    groups = site.categories()
    categories = "".join(f'<option value="{i}">{esc(name)}</option>' for i, (name, _) in enumerate(groups, start=1))
    first: list[Offer] = groups[0][1] if groups else []
    services = "".join(
        f'<option value="{o.service_id}">{o.service_id} - {esc(o.name)} - {esc(o.rate_display)}</option>' for o in first
    )
    return (
        '<div class="container"><div class="well"><form method="post" action="/" id="order-form">'
        f'<input type="hidden" name="_csrf" value="{site.options.csrf}">'
        '<div class="form-group"><label for="orderform-category" class="control-label">Category</label>'
        f'<select class="form-control" id="orderform-category" name="OrderForm[category]">{categories}</select></div>'
        '<div class="form-group"><label for="orderform-service" class="control-label">Service</label>'
        f'<select class="form-control" id="orderform-service" name="OrderForm[service]">{services}</select></div>'
        '<div class="form-group"><label for="field-orderform-fields-link" class="control-label">Link</label>'
        '<input class="form-control" name="OrderForm[link]" value="" type="text" id="field-orderform-fields-link"></div>'
        '<div class="form-group"><label for="field-orderform-fields-quantity" class="control-label">Quantity</label>'
        '<input class="form-control" name="OrderForm[quantity]" value="" type="text" id="field-orderform-fields-quantity"></div>'
        '<button type="submit" class="btn btn-primary">Submit</button></form></div></div>'
    )


async def _home(site: PanelSite, request: HttpRequest) -> HttpResponse:
    if site.signed_in(request):
        return site.html(site.style.layout(site, site.options.title, _order_form(site), signed_in=True))
    body = (
        '<div class="container"><div class="row"><div class="col-md-6 col-md-offset-3"><div class="well">'
        f"<h1>{esc(site.brand)}</h1><p>The main SMM panel for resellers: {len(site.catalogue)} services for "
        "Instagram, YouTube, Spotify, TikTok and more.</p>"
        f"{site_pages.signin_form(site, '/')}"
        '<p>Do not have an account? <a href="/signup">Sign up</a></p></div></div></div></div>'
        '<script type="text/javascript">window.modules.signin = [];</script>'
    )
    return site.html(site.style.layout(site, site.options.title, body))


async def _signup(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = f'<div class="container"><div class="well"><h2>Sign up</h2>{site_pages.signup_form(site, "/signup")}</div></div>'
    return site.html(site.style.layout(site, f"Sign up - {site.brand}", body))


async def _orders(site: PanelSite, request: HttpRequest) -> HttpResponse:
    if not site.signed_in(request):
        return redirect("/")
    body = (
        '<div class="container"><table class="table" id="orders-table"><thead><tr><th>ID</th><th>Date</th><th>Link</th>'
        "<th>Charge</th><th>Start count</th><th>Quantity</th><th>Service</th><th>Status</th><th>Remains</th></tr></thead>"
        '<tbody><tr><td colspan="9">No orders found</td></tr></tbody></table></div>'
    )
    return site.html(site.style.layout(site, f"Orders - {site.brand}", body, signed_in=True))


async def _child_panel(site: PanelSite, request: HttpRequest) -> HttpResponse:
    if not site.signed_in(request):
        return redirect("/")
    nameservers = "".join(f"<li><code>{ns}</code></li>" for ns in CHILD_PANEL_NAMESERVERS)
    body = (
        '<div class="container"><div class="well"><h2>Child panel</h2>'
        "<p>Your own panel with our services connected, for $25 per month.</p>"
        f"<p>Please change nameservers of your domain to:</p><ul>{nameservers}</ul>"
        '<form method="post" action="/child-panel"><input type="hidden" name="_csrf" value="'
        f'{site.options.csrf}"><input class="form-control" name="OrderForm[domain]" placeholder="Domain">'
        '<button type="submit" class="btn btn-primary">Submit order</button></form></div></div>'
    )
    return site.html(site.style.layout(site, f"Child panel - {site.brand}", body, signed_in=True))
