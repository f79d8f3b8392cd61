"""Page fragments every panel style reuses: tracking snippets, footer links, terms,
contact, API documentation and the sign-in/sign-up forms.

Snippets are the vendors' own (gtag, GTM, Meta pixel, Yandex Metrika, AdSense) so that
tracking-id extractors meet the same text they meet on real pages.
"""

from __future__ import annotations

import json

from .site_base import PanelSite, esc
from .world import HttpRequest, HttpResponse

WORLD_YEAR = 2024


def tracking_head(site: PanelSite) -> str:
    a = site.analytics
    parts: list[str] = []
    if a.gtm:
        parts.append(
            "<!-- Google Tag Manager -->\n<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':\n"
            "new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],\n"
            "j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=\n"
            "'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);\n"
            f"}})(window,document,'script','dataLayer','{a.gtm}');</script>\n<!-- End Google Tag Manager -->"
        )
    tags = [tag for tag in (a.ga4, a.ga_ua) if tag]
    if tags:
        configs = "\n  ".join(f"gtag('config', '{tag}');" for tag in tags)
        parts.append(
            f'<script async src="https://www.googletagmanager.com/gtag/js?id={tags[0]}"></script>\n<script>\n'
            "  window.dataLayer = window.dataLayer || [];\n  function gtag(){dataLayer.push(arguments);}\n"
            f"  gtag('js', new Date());\n  {configs}\n</script>"
        )
    if a.fb_pixel:
        parts.append(
            "<!-- Meta Pixel Code -->\n<script>\n!function(f,b,e,v,n,t,s)\n{if(f.fbq)return;n=f.fbq=function(){n.callMethod?\n"
            "n.callMethod.apply(n,arguments):n.queue.push(arguments)};\nif(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';\n"
            "n.queue=[];t=b.createElement(e);t.async=!0;\nt.src=v;s=b.getElementsByTagName(e)[0];\n"
            "s.parentNode.insertBefore(t,s)}(window, document,'script',\n'https://connect.facebook.net/en_US/fbevents.js');\n"
            f"fbq('init', '{a.fb_pixel}');\nfbq('track', 'PageView');\n</script>\n"
            f'<noscript><img height="1" width="1" style="display:none" src="https://www.facebook.com/tr?id={a.fb_pixel}&ev=PageView&noscript=1"/></noscript>\n'
            "<!-- End Meta Pixel Code -->"
        )
    if a.yandex_metrika:
        parts.append(
            '<!-- Yandex.Metrika counter -->\n<script type="text/javascript" >\n'
            "   (function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};\n"
            "   m[i].l=1*new Date();k=e.createElement(t),a=e.getElementsByTagName(t)[0],"
            "k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})\n"
            '   (window, document, "script", "https://mc.yandex.ru/metrika/tag.js", "ym");\n\n'
            f'   ym({a.yandex_metrika}, "init", {{\n        clickmap:true,\n        trackLinks:true,\n'
            "        accurateTrackBounce:true,\n        webvisor:true\n   });\n</script>\n"
            f'<noscript><div><img src="https://mc.yandex.ru/watch/{a.yandex_metrika}" '
            'style="position:absolute; left:-9999px;" alt="" />'
            "</div></noscript>\n"
            "<!-- /Yandex.Metrika counter -->"
        )
    if a.adsense:
        parts.append(
            f'<script async src="https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-{a.adsense}" '
            'crossorigin="anonymous">'
            "</script>"
        )
    return "\n".join(parts)


def tracking_body(site: PanelSite) -> str:
    if not site.analytics.gtm:
        return ""
    return (
        "<!-- Google Tag Manager (noscript) -->\n"
        f'<noscript><iframe src="https://www.googletagmanager.com/ns.html?id={site.analytics.gtm}" '
        'height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>\n'
        "<!-- End Google Tag Manager (noscript) -->"
    )


def footer(site: PanelSite) -> str:
    items = []
    for link in site.links:
        if link.kind == "partner":
            items.append(
                f'<li>Our partner panel: <a href="https://{link.target}/" target="_blank" rel="noopener">{esc(link.target)}</a>'
                "</li>"
            )
        else:
            items.append(f'<li>Child panel of <a href="https://{link.target}/">{esc(link.target)}</a></li>')
    partners = f'<ul class="footer-links">{"".join(items)}</ul>' if items else ""
    return (
        f'<footer class="footer"><div class="container">{partners}'
        f'<p class="copyright">&copy; {WORLD_YEAR} {esc(site.brand)}. All rights reserved. '
        f'<a href="/terms">Terms</a> &middot; <a href="{site.options.contact_path}">Contact</a></p></div></footer>'
    )


