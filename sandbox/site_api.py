"""The panel API ("API v2") in the dialects panel software speaks.

Read-only actions answer truthfully (`services`, `balance`); order actions (`add`,
`status`, `refill`, `cancel`) answer with the error a real panel gives a zero-balance
account that never ordered, so nothing pretends an order exists. Error wording, status
codes and field types differ per software on purpose: they are fingerprints.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from .site_base import Offer, PanelSite, form_fields
from .world import HttpRequest, HttpResponse

ORDER_ACTIONS = ("add", "status", "refill", "refill_status", "cancel")
LARAVEL_LIMIT_PER_MINUTE = 60


def _services_perfectpanel(offers: tuple[Offer, ...]) -> list[dict[str, Any]]:
    return [
        {
            "service": o.service_id,
            "name": o.name,
            "type": o.type,
            "category": o.category,
            "rate": str(o.rate),
            "min": str(o.min),
            "max": str(o.max),
            "refill": o.refill,
            "cancel": o.cancel,
        }
        for o in offers
    ]


def _services_rental(offers: tuple[Offer, ...]) -> list[dict[str, Any]]:
    return [
        {
            "service": str(o.service_id),
            "name": o.name,
            "type": o.type,
            "category": o.category,
            "rate": str(o.rate),
            "min": str(o.min),
            "max": str(o.max),
            "desc": o.description,
            "dripfeed": o.dripfeed,
        }
        for o in offers
    ]


def _services_typed(offers: tuple[Offer, ...]) -> list[dict[str, Any]]:
    return [
        {
            "service": o.service_id,
            "name": o.name,
            "type": o.type,
            "category": o.category,
            "rate": str(o.rate),
            "min": o.min,
            "max": o.max,
            "refill": o.refill,
            "cancel": o.cancel,
            "dripfeed": o.dripfeed,
        }
        for o in offers
    ]


def _services_smartpanel(offers: tuple[Offer, ...]) -> list[dict[str, Any]]:
    return [
        {
            "service": str(o.service_id),
            "name": o.name,
            "category": o.category,
            "rate": str(o.rate),
            "min": str(o.min),
            "max": str(o.max),
            "type": o.type.lower(),
            "desc": o.description,
            "dripfeed": "1" if o.dripfeed else "0",
        }
        for o in offers
    ]


def _order_error(action: str, fields: dict[str, str]) -> Any:
    if action == "add":
        return {"error": "Not enough funds on balance"}
    if action == "status" and "orders" in fields:
        return {order.strip(): {"error": "Incorrect order ID"} for order in fields["orders"].split(",") if order.strip()}
    if action == "cancel":
        return [
            {"order": order.strip(), "cancel": {"error": "Incorrect order ID"}}
            for order in fields.get("orders", "").split(",")
            if order.strip()
        ]
    if action == "refill_status":
        return {"error": "Incorrect refill ID"}
    return {"error": "Incorrect order ID"}


async def api_v2(site: PanelSite, request: HttpRequest) -> HttpResponse:
    """Perfect Panel and its clones: every answer is HTTP 200 JSON, errors included."""
    fields = form_fields(request)
    if fields.get("key") != site.api_key:
        return site.json({"error": "Invalid API key"})
    action = fields.get("action", "")
    if action == "services":
        render = {"rental": _services_rental, "custom": _services_typed}.get(site.style.software, _services_perfectpanel)
        return site.json(render(site.catalogue))
    if action == "balance":
        return site.json({"balance": "0.00000", "currency": site.currency})
    if action in ORDER_ACTIONS:
        return site.json(_order_error(action, fields))
    return site.json({"error": "Incorrect request"})


async def api_v1_smartpanel(site: PanelSite, request: HttpRequest) -> HttpResponse:
    """SmartPanel's `/api/v1`: same actions, its own status/message envelope."""
    fields = form_fields(request)
    if not fields.get("key"):
        return site.json({"status": "error", "message": "API key is required"})
    if fields["key"] != site.api_key:
        return site.json({"status": "error", "message": "The API key is invalid"})
    action = fields.get("action", "")
    if action == "services":
        return site.json(_services_smartpanel(site.catalogue))
    if action == "balance":
        return site.json({"status": "success", "balance": "0.0000", "currency": site.currency})
    if action == "add":
        return site.json({"status": "error", "message": "Not enough funds on balance"})
    if action in ORDER_ACTIONS:
        return site.json({"status": "error", "message": "Order ID is incorrect"})
    return site.json({"status": "error", "message": "This action is not available"})


async def api_v2_laravel(site: PanelSite, request: HttpRequest) -> HttpResponse:
    """A Laravel clone: POST only, 401 for a bad key, 400 for a bad request, throttled at
    60 requests a minute per site (429 with Retry-After), as its `throttle:60,1` would."""
    if request.method != "POST":
        return site.json({"message": "The GET method is not supported for route api/v2. Supported methods: POST."}, 405)
    hits: deque[float] = site.state.setdefault("api_hits", deque())
    now = time.monotonic()
    while hits and now - hits[0] > 60:
        hits.popleft()
    if len(hits) >= LARAVEL_LIMIT_PER_MINUTE:
        response = site.json({"message": "Too Many Attempts."}, 429)
        retry = str(int(60 - (now - hits[0])) + 1)
        response.headers += [
            ("Retry-After", retry),
            ("X-RateLimit-Limit", str(LARAVEL_LIMIT_PER_MINUTE)),
            ("X-RateLimit-Remaining", "0"),
        ]
        return response
    hits.append(now)
    fields = form_fields(request)
    if fields.get("key") != site.api_key:
        return site.json({"message": "Unauthenticated."}, 401)
    action = fields.get("action", "")
    if action == "services":
        return site.json(_services_typed(site.catalogue))
    if action == "balance":
        return site.json({"balance": "0.00", "currency": site.currency})
    if action in ORDER_ACTIONS:
        message = "Insufficient balance." if action == "add" else "The selected order is invalid."
        return site.json({"message": message, "errors": {"order" if action != "add" else "balance": [message]}}, 400)
    message = "The action field is required." if not action else "The selected action is invalid."
    return site.json({"message": message, "errors": {"action": [message]}}, 400)
