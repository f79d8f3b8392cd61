"""The human-readable report: HTML from a Jinja2 template, for a reader who never heard of SMM panels.

The template (templates/report.html.j2) holds the words; this module holds the
few formatting rules (times in UTC, prices, citations of artefacts) so that every
table says things the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

KIND_NAMES = {"response": "page", "dom": "rendered page", "screenshot": "screenshot", "dns": "DNS answer",
              "rdap": "registry record", "tls": "TLS certificates"}
EVIDENCE_TEXT_LIMIT = 240


def _utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _minute(moment: datetime | None) -> str:
    """Times in table cells: to the minute; the artefact table gives the full time."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _usd(value: Decimal | None) -> str:
    return "" if value is None else format(value.quantize(Decimal("0.0001")), "f")


def _human(value: str | None) -> str:
    return value.replace("_", " ").capitalize() if value else "unclassified"


def _cite(capture_id: int | None, numbers: Mapping[int, int]) -> Markup | str:
    if capture_id is None:
        return ""
    if capture_id in numbers:
        return Markup(f'<a href="#A{numbers[capture_id]}">A{numbers[capture_id]}</a>')
    return f"capture {capture_id} (not in this pack)"


def _evidence(evidence: Mapping[str, Any], numbers: Mapping[int, int]) -> Markup:
    """A Link's evidence: capture ids become citations, anything else is shown as it is stored."""
    parts = []
    for key, value in evidence.items():
        ids = value if isinstance(value, list) else [value]
        if "capture" in key and all(isinstance(item, int) for item in ids):
            cited = ", ".join(str(escape(_cite(item, numbers))) for item in ids)
            parts.append(f"{escape(key)}: {cited}")
        else:
            text = json.dumps(value, default=str, ensure_ascii=False)
            if len(text) > EVIDENCE_TEXT_LIMIT:
                text = text[:EVIDENCE_TEXT_LIMIT] + "…"
            parts.append(f"{escape(key)}: {escape(text)}")
    return Markup("; ".join(parts))


def _environment() -> Environment:
    environment = Environment(autoescape=True, undefined=StrictUndefined)
    environment.filters.update(utc=_utc, minute=_minute, usd=_usd, human=_human, cite=_cite, evidence=_evidence,
                               kind_name=lambda kind: KIND_NAMES.get(kind, kind))
    return environment


def render_report(context: Mapping[str, Any]) -> str:
    """The report's HTML; `context` holds what the template names (see export.py)."""
    template = (files("panelmap.evidence") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    return _environment().from_string(template).render(**context)