def nav_links(site: PanelSite, *, signed_in: bool) -> list[tuple[str, str]]:
    """The menu every style prints: the services page is always reachable from it."""
    style = site.style
    links = [("/", "New order" if signed_in else "Home"), (site.options.services_path, "Services")]
    if signed_in or site.options.addfunds_public:
        links.append((style.addfunds_path, "Add funds"))
    links += [(style.api_docs_path, "API"), ("/terms", "Terms"), (site.options.contact_path, "Contact")]
    if not signed_in:
        links += [(style.signin_path, "Sign in"), (style.signup_path, "Sign up")]
    menu: dict[str, str] = {}
    for href, label in links:
        menu.setdefault(href, label)  # "/" may be both home and sign-in
    return list(menu.items())


TERMS = """
<h2>General</h2>
<p>By placing an order with {brand}, you automatically accept all the below-listed terms of service
whether you read them or not. We reserve the right to change these terms of service without notice.
You are expected to read all terms of service before placing any order to ensure you are up to date
with any changes or any future changes.</p>
<p>You will only use the {brand} website in a manner which follows all agreements made with
Instagram, Facebook, Twitter, YouTube, Spotify, SoundCloud and other social media sites on their
individual Terms of Service page.</p>
<p>{brand} rates are subject to change at any time without notice. The payment/refund policy stays
in effect in the case of rate changes.</p>
<p>{brand} does not guarantee a delivery time for any services. We offer our best estimation for
when the order will be delivered. This is only an estimation and {brand} will not refund orders that
are processing if you feel they are taking too long.</p>
<h2>Service</h2>
<p>{brand} will only be used to promote your social media account and help boost your "Appearance"
only. We DO NOT guarantee your new followers will interact with you, we simply guarantee you to get
the followers you pay for.</p>
<p>We DO NOT guarantee 100% of our accounts will have a profile picture, full bio and uploaded
pictures, although we strive to make this the reality for all accounts.</p>
<h2>Refill</h2>
<p>Services marked with a refill period (R30, R60, R&infin;) are refilled on request through the
refill button of the orders page while the period lasts.</p>
<h2>Refund policy</h2>
<p>No refunds will be made to your payment method. After a deposit has been completed, there is no
way to reverse it. You must use your balance on orders from {brand}.</p>
<p>You agree that once you complete a payment, you will not file a dispute or a chargeback against us
for any reason. If you file a dispute or chargeback against us after a deposit, we reserve the right
to terminate all future orders and ban you from our site.</p>
<p class="text-muted">Last updated: June 1, {year}</p>
"""


def terms_body(site: PanelSite) -> str:
    return f'<div class="container terms"><h1>Terms of Service</h1>{TERMS.format(brand=esc(site.brand), year=WORLD_YEAR)}</div>'


def contact_body(site: PanelSite) -> str:
    c = site.contacts
    rows = [f'<li><i class="fa fa-envelope"></i> Email: <a href="mailto:{c.email}">{c.email}</a></li>']
    if c.telegram:
        rows.append(
            f'<li><i class="fa fa-telegram"></i> Telegram: <a href="https://t.me/{c.telegram.lstrip("@")}">{c.telegram}</a></li>'
        )
    if c.whatsapp:
        number = "".join(ch for ch in c.whatsapp if ch.isdigit())
        rows.append(f'<li><i class="fa fa-whatsapp"></i> WhatsApp: <a href="https://wa.me/{number}">{c.whatsapp}</a></li>')
    return (
        '<div class="container contact"><h1>Contact us</h1>'
        "<p>Our support team answers tickets 24/7. For the fastest answer open a ticket from your account.</p>"
        f'<ul class="list-unstyled">{"".join(rows)}</ul></div>'
    )


