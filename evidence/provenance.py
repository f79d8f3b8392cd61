"""Provenance: who collected what, with which software and settings, from where, by which clock.

Harvard LIL's Scoop and the Berkeley Protocol both ask for this beside the
captures, so that a third party can repeat the collection and judge it. Crawl
configurations come from CrawlRun rows, which never hold secrets; they are
scrubbed here all the same, by key name and by the configured secret values.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap import __version__
from panelmap.browser import find_chromium
from panelmap.storage import SecretRedactor
from panelmap.storage.models import CrawlRun
from panelmap.version import git_commit

REDACTED = "[REDACTED]"
SECRET_KEY = re.compile(r"key|secret|token|passw|cookie|auth|session|credential", re.IGNORECASE)
PACKAGES = ("scrapy", "scrapy-playwright", "playwright", "warcio", "wacz", "cdxj-indexer", "rfc3161-client",
            "cryptography", "asn1crypto", "sqlalchemy", "jinja2")
CLOCK_COMMANDS = (["timedatectl", "show", "--property=NTP,NTPSynchronized,Timezone"], ["chronyc", "-n", "tracking"])


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


@cache
def chromium_version() -> str:
    """What the Chromium that renders (and rendered) pages says it is."""
    chromium = find_chromium()
    if chromium is None:
        return "no system Chromium found (Playwright's own browser, if installed)"
    found = _run([chromium, "--version"])
    return f"{found} ({chromium})" if found else f"unknown ({chromium} did not say)"


def clock_source() -> str:
    """How the exporting host keeps time: NTP status if the host can tell, else an honest unknown."""
    for command in CLOCK_COMMANDS:
        found = _run(command)
        if found:
            return f"{' '.join(command)}: " + "; ".join(line.strip() for line in found.splitlines() if line.strip())
    return "system clock, source unknown (neither timedatectl nor chronyc could report it)"


def software() -> dict[str, Any]:
    os_name = platform.platform()
    try:
        os_name = f"{platform.freedesktop_os_release()['PRETTY_NAME']} ({os_name})"
    except (OSError, KeyError):
        pass
    return {
        "panelmap": __version__,
        "git_commit": git_commit() or "not run from a git checkout",
        "python": sys.version.replace("\n", " "),
        "os": os_name,
        "chromium": chromium_version(),
        "packages": {name: _package_version(name) or "not installed" for name in PACKAGES},
    }


def scrub(value: Any, redactor: SecretRedactor) -> Any:
    """`value` with secret-looking keys' values, URL passwords and known secret values removed."""
    if isinstance(value, dict):
        return {key: (REDACTED if SECRET_KEY.search(str(key)) and not isinstance(item, (bool, type(None)))
                      else scrub(item, redactor)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, redactor) for item in value]
    if isinstance(value, str):
        return redactor.redact_text(_without_password(value))
    return value


def _without_password(text: str) -> str:
    if "://" not in text or "@" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if parts.password is None:
        return text
    netloc = f"{parts.username}:{REDACTED}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def crawl_runs(session: Session, run_ids: Iterable[int], redactor: SecretRedactor) -> list[dict[str, Any]]:
    """Each run the captures came from: when, configuration, vantage point, software it recorded."""
    runs = session.scalars(select(CrawlRun).where(CrawlRun.id.in_(sorted(set(run_ids)))).order_by(CrawlRun.id))
    return [scrub({
        "run": run.id,
        "job": run.job_name,
        "started_at": _utc(run.started_at),
        "finished_at": _utc(run.finished_at),
        "status": run.status,
        "panelmap_version": run.software_version,
        "config": run.config,
        "config_hash": run.config_hash,
        "vantage": {"proxy": run.proxy or "none (direct)", "resolver": run.resolver or "system resolver"},
        "rate_table": run.rate_table,
        "host": run.stats.get("host"),
    }, redactor) for run in runs]


def _utc(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def build_provenance(*, case_id: str, operator: str, sites: list[str], since: datetime | None, created: datetime,
                     runs: list[dict[str, Any]], redactor: SecretRedactor) -> dict[str, Any]:
    return scrub({
        "case_id": case_id,
        "operator": operator,
        "sites": sites,
        "since": _utc(since),
        "created": _utc(created),
        "software": software(),
        "clock": {
            "exporting_host": clock_source(),
            "note": "Capture times are UTC from the crawling host's clock when each record was written "
                    "(WARC-Date); the clock source above is the exporting host's, read at export time.",
        },
        "crawl_runs": runs,
    }, redactor)
