"""The secrets file: per-site API keys and session cookies, kept out of logs, captures and the database.

TOML (or JSON with the same shape), one table per site domain:

    ["panel.example"]
    api_key = "0123456789abcdef"
    cookie = "PHPSESSID=...; _csrf=..."
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

from panelmap.storage import SecretRedactor, normalise_domain

KNOWN_KEYS = {"api_key", "cookie"}


class SecretsError(Exception):
    """A secrets file that cannot be used; the message never contains a secret."""


@dataclass(frozen=True)
class SiteSecrets:
    api_key: str | None = None
    cookie: str | None = None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"SiteSecrets(api_key={'set' if self.api_key else None}, cookie={'set' if self.cookie else None})"

    def cookies(self) -> dict[str, str]:
        """The session cookie string as name -> value pairs."""
        if not self.cookie:
            return {}
        jar = SimpleCookie()
        jar.load(self.cookie)
        return {name: morsel.value for name, morsel in jar.items()}


class Secrets:
    """Secrets by site domain (`www.` and the bare domain share them)."""

    def __init__(self, sites: dict[str, SiteSecrets] | None = None):
        self._sites = {self._key(domain): secrets for domain, secrets in (sites or {}).items()}

    @staticmethod
    def _key(domain: str) -> str:
        domain = normalise_domain(domain)
        return domain[4:] if domain.startswith("www.") else domain

    @classmethod
    def load(cls, path: str | Path) -> Secrets:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SecretsError(f"cannot read secrets file {path}: {exc.strerror}") from None
        try:
            data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
        except (ValueError, UnicodeDecodeError):
            # The parser's message may quote the line, and the line may be a key.
            raise SecretsError(f"secrets file {path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: object, *, source: str = "secrets") -> Secrets:
        if not isinstance(data, dict):
            raise SecretsError(f"{source}: expected a table per site domain")
        sites = {}
        for domain, values in data.items():
            if not isinstance(values, dict) or not set(values) <= KNOWN_KEYS:
                raise SecretsError(f"{source}: site {domain!r} may only have {sorted(KNOWN_KEYS)}")
            sites[domain] = SiteSecrets(api_key=values.get("api_key"), cookie=values.get("cookie"))
        return cls(sites)

    def for_site(self, domain: str) -> SiteSecrets:
        return self._sites.get(self._key(domain), SiteSecrets())

    def values(self) -> list[str]:
        """Every secret value, including each cookie's parts, for redaction."""
        found: list[str] = []
        for secrets in self._sites.values():
            if secrets.api_key:
                found.append(secrets.api_key)
            if secrets.cookie:
                found.append(secrets.cookie)
                found.extend(secrets.cookies().values())
        return found

    def redactor(self) -> SecretRedactor:
        return SecretRedactor(self.values())

    def __len__(self) -> int:
        return len(self._sites)
