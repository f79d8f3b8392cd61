"""Which panel software a site runs, with the strings that show it.

Knowing the software tells the crawler which page objects and API paths to
use, and groups sites for investigators: a Perfect Panel tenant code (the asset
folder on its CDN) or a rental clone's CDN is shared infrastructure. Detection
reads the raw page text (scripts included) and the response headers; every
verdict lists the evidence strings that led to it, so a person can check it
against the capture.
"""

from __future__ import annotations

import re
from collections import Counter

from .extract_table import Headers, decode_body, header_dict
from .items import SoftwareDetection

_PERFECT_PANEL_ASSETS = re.compile(r"(storage\.perfectcdn\.com|cdn\.mypanel\.link)/([a-z0-9]{6})/", re.IGNORECASE)
# Folders every Perfect Panel tenant loads from (shared libraries): not a tenant's code.
SHARED_ASSET_FOLDERS = frozenset({"global"})
_PERFECT_PANEL_MODULES = re.compile(r"window\.modules\.(\w+)\s*=")
# Yii2 form names and CSRF field: Perfect Panel's, and copied by the clones.
_YII_FIELDS = re.compile(r"""name=["'](_csrf|(?:OrderForm|RegistrationForm|LoginForm)\[\w+\])["']""")
_RENTAL_ASSETS = re.compile(r"cdn\.apanel\.link", re.IGNORECASE)
_TWIG_TEXT = re.compile(r"\{\{\s*(?:lang|site|service|category)\b[^}]{0,40}\}\}|\{%\s*(?:if|for)\s[^%]{0,60}%\}")
_TITLE = re.compile(r"<title[^>]*>([^<]*)</title>", re.IGNORECASE)
_SMARTPANEL_DEFAULTS = ("SmartPanel - SMM Panel Reseller Tool", "SmartPanel - #1 SMM Reseller Panel")
_API_DOCS_LINK = re.compile(r"""href=["'][^"']*/api/docs/?["']""", re.IGNORECASE)


def detect_software(url: str, body: str | bytes, headers: Headers = None) -> SoftwareDetection:
    """The panel software behind a page (any page of the site: home, sign-in,
    services), with evidence; "unknown" when nothing specific shows."""
    header_map = header_dict(headers)
    text = decode_body(body, header_map)
    evidence: list[str] = []

    codes: Counter[str] = Counter()
    for host, code in _PERFECT_PANEL_ASSETS.findall(text):
        codes[code.lower()] += 1
        _add(evidence, f"assets from {host.lower()}/{code.lower()}/")
    for module in _PERFECT_PANEL_MODULES.findall(text):
        _add(evidence, f"script window.modules.{module}")
    yii_fields = [f"form field {field}" for field in dict.fromkeys(_YII_FIELDS.findall(text))]
    rental = [f"assets from {match.lower()}" for match in dict.fromkeys(_RENTAL_ASSETS.findall(text))]
    twig = [f"unrendered Twig {match!r}" for match in dict.fromkeys(_TWIG_TEXT.findall(text))][:3]
    tenant_codes = [code for code, _ in codes.most_common() if code not in SHARED_ASSET_FOLDERS]
    tenant = tenant_codes[0] if tenant_codes else None

    if rental:
        return SoftwareDetection("rental_clone", rental + twig + yii_fields + evidence, None)
    if evidence:
        return SoftwareDetection("perfect_panel", evidence + yii_fields, tenant)
    smartpanel = _smartpanel_evidence(text, header_map)
    if smartpanel:
        return SoftwareDetection("smartpanel", smartpanel, None)
    if twig or yii_fields:
        # Perfect Panel's markup without its CDN or its scripts: a copy of it.
        note = ["perfect panel markup without perfectcdn/mypanel assets"] if yii_fields else []
        return SoftwareDetection("rental_clone", twig + yii_fields + note, None)
    return SoftwareDetection("unknown", [], None)


def _smartpanel_evidence(text: str, headers: dict[str, str]) -> list[str]:
    """SmartPanel's defaults: its title and meta description, its /api/docs page,
    and CodeIgniter's session cookie; the cookie alone says only "CodeIgniter"."""
    strong: list[str] = []
    title = _TITLE.search(text)
    if title and "smartpanel" in title.group(1).casefold():
        strong.append(f"title {' '.join(title.group(1).split())!r}")
    for default in _SMARTPANEL_DEFAULTS:
        if default in text and not any(default in item for item in strong):
            strong.append(f"default text {default!r}")
    if _API_DOCS_LINK.search(text):
        strong.append("link to /api/docs")
    hints = ["cookie ci_session (CodeIgniter)"] if "ci_session=" in headers.get("set-cookie", "") else []
    return strong + hints if strong else []


def _add(evidence: list[str], item: str) -> None:
    if item not in evidence:
        evidence.append(item)
