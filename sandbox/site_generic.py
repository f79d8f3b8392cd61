"""Rental clones (Twig templates imitating Perfect Panel, assets on `cdn.apanel.link`) whose
price tables use other column titles, orders and number formats, taken from the real raw
headers: icon ligatures glued to titles ("format_list_numberedID"), "Service Name",
"Price (€) Per 1000", "Min/Max order" in one cell, description before price, and cells
padded with white space ("  ₹200.00  ").
"""

from __future__ import annotations

from collections.abc import Callable

from . import site_api, site_pages
from .site_addfunds import addfunds_page
from .site_base import CURRENCY_SYMBOLS, Offer, PanelSite, Route, esc, register
from .world import HttpRequest, HttpResponse

ICON_COLUMNS = (
    ("format_list_numbered", "ID"),
    ("storage", "Service"),
    ("bar_chart", "Price per 1000"),
    ("call_received", "Min order"),
    ("call_made", "Max order"),
    ("format_align_left", "Description"),
)
PAD = " " * 40


class RentalStyle:
    name = "generic"
    software = "rental"
    cookie_name = "PHPSESSID"
    addfunds_path = "/addfunds"
    api_path = "/api/v2"
    api_docs_path = "/api"
    signin_path = "/"
    signup_path = "/signup"

    def columns(self, site: PanelSite) -> list[str]:
        symbol = CURRENCY_SYMBOLS[site.currency]
        return [
            [icon + title for icon, title in ICON_COLUMNS],
            ["ID", "Service Name", f"Price ({symbol}) Per 1000", "Min/Max order", "Description"],
            ["ID", "Name", "Description", "Price Per 1000", "Min", "Max"],
        ][site.options.theme_variant]

    def services_urls(self, site: PanelSite) -> list[str]:
        return [site.url(site.options.services_path)]

    def layout(self, site: PanelSite, title: str, body: str, *, signed_in: bool = False) -> str:
        cdn = f"https://cdn.apanel.link/{site.tenant_code}"
        nav = "".join(
            f'<a class="menu-item" href="{href}">{label}</a>' for href, label in site_pages.nav_links(site, signed_in=signed_in)
        )
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no">
<meta name="csrf-token" content="{site.options.csrf}">
<title>{esc(title)}</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="https://fonts.googleapis.com/icon?family=Material+Icons">
<link rel="stylesheet" href="{cdn}/css/app.css?v=3.4.1">
{site_pages.tracking_head(site)}
</head>
<body class="theme-dark">
{site_pages.tracking_body(site)}
<div class="sidebar"><a class="logo" href="/">{esc(site.brand)}</a><nav class="menu">{nav}</nav></div>
<main class="content">
{body}
</main>
{site_pages.footer(site)}
<script src="{cdn}/js/app.js?v=3.4.1"></script>
</body>
</html>"""

    def routes(self, site: PanelSite) -> dict[str, Route]:
        return {
            "/": _home,
            site.options.services_path: _services,
            "/signup": _signup,
            "/api": site_pages.api_docs_page,
            "/api/v2": site_api.api_v2,
            "/addfunds": addfunds_page,
            "/terms": site_pages.terms_page,
            site.options.contact_path: site_pages.contact_page,
        }


STYLE = register(RentalStyle())


def _icon_tables(site: PanelSite) -> str:
    head = "".join(f'<th><i class="material-icons">{icon}</i>{title}</th>' for icon, title in ICON_COLUMNS)
    tables = []
    for category, offers in site.categories():
        rows = "".join(
            f"<tr><td>{o.service_id}</td><td>{esc(o.name)}</td><td>{esc(o.rate_display)}</td>"
            f"<td>{o.min_display}</td><td>{o.max_display}</td><td>{esc(o.description)}</td></tr>"
            for o in offers
        )
        tables.append(
            f'<div class="category-block"><h4 class="category-title">{esc(category)}</h4>'
            f'<table class="table services-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        )
    return "".join(tables)


def _single_table(site: PanelSite, cells: Callable[[Offer], list[str]]) -> str:
    columns = STYLE.columns(site)
    head = "".join(f"<th>{esc(t)}</th>" for t in columns)
    rows = []
    for category, offers in site.categories():
        rows.append(f'<tr class="category"><td colspan="{len(columns)}"><b>{esc(category)}</b></td></tr>')
        rows.extend("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells(o)) + "</tr>" for o in offers)
    return (
        f'<table class="table table-striped" id="services"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _combined_cells(o: Offer) -> list[str]:
    return [str(o.service_id), esc(o.name), esc(o.rate_display), f"{o.min_display} / {o.max_display}", esc(o.description)]


def _padded_cells(o: Offer) -> list[str]:
    return [
        str(o.service_id),
        esc(o.name),
        esc(o.description),
        f"\n{PAD}{esc(o.rate_display)}\n{PAD}",
        o.min_display,
        o.max_display,
    ]


async def _services(site: PanelSite, request: HttpRequest) -> HttpResponse:
    variant = site.options.theme_variant
    table = _icon_tables(site) if variant == 0 else _single_table(site, _combined_cells if variant == 1 else _padded_cells)
    body = f'<div class="container-fluid"><h2 class="page-title">Services</h2><div class="table-responsive">{table}</div></div>'
    return site.html(site.style.layout(site, f"Services - {site.brand}", body, signed_in=site.signed_in(request)))


async def _home(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = (
        f'<div class="container"><div class="hero"><h1>{esc(site.brand)}</h1>'
        f"<p>Cheap and fast social media services. Prices in {site.currency}.</p></div>"
        f'<div class="card">{site_pages.signin_form(site, "/")}</div></div>'
    )
    return site.html(site.style.layout(site, site.options.title, body, signed_in=site.signed_in(request)))


async def _signup(site: PanelSite, request: HttpRequest) -> HttpResponse:
    form = site_pages.signup_form(site, "/signup")
    body = f'<div class="container"><div class="card"><h2>Create an account</h2>{form}</div></div>'
    return site.html(site.style.layout(site, f"Sign up - {site.brand}", body))
