"""Alerts: a job's changes appended to a JSONL file and POSTed to a webhook.

A webhook that is down must never hold up crawling, so delivery has a fixed time
budget: tenacity retries connection failures, timeouts, 429 and 5xx with
exponential backoff inside it, and stops before a wait would overrun it. The
outcome is returned for the job to record, never raised.

    outcome = deliver_alerts(AlertTargets(jsonl=Path("alerts.jsonl"), webhook="https://hooks.example/x"),
                             {"schedule": "nightly", "changes": [...]})
    # {"jsonl": "appended 12", "webhook": "delivered"}  or  {"webhook": "failed: ..."}
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_before_delay, wait_exponential

from panelmap import __version__
from panelmap.output import plain

log = logging.getLogger(__name__)


class WebhookError(Exception):
    """The webhook refused the alert for good (a 3xx or a 4xx other than 429)."""


class _RetryableStatus(Exception):
    """The webhook answered 429 or 5xx: worth another try."""


@dataclass(frozen=True)
class WebhookPolicy:
    """How long delivery may take: `budget` seconds for every attempt and wait together."""

    budget: float = 20.0
    attempt_timeout: float = 5.0
    attempts: int = 4
    backoff: float = 0.5  # first wait; doubles each retry


DEFAULT_WEBHOOK_POLICY = WebhookPolicy()


@dataclass(frozen=True)
class AlertTargets:
    """Where a schedule's alerts go; stored as `Schedule.options["alerts"]`."""

    jsonl: Path | None = None
    webhook: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AlertTargets:
        jsonl = options.get("jsonl")
        return cls(jsonl=Path(jsonl) if jsonl else None, webhook=options.get("webhook") or None)

    def as_options(self) -> dict[str, str]:
        options = {}
        if self.jsonl:
            options["jsonl"] = str(self.jsonl)
        if self.webhook:
            options["webhook"] = self.webhook
        return options


def check_webhook_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host, else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid webhook URL {redact_webhook(url)!r}: expected http(s)://host/path")
    return url


def redact_webhook(url: str) -> str:
    """Scheme and host only: webhook paths and queries often carry the token that lets anyone post."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "<invalid URL>"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def append_jsonl(path: Path, records: list[Mapping[str, Any]]) -> None:
    """One JSON object per line, appended; a reader tailing the file sees whole lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(plain(dict(record)), ensure_ascii=False, sort_keys=True) + "\n" for record in records)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(lines)


def post_webhook(url: str, payload: Mapping[str, Any], policy: WebhookPolicy = DEFAULT_WEBHOOK_POLICY) -> int:
    """POST `payload` as JSON; returns the attempts it took, or raises the last error once the
    attempts or the time budget are spent."""
    body = json.dumps(plain(dict(payload)), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"panelmap/{__version__} (alerts)"}
    deadline = time.monotonic() + policy.budget
    # tenacity does the retrying; urllib3's own retries and redirects are off. No proxy: alerts go direct.
    http = urllib3.PoolManager(retries=False)

    def attempt() -> None:
        timeout = max(0.1, min(policy.attempt_timeout, deadline - time.monotonic()))
        response = http.request("POST", url, body=body, headers=headers, timeout=urllib3.Timeout(total=timeout),
                                redirect=False)
        if response.status == 429 or response.status >= 500:
            raise _RetryableStatus(f"HTTP {response.status}")
        if response.status >= 300:  # redirects are not followed: a moved hook is a misconfigured one
            raise WebhookError(f"HTTP {response.status}")

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.budget),
        wait=wait_exponential(multiplier=policy.backoff, max=policy.budget),
        retry=retry_if_exception_type((urllib3.exceptions.HTTPError, _RetryableStatus)),
        reraise=True,
    )
    try:
        retrying(attempt)
    finally:
        http.clear()
    return retrying.statistics.get("attempt_number", 1)


def deliver_alerts(targets: AlertTargets, payload: Mapping[str, Any], *,
                   policy: WebhookPolicy = DEFAULT_WEBHOOK_POLICY) -> dict[str, str]:
    """Send `payload` (with its `changes` list) to every target; never raises.

    The JSONL file gets one line per change, each carrying the payload's other keys
    (schedule, job, run) so a line stands on its own; the webhook gets the payload whole.
    """
    outcome: dict[str, str] = {}
    changes = list(payload.get("changes", []))
    context = {key: value for key, value in payload.items() if key != "changes"}
    if targets.jsonl:
        try:
            append_jsonl(targets.jsonl, [{**context, **change} for change in changes])
            outcome["jsonl"] = f"appended {len(changes)}"
        except OSError as exc:
            outcome["jsonl"] = f"failed: {exc}"
            log.warning("alert file %s: %s", targets.jsonl, exc)
    if targets.webhook:
        try:
            attempts = post_webhook(targets.webhook, payload, policy)
            outcome["webhook"] = "delivered" if attempts == 1 else f"delivered after {attempts} attempts"
        except Exception as exc:  # noqa: BLE001 - any webhook failure is recorded, and crawling goes on
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            outcome["webhook"] = f"failed: {type(exc).__name__}: {reason}"
            log.warning("webhook %s: %s", redact_webhook(targets.webhook), outcome["webhook"])
    return outcome
