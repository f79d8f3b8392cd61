"""The API every panel speaks: the `action=services` answer of API v2.

`POST /api/v2` with `key` and `action=services` returns a JSON list of services.
Panels and clones differ in the details: numbers as strings or as numbers,
`desc` present or not, `refill`/`cancel`/`dripfeed` as booleans, 0/1 or
missing, and errors as a JSON object with HTTP 200 (`{"error": "Invalid API
key"}`). The answer carries no currency: the caller passes the one `balance`
reported, or USD is assumed and the entries say so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .items import CatalogueEntry
from .numbers import clean_text, parse_decimal, parse_quantity, split_max
from .taxonomy import classify


class PanelApiError(Exception):
    """The panel answered with an error object, e.g. {"error": "Invalid API key"}."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiFormatError(ValueError):
    """The answer is not a services list (not JSON, or JSON of another shape)."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def parse_services(payload: str | bytes | list[Any] | Mapping[str, Any], *,
                   currency: str | None = None) -> list[CatalogueEntry]:
    """Catalogue entries from an `action=services` answer (raw body or decoded
    JSON). Items without a service id or a readable rate are not services and
    are left out. Raises PanelApiError for an error object and ApiFormatError
    for anything that is not a list."""
    data = payload
    if isinstance(payload, (str, bytes)):
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise ApiFormatError(f"services answer is not JSON: {exc}") from None
    if isinstance(data, Mapping):
        if "error" in data:
            raise PanelApiError(str(data["error"]))
        raise ApiFormatError(f"services answer is an object without 'error': keys {sorted(data)[:10]}")
    if not isinstance(data, list):
        raise ApiFormatError(f"services answer is a {type(data).__name__}, not a list")
    entries = []
    for item in data:
        if isinstance(item, Mapping):
            entry = _entry(item, currency)
            if entry is not None:
                entries.append(entry)
    return entries


def _entry(item: Mapping[str, Any], currency: str | None) -> CatalogueEntry | None:
    service_id = item.get("service", item.get("id"))
    rate_value = item.get("rate")
    if service_id is None or rate_value is None or isinstance(rate_value, bool):
        return None
    rate_text = _number_text(rate_value)
    rate = parse_decimal(rate_text)
    if rate is None:
        return None
    name = clean_text(str(item.get("name") or "")) or ""
    category = clean_text(_optional_text(item.get("category")))
    description = _optional_text(item.get("desc", item.get("description")))
    max_quantity, unlimited = split_max(_quantity(item.get("max")))
    taxonomy = classify(name, category, description)
    return CatalogueEntry(
        service_id=_number_text(service_id),
        name=name,
        rate=rate,
        rate_text=rate_text,
        currency=currency or "USD",
        currency_assumed=currency is None,
        category=category,
        min_quantity=_quantity(item.get("min")),
        max_quantity=max_quantity,
        max_unlimited=unlimited,
        description=description,
        refill=_flag(item.get("refill")),
        cancel=_flag(item.get("cancel")),
        dripfeed=_flag(item.get("dripfeed")),
        source="api",
        platform=taxonomy.platform,
        metric=taxonomy.metric,
        geo=list(taxonomy.geo),
        device=taxonomy.device,
        premium=taxonomy.premium,
        guarantee_days=taxonomy.guarantee_days,
    )


def _number_text(value: Any) -> str:
    """A JSON number or string as text; floats by their shortest exact repr
    (0.9, not 0.90000000000000002)."""
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def _optional_text(value: Any) -> str | None:
    """`value` as stripped text; None when absent or blank."""
    return (str(value).strip() or None) if value is not None else None


def _quantity(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return parse_quantity(str(value))


def _flag(value: Any) -> bool | None:
    """true/false, 1/0, "1"/"0", "yes"/"no"; None when absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None
