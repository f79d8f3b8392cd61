"""A Laravel SMM script: the price list is paginated (`/services?page=N`, `rel="next"`
links, Laravel's Bootstrap paginator markup) and split into category pages
(`/services/category/<slug>`). Its API is the Laravel dialect (401/400/429).
"""

from __future__ import annotations

import re

from . import site_api, site_pages
from .site_addfunds import addfunds_page
from .site_base import CURRENCY_SYMBOLS, Offer, PanelSite, Route, esc, query, register
from .world import HttpRequest, HttpResponse

CATEGORY_PREFIX = "/services/category/"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "other"


def category_slugs(site: PanelSite) -> dict[str, str]:
    """Category name -> unique slug, as the script's `Str::slug` with a counter."""
    slugs: dict[str, str] = {}
    used: set[str] = set()
    for category, _ in site.categories():
        base = candidate = slug(category)
        counter = 2
        while candidate in used:
            candidate, counter = f"{base}-{counter}", counter + 1
        used.add(candidate)
        slugs[category] = candidate
    return slugs


def page_count(site: PanelSite) -> int:
    return max(1, -(-len(site.catalogue) // site.options.page_size))


class LaravelStyle:
    name = "paginated"
    software = "laravel"
    cookie_name = "laravel_session"
    addfunds_path = "/addfunds"
    api_path = "/api/v2"
    api_docs_path = "/api"
    signin_path = "/login"
    signup_path = "/register"

    def columns(self, site: PanelSite) -> list[str]:
        return ["#", "Service", f"Price ({CURRENCY_SYMBOLS[site.currency]}) Per 1000", "Min", "Max", "Description"]

    def services_urls(self, site: PanelSite) -> list[str]:
        return [site.url("/services")] + [site.url(f"/services?page={n}") for n in range(2, page_count(site) + 1)]

    def category_urls(self, site: PanelSite) -> list[str]:
        return [site.url(CATEGORY_PREFIX + s) for s in category_slugs(site).values()]

    def layout(self, site: PanelSite, title: str, body: str, *, signed_in: bool = False) -> str:
        nav = "".join(
            f'<li class="nav-item"><a class="nav-link" href="{site.url(href)}">{label}</a></li>'
            for href, label in site_pages.nav_links(site, signed_in=signed_in)
        )
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="csrf-token" content="{site.options.csrf}">
    <title>{esc(title)}</title>
    <link rel="icon" type="image/x-icon" href="{site.url("/favicon.ico")}">
    <link href="{site.url("/css/app.css?id=" + site.options.csrf[:20])}" rel="stylesheet">
{site_pages.tracking_head(site)}
</head>
<body>
{site_pages.tracking_body(site)}
<div id="app">
    <nav class="navbar navbar-expand-md navbar-light bg-white shadow-sm"><div class="container">
        <a class="navbar-brand" href="{site.url("/")}">{esc(site.brand)}</a>
        <ul class="navbar-nav ml-auto">{nav}</ul>
    </div></nav>
    <main class="py-4">
{body}
    </main>
</div>
{site_pages.footer(site)}
<script src="{site.url("/js/app.js?id=" + site.options.csrf[20:40])}" defer></script>
</body>
</html>"""

    def routes(self, site: PanelSite) -> dict[str, Route]:
        return {
            "/": _home,
            "/services": _services,
            CATEGORY_PREFIX: _category,
            "/login": _login,
            "/register": _register,
            "/api": site_pages.api_docs_page,
            "/api/v2": site_api.api_v2_laravel,
            "/addfunds": addfunds_page,
            "/terms": site_pages.terms_page,
            site.options.contact_path: site_pages.contact_page,
        }


STYLE = register(LaravelStyle())


def _table(site: PanelSite, offers: list[Offer]) -> str:
    columns = STYLE.columns(site)
    rows, current = [], None
    for o in offers:
        if o.category != current:
            current = o.category
            rows.append(f'<tr class="table-active"><th colspan="{len(columns)}">{esc(o.category)}</th></tr>')
        rows.append(
            f"<tr><td>{o.service_id}</td><td>{esc(o.name)}</td><td>{esc(o.rate_display)}</td>"
            f"<td>{o.min_display}</td><td>{o.max_display}</td><td>"
            f'<small class="text-muted">{esc(o.description)}</small></td></tr>'
        )
    head = "".join(f'<th scope="col">{esc(t)}</th>' for t in columns)
    return (
        f'<table class="table table-bordered table-hover"><thead class="thead-light"><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _paginator(site: PanelSite, page: int, pages: int) -> str:
    def item(label: str, target: int | None, rel: str = "", active: bool = False) -> str:
        if target is None:
            return f'<li class="page-item disabled" aria-disabled="true"><span class="page-link">{label}</span></li>'
        if active:
            return f'<li class="page-item active" aria-current="page"><span class="page-link">{label}</span></li>'
        rel_attr = f' rel="{rel}"' if rel else ""
        return (
            f'<li class="page-item"><a class="page-link" href="{site.url(f"/services?page={target}")}"{rel_attr}>{label}</a></li>'
        )

    items = [item("&lsaquo;", page - 1 if page > 1 else None, "prev")]
    items += [item(str(n), n, active=n == page) for n in range(1, pages + 1)]
    items.append(item("&rsaquo;", page + 1 if page < pages else None, "next"))
    return f'<nav><ul class="pagination">{"".join(items)}</ul></nav>'


def _category_menu(site: PanelSite) -> str:
    links = "".join(
        f'<a class="list-group-item list-group-item-action" href="{site.url(CATEGORY_PREFIX + s)}">{esc(name)}</a>'
        for name, s in category_slugs(site).items()
    )
    return f'<div class="list-group categories">{links}</div>'


async def _services(site: PanelSite, request: HttpRequest) -> HttpResponse:
    pages = page_count(site)
    raw = query(request).get("page", "1")
    page = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    size = site.options.page_size
    offers = list(site.catalogue[(page - 1) * size : page * size])
    table = _table(site, offers) if offers else '<p class="text-center">No services found.</p>'
    body = (
        f'<div class="container"><div class="row"><div class="col-md-3">{_category_menu(site)}</div>'
        f'<div class="col-md-9"><h1 class="h3">Services</h1>{table}{_paginator(site, page, pages)}</div></div></div>'
    )
    return site.html(STYLE.layout(site, f"Services - {site.brand}", body, signed_in=site.signed_in(request)))


async def _category(site: PanelSite, request: HttpRequest) -> HttpResponse:
    wanted = request.target.split("?")[0][len(CATEGORY_PREFIX) :].strip("/")
    name = next((n for n, s in category_slugs(site).items() if s == wanted), None)
    if name is None:
        return site.html(STYLE.layout(site, "Not Found", '<div class="container"><h1>404 | Not Found</h1></div>'), status=404)
    offers = [o for o in site.catalogue if o.category == name]
    body = (
        f'<div class="container"><div class="row"><div class="col-md-3">{_category_menu(site)}</div>'
        f'<div class="col-md-9"><h1 class="h3">{esc(name)}</h1>{_table(site, offers)}</div></div></div>'
    )
    return site.html(STYLE.layout(site, f"{name} - {site.brand}", body, signed_in=site.signed_in(request)))


def _auth_form(site: PanelSite, action: str, fields: tuple[tuple[str, str, str], ...], button: str) -> str:
    inputs = "".join(
        f'<div class="form-group row"><label for="{n}" class="col-md-4 col-form-label text-md-right">{label}</label>'
        f'<div class="col-md-6"><input id="{n}" type="{kind}" class="form-control" name="{n}"></div></div>'
        for n, label, kind in fields
    )
    return (
        f'<div class="container"><div class="card"><div class="card-body"><form method="POST" action="{site.url(action)}">'
        f'<input type="hidden" name="_token" value="{site.options.csrf}">{inputs}'
        f'<button type="submit" class="btn btn-primary">{button}</button></form></div></div></div>'
    )


async def _home(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = (
        f'<div class="container"><div class="jumbotron"><h1 class="display-4">{esc(site.brand)}</h1>'
        f'<p class="lead">{len(site.catalogue)} services for Instagram, YouTube, Spotify and more.</p>'
        f'<a class="btn btn-primary btn-lg" href="{site.url("/services")}">See prices</a></div></div>'
    )
    return site.html(STYLE.layout(site, site.options.title, body, signed_in=site.signed_in(request)))


async def _login(site: PanelSite, request: HttpRequest) -> HttpResponse:
    fields = (("email", "E-Mail Address", "email"), ("password", "Password", "password"))
    return site.html(STYLE.layout(site, f"Login - {site.brand}", _auth_form(site, "/login", fields, "Login")))


async def _register(site: PanelSite, request: HttpRequest) -> HttpResponse:
    fields = (
        ("name", "Name", "text"),
        ("email", "E-Mail Address", "email"),
        ("password", "Password", "password"),
        ("password_confirmation", "Confirm Password", "password"),
    )
    return site.html(STYLE.layout(site, f"Register - {site.brand}", _auth_form(site, "/register", fields, "Register")))
