"""SmartPanel (a PHP/CodeIgniter script operators buy): its default title, `/auth/login`,
the service list behind sign-in (`enable_service_list_no_login` off), `/api/v1` and
`/api/docs`. The session cookie is `ci_session`; the world's secrets carry one.
"""

from __future__ import annotations

from . import site_api, site_pages
from .site_addfunds import addfunds_page
from .site_base import CURRENCY_SYMBOLS, PanelSite, Route, esc, redirect, register
from .world import HttpRequest, HttpResponse

DEFAULT_TITLE = "SmartPanel - SMM Panel Reseller Tool"
DEFAULT_KEYWORDS = (
    "smm panel, SmartPanel, smm reseller panel, smm provider panel, reseller panel, instagram panel, "
    "resellerpanel, social media reseller panel, smmpanel, panelsmm, smm, panel, socialmedia, instagram reseller panel"
)


class SmartPanelStyle:
    name = "smartpanel"
    software = "smartpanel"
    cookie_name = "ci_session"
    addfunds_path = "/add_funds"
    api_path = "/api/v1"
    api_docs_path = "/api/docs"
    signin_path = "/auth/login"
    signup_path = "/auth/signup"

    def columns(self, site: PanelSite) -> list[str]:
        return ["ID", "Name", f"Rate per 1000 ({CURRENCY_SYMBOLS[site.currency]})", "Min / Max", "Description"]

    def services_urls(self, site: PanelSite) -> list[str]:
        return [site.url("/services")]

    def layout(self, site: PanelSite, title: str, body: str, *, signed_in: bool = False) -> str:
        nav = "".join(
            f'<li class="nav-item"><a href="{href}" class="nav-link">{label}</a></li>'
            for href, label in site_pages.nav_links(site, signed_in=signed_in)
        )
        base = site.url("/")
        return f"""<!DOCTYPE html>
<html lang="en" dir="ltr">
  <head>
    <meta charset="UTF-8">
    <meta name="viewport" content="width=device-width, user-scalable=no, initial-scale=1.0, maximum-scale=1.0, minimum-scale=1.0">
    <meta http-equiv="X-UA-Compatible" content="ie=edge">
    <meta name="description" content="SmartPanel - #1 SMM Reseller Panel - Best SMM Panel for Resellers.">
    <meta name="keywords" content="{DEFAULT_KEYWORDS}">
    <title>{esc(title)}</title>
    <link rel="shortcut icon" type="image/x-icon" href="{base}favicon.ico">
    <meta name="apple-mobile-web-app-status-bar-style" content="black-translucent">
    <meta name="apple-mobile-web-app-capable" content="yes">
    <link href="{base}assets/plugins/tabler/tabler.css" rel="stylesheet">
    <link href="{base}assets/css/layout.css" rel="stylesheet">
    <script src="{base}assets/js/vendors/jquery-3.2.1.min.js"></script>
    <script type="text/javascript">
      var token = '{site.options.csrf}',
          PATH  = '{base}',
          BASE  = '{base}';
    </script>
{site_pages.tracking_head(site)}
  </head>
  <body>
{site_pages.tracking_body(site)}
    <div class="page"><div class="header py-4"><div class="container"><div class="d-flex">
      <a class="header-brand" href="{base}">{esc(site.brand)}</a>
      <ul class="nav nav-tabs border-0 flex-column flex-lg-row">{nav}</ul>
    </div></div></div>
    <div class="my-3 my-md-5"><div class="container">
{body}
    </div></div></div>
{site_pages.footer(site)}
    <script src="{base}assets/js/core.js"></script>
  </body>
</html>"""

    def routes(self, site: PanelSite) -> dict[str, Route]:
        return {
            "/": _home,
            "/services": _services,
            "/auth/login": _login,
            "/auth/signup": _signup,
            "/api/docs": site_pages.api_docs_page,
            "/api/v1": site_api.api_v1_smartpanel,
            "/add_funds": addfunds_page,
            "/terms": site_pages.terms_page,
            site.options.contact_path: site_pages.contact_page,
        }


STYLE = register(SmartPanelStyle())


def _login_form(site: PanelSite) -> str:
    return (
        f'<form class="actionForm" action="{site.url("/auth/ajax_sign_in")}" '
        f'data-redirect="{site.url("/statistics")}" method="POST">'
        '<div class="form-group"><label class="form-label">Email</label>'
        '<input type="email" class="form-control" name="email"></div>'
        '<div class="form-group"><label class="form-label">Password</label>'
        '<input type="password" class="form-control" name="password"></div>'
        '<button type="submit" class="btn btn-primary btn-block">Login</button></form>'
    )


async def _home(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = (
        f'<div class="row"><div class="col-md-7"><h1>{esc(site.brand)}</h1>'
        "<p>Best SMM panel for resellers: instant start, cheap prices, API for your own panel.</p></div>"
        f'<div class="col-md-5"><div class="card"><div class="card-body">{_login_form(site)}</div></div></div></div>'
    )
    return site.html(site.style.layout(site, site.options.title, body, signed_in=site.signed_in(request)))


async def _login(site: PanelSite, request: HttpRequest) -> HttpResponse:
    body = (
        '<div class="col-login mx-auto"><div class="card"><div class="card-body p-6">'
        f'<div class="card-title">Login to your account</div>{_login_form(site)}</div></div></div>'
    )
    return site.html(site.style.layout(site, f"Login - {site.brand}", body))


async def _signup(site: PanelSite, request: HttpRequest) -> HttpResponse:
    fields = "".join(
        f'<div class="form-group"><label class="form-label">{label}</label>'
        f'<input type="{kind}" class="form-control" name="{name}"></div>'
        for name, label, kind in (
            ("first_name", "First name", "text"),
            ("last_name", "Last name", "text"),
            ("email", "Email", "email"),
            ("password", "Password", "password"),
            ("re_password", "Confirm password", "password"),
        )
    )
    body = (
        f'<div class="card"><div class="card-body"><form class="actionForm" action="{site.url("/auth/ajax_sign_up")}" '
        f'method="POST">{fields}<button type="submit" class="btn btn-primary btn-block">Create new account</button></form>'
        "</div></div>"
    )
    return site.html(site.style.layout(site, f"Signup - {site.brand}", body))


async def _services(site: PanelSite, request: HttpRequest) -> HttpResponse:
    if not site.signed_in(request):
        return redirect(site.url("/auth/login"))
    head = "".join(f"<th>{esc(t)}</th>" for t in STYLE.columns(site))
    cards = []
    for category, offers in site.categories():
        rows = "".join(
            f'<tr class="tr_{o.service_id}"><td class="text-center w-1">{o.service_id}</td>'
            f'<td><div class="title">{esc(o.name)}</div></td>'
            f'<td class="text-center">{esc(o.rate_display)}</td>'
            f'<td class="text-center">{o.min_display} / {o.max_display}</td>'
            f'<td><div class="description">{esc(o.description)}</div></td></tr>'
            for o in offers
        )
        cards.append(
            f'<div class="card"><div class="card-header"><h3 class="card-title">{esc(category)}</h3></div>'
            f'<div class="table-responsive"><table class="table table-hover table-bordered table-vcenter card-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div></div>"
        )
    body = (
        '<div class="page-header"><h1 class="page-title">Services</h1></div>'
        f'<div class="row"><div class="col-md-12">{"".join(cards)}</div></div>'
    )
    return site.html(site.style.layout(site, f"Services - {site.brand}", body, signed_in=True))
