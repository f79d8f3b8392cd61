"""RDAP over HTTP with per-registry rate limits and backoff that never drops a query.

Registries throttle hard (LACNIC about 10 queries a minute, RIPE answers 429
after a few thousand), so every query waits for its registry's slot, and a 429
holds the whole registry back for `Retry-After` (or an exponential delay when
the server names none) before the same query is tried again. A rate-limited
batch therefore finishes later, with every entry.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ipwhois.rdap import BOOTSTRAP_URL, RIR_RDAP

from .base import EnrichmentSettings
from .http import HttpClient, HttpError, HttpResult

log = logging.getLogger(__name__)

RDAP_ACCEPT = "application/rdap+json, application/json;q=0.9"
# With no --rdap base, domains go to a public bootstrap redirector (it answers with a
# redirect to the TLD registry's server).
DEFAULT_DOMAIN_BASE = "https://rdap.org"
RETRYABLE = {429, 500, 502, 503, 504}


class RdapError(Exception):
    """No usable answer after every attempt."""


@dataclass(frozen=True)
class RdapResponse:
    url: str
    status: int
    body: bytes
    fetched_at: datetime
    duration_ms: int
    attempts: int
    peer_ip: str | None
    content_type: str

    @property
    def found(self) -> bool:
        return self.status == 200

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise RdapError(f"{self.url} answered JSON that is not an object")
        return data


def vcard_values(entity: dict[str, Any], field: str) -> list[Any]:
    """The values of one jCard property (RFC 7095) of an RDAP entity: "fn", "email", "adr"..."""
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) == 2 and isinstance(card[1], list)):
        return []
    return [item[3] for item in card[1] if isinstance(item, list) and len(item) >= 4 and item[0] == field]


class RegistryThrottle:
    """Spaces one registry's queries at its rate and holds them all back after a 429."""

    def __init__(self, rate_per_second: float) -> None:
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self._next_slot = 0.0
        self._held_until = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            async with self._lock:
                now = loop.time()
                slot = max(now, self._next_slot, self._held_until)
                self._next_slot = slot + self.interval
            await asyncio.sleep(slot - now)
            if loop.time() >= self._held_until:
                return  # else a 429 arrived while we waited: queue again behind the hold

    def hold(self, seconds: float) -> None:
        self._held_until = max(self._held_until, asyncio.get_running_loop().time() + seconds)


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class RdapClient:
    """Builds RDAP URLs (on `--rdap` when given, else each registry's server) and fetches them."""

    def __init__(self, http: HttpClient, settings: EnrichmentSettings,
                 on_request: Callable[[int], None] | None = None) -> None:
        self.http = http
        self.settings = settings
        self.base = settings.rdap_url.rstrip("/") if settings.rdap_url else None
        self.on_request = on_request  # called with each answer's status, for the statistics
        self._throttles: dict[str, RegistryThrottle] = {}

    def ip_url(self, address: str, registry: str | None) -> str:
        if self.base:
            return f"{self.base}/ip/{address}"
        if registry in RIR_RDAP:
            return RIR_RDAP[registry]["ip_url"].format(address)
        return f"{BOOTSTRAP_URL}/ip/{address}"

    def domain_url(self, domain: str) -> str:
        return f"{self.base or DEFAULT_DOMAIN_BASE}/domain/{domain}"

    def throttle(self, registry: str) -> RegistryThrottle:
        if registry not in self._throttles:
            self._throttles[registry] = RegistryThrottle(self.settings.rdap_rate(registry))
        return self._throttles[registry]

    async def fetch(self, url: str, registry: str) -> RdapResponse:
        """The registry's answer to `url` (404 and other refusals included); RdapError when
        it could not be had: `rdap_max_attempts` failures (connection errors, 5xx), or
        429s for longer than `rdap_max_wait` seconds. A 429 costs no attempt."""
        throttle = self.throttle(registry)
        failures, rate_limited, last_problem = 0, 0, ""
        started = time.monotonic()
        while failures < self.settings.rdap_max_attempts:
            await throttle.wait()
            try:
                hops = await self.http.get(url, headers=[("Accept", RDAP_ACCEPT)], max_redirects=3)
            except HttpError as exc:
                failures, last_problem = failures + 1, str(exc)
                if self.on_request:
                    self.on_request(0)
                await asyncio.sleep(self._backoff(failures))
                continue
            result = hops[-1]
            if self.on_request:
                self.on_request(result.status)
            if result.status not in RETRYABLE:
                return _response(result, failures + rate_limited + 1)
            delay = retry_after_seconds(result.header("retry-after"))
            last_problem = f"HTTP {result.status}"
            if result.status != 429:
                failures += 1
                await asyncio.sleep(delay if delay is not None else self._backoff(failures))
                continue
            rate_limited += 1
            if time.monotonic() - started > self.settings.rdap_max_wait:
                break
            delay = delay if delay is not None else self._backoff(rate_limited)
            throttle.hold(delay)
            log.info("RDAP %s rate-limited on %s: every %s query waits %.1fs", registry, url, registry, delay)
        raise RdapError(f"{url}: no answer ({last_problem}; {failures} failed attempts, {rate_limited} rate-limited)")

    def _backoff(self, attempt: int) -> float:
        base = self.settings.rdap_backoff * 2 ** (attempt - 1)
        return min(self.settings.rdap_backoff_max, base) * random.uniform(0.8, 1.2)


def _response(result: HttpResult, attempts: int) -> RdapResponse:
    return RdapResponse(result.url, result.status, result.body, result.fetched_at, result.duration_ms, attempts,
                        result.peer_ip, result.header("content-type") or "application/rdap+json")