_API_ACTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...], object], ...] = (
    (
        "Service list",
        "services",
        (),
        [
            {
                "service": 1,
                "name": "Followers",
                "type": "Default",
                "category": "First Category",
                "rate": "0.90",
                "min": "50",
                "max": "10000",
                "refill": True,
                "cancel": True,
            }
        ],
    ),
    (
        "Add order",
        "add",
        (
            ("service", "Service ID"),
            ("link", "Link to page"),
            ("quantity", "Needed quantity"),
            ("runs (optional)", "Runs to deliver"),
            ("interval (optional)", "Interval in minutes"),
        ),
        {"order": 23501},
    ),
    (
        "Order status",
        "status",
        (("order", "Order ID"),),
        {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"},
    ),
    ("Create refill", "refill", (("order", "Order ID"),), {"refill": "1"}),
    ("Cancel orders", "cancel", (("orders", "Order IDs separated by comma (up to 100 IDs)"),), [{"order": 9, "cancel": 1}]),
    ("User balance", "balance", (), {"balance": "100.84292", "currency": "USD"}),
)


def api_docs_body(site: PanelSite) -> str:
    """The API page panels publish; its URL, method and error wording are software-specific."""
    style = site.style
    head = (
        '<table class="table table-bordered"><tbody>'
        f"<tr><td>API URL</td><td><strong>{site.url(style.api_path)}</strong></td></tr>"
        "<tr><td>HTTP Method</td><td>POST</td></tr>"
        "<tr><td>Response format</td><td>JSON</td></tr></tbody></table>"
    )
    sections = []
    for title, action, params, example in _API_ACTIONS:
        rows = "".join(f"<tr><td>{p}</td><td>{d}</td></tr>" for p, d in (("key", "Your API key"), ("action", action), *params))
        sections.append(
            f'<h4 class="m-t-md"><strong>{title}</strong></h4>'
            '<table class="table table-bordered"><thead><tr><th>Parameters</th>'
            f"<th>Description</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p><strong>Example response</strong></p><pre>{json.dumps(example, indent=4)}</pre>"
        )
    return f'<div class="container api"><h2>API</h2>{head}{"".join(sections)}</div>'


def signin_form(site: PanelSite, action: str) -> str:
    return (
        f'<form method="post" action="{action}" class="signin-form">'
        f'<input type="hidden" name="_csrf" value="{site.options.csrf}">'
        '<div class="form-group"><label for="username" class="control-label">Username</label>'
        '<input type="text" class="form-control" id="username" name="LoginForm[username]"></div>'
        '<div class="form-group"><label for="password" class="control-label">Password</label>'
        '<input type="password" class="form-control" id="password" name="LoginForm[password]"></div>'
        '<div class="checkbox"><label>'
        '<input type="checkbox" name="LoginForm[remember]" value="1" checked> Remember me</label></div>'
        '<button type="submit" class="btn btn-primary">Sign in</button> <a href="/resetpassword">Forgot password?</a>'
        "</form>"
    )


def signup_form(site: PanelSite, action: str) -> str:
    fields = "".join(
        f'<div class="form-group"><label class="control-label" for="{name}">{label}</label>'
        f'<input type="{kind}" class="form-control" id="{name}" name="RegistrationForm[{name}]"></div>'
        for name, label, kind in (
            ("login", "Username", "text"),
            ("email", "Email", "email"),
            ("password", "Password", "password"),
            ("password_again", "Confirm password", "password"),
        )
    )
    return (
        f'<form method="post" action="{action}"><input type="hidden" name="_csrf" value="{site.options.csrf}">{fields}'
        '<div class="checkbox"><label>'
        '<input type="checkbox" name="RegistrationForm[terms]" value="1"> '
        'I agree to the <a href="/terms">terms of service</a></label></div>'
        '<button type="submit" class="btn btn-primary">Sign up</button></form>'
    )


async def terms_page(site: PanelSite, request: HttpRequest) -> HttpResponse:
    return site.html(site.style.layout(site, f"Terms - {site.brand}", terms_body(site), signed_in=site.signed_in(request)))


async def contact_page(site: PanelSite, request: HttpRequest) -> HttpResponse:
    return site.html(site.style.layout(site, f"Contact - {site.brand}", contact_body(site), signed_in=site.signed_in(request)))


async def api_docs_page(site: PanelSite, request: HttpRequest) -> HttpResponse:
    return site.html(site.style.layout(site, f"API - {site.brand}", api_docs_body(site), signed_in=site.signed_in(request)))
