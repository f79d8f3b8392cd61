"""A hand-made panel whose price list arrives by `fetch()` after the page loads: the static
HTML holds an empty table, so only a rendering crawler (or one that finds the JSON
endpoint) sees the catalogue. The script fetches a same-origin URL only.
"""

from __future__ import annotations

import hashlib

from . import site_api, site_pages
from .site_addfunds import addfunds_page
from .site_base import PanelSite, Route, esc, register
from .world import HttpRequest, HttpResponse

LIST_PATH = "/services/list.json"

_SCRIPT = """
document.addEventListener('DOMContentLoaded', function () {
  fetch('__LIST_PATH__', {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
    .then(function (response) { return response.json(); })
    .then(function (data) {
      var tbody = document.querySelector('#price-table tbody');
      data.categories.forEach(function (category) {
        var head = document.createElement('tr');
        head.className = 'category-row';
        var cell = document.createElement('td');
        cell.colSpan = 6;
        cell.textContent = category.name;
        head.appendChild(cell);
        tbody.appendChild(head);
        category.services.forEach(function (service) {
          var row = document.createElement('tr');
          row.setAttribute('data-service-id', service.id);
          [service.id, service.name, service.price, service.min, service.max, service.description].forEach(function (value) {
            var td = document.createElement('td');
            td.textContent = value;
            row.appendChild(td);
          });
          tbody.appendChild(row);
        });
      });
      var loading = document.getElementById('loading');
      if (loading) { loading.parentNode.removeChild(loading); }
    });
});
""".replace("__LIST_PATH__", LIST_PATH)


class XhrStyle:
    name = "xhr"
    software = "custom"
    cookie_name = "PHPSESSID"
    addfunds_path = "/addfunds"
    api_path = "/api/v2"
    api_docs_path = "/api"
    signin_path = "/login"
    signup_path = "/signup"

    def columns(self, site: PanelSite) -> list[str]:
        return ["ID", "Service", "Rate per 1000", "Min", "Max", "Description"]

    def services_urls(self, site: PanelSite) -> list[str]:
        return [site.url(site.options.services_path), site.url(LIST_PATH)]

    def layout(self, site: PanelSite, title: str, body: str, *, signed_in: bool = False) -> str:
        build = hashlib.sha1(site.domain.encode()).hexdigest()[:8]
        nav = " ".join(f'<a href="{href}">{label}</a>' for href, label in site_pages.nav_links(site, signed_in=signed_in))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{esc(title)}</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="/static/css/main.{build}.css">
{site_pages.tracking_head(site)}
</head>
<body>
{site_pages.tracking_body(site)}
<header class="topbar"><a class="brand" href="/">{esc(site.brand)}</a><nav>{nav}</nav></header>
{body}
{site_pages.footer(site)}
</body>
</html>"""

    def routes(self, site: PanelSite) -> dict[str, Route]:
        return {
            "/": _home,
            site.options.services_path: _services,
            LIST_PATH: _service_list,
            "/login": _login,
            "/signup": _signup,
            "/api": site_pages.api_docs_page,
            "/api/v2": site_api.api_v2,
            "/addfunds": addfunds_page,
            "/terms": site_pages.terms_page,
            site.options.contact_path: site_pages.contact_page,
        }


STYLE = register(XhrStyle())


async def _services(site: PanelSite, request: HttpRequest) -> HttpResponse:
    head = "".join(f"<th>{t}</th>" for t in STYLE.columns(site))
    body = (
        '<section class="prices"><h1>Our prices</h1><div id="loading">Loading services&hellip;</div>'
        f'<table id="price-table" class="price-table"><thead><tr>{head}</tr></thead><tbody></tbody></table></section>'
        f"<script>{_SCRIPT}</script>"
    )
    return site.html(STYLE.layout(site, f"Prices - {site.brand}", body, signed_in=site.signed_in(request)))


async def _service_list(site: PanelSite, request: HttpRequest) -> HttpResponse:
    categories = [
        {
            "name": name,
            "services": [
                {
                    "id": o.service_id,
                    "name": o.name,
                    "price": o.rate_display,
                    "rate": str(o.rate),
                    "min": o.min_display,
                    "max": o.max_display,
                    "description": o.description,
                }
                for o in offers
            ],
        }
        for name, offers in site.categories()
    ]
    return site.json({"currency": site.currency, "categories": categories})


async def _home(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = (
        f'<section class="hero"><h1>{esc(site.brand)}</h1><p>Real growth for artists and creators: Spotify, '
        "YouTube, Instagram and TikTok promotion.</p>"
        f'<a class="button" href="{site.options.services_path}">See our prices</a></section>'
    )
    return site.html(STYLE.layout(site, site.options.title, body, signed_in=site.signed_in(request)))


async def _login(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = f'<section class="auth"><h1>Sign in</h1>{site_pages.signin_form(site, "/login")}</section>'
    return site.html(STYLE.layout(site, f"Sign in - {site.brand}", body))


async def _signup(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = f'<section class="auth"><h1>Create account</h1>{site_pages.signup_form(site, "/signup")}</section>'
    return site.html(STYLE.layout(site, f"Sign up - {site.brand}", body))
