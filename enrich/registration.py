"""Domain registration by RDAP (`/domain/<name>`): registrar, creation date, registrar abuse contact.

Stored as Fingerprint rows (kinds `registrar`, `registered_on`,
`registrar_abuse`) pointing at the captured RDAP answer. Registries that have
no RDAP for a TLD, or an RDAP base that serves no domains (the sandbox's),
answer 404/400/501: that is recorded as the captured answer and the
`registration_unavailable` counter, with no fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from panelmap.storage import upsert
from panelmap.storage.models import Fingerprint

from .base import Enricher, SiteTarget
from .rdap import RdapError, vcard_values


@dataclass(frozen=True)
class Registration:
    registrar: str | None
    registered_on: str | None  # ISO date of the registration event
    registrar_abuse: list[str]


def parse_domain(data: dict[str, Any]) -> Registration:
    """RFC 9083 domain object -> the registrar (its vCard name), the registration date and
    the emails of the registrar's abuse entity (RDAP profile: nested under the registrar)."""
    registrar_entity = next((entity for entity in data.get("entities") or []
                             if isinstance(entity, dict) and "registrar" in (entity.get("roles") or [])), None)
    registrar, abuse = None, []
    if registrar_entity is not None:
        names = vcard_values(registrar_entity, "fn")
        registrar = str(names[0]).strip() if names else registrar_entity.get("handle")
        abuse = sorted({str(email).strip().lower()
                        for entity in registrar_entity.get("entities") or []
                        if isinstance(entity, dict) and "abuse" in (entity.get("roles") or [])
                        for email in vcard_values(entity, "email") if email})
    registered = next((event.get("eventDate") for event in data.get("events") or []
                       if isinstance(event, dict) and event.get("eventAction") == "registration"), None)
    return Registration(registrar, str(registered)[:10] if registered else None, abuse)


class RegistrationEnricher(Enricher):
    name = "registration"

    async def enrich(self, site: SiteTarget) -> int:
        rdap = self.context.rdap
        # Each TLD has its own registry, and its own patience.
        response = await rdap.fetch(rdap.domain_url(site.domain), f"domain:{site.domain.rsplit('.', 1)[-1]}")
        with self.session() as session:
            capture_id = self.context.capture(
                session, site, "rdap", response.url, response.content_type, response.body, at=response.fetched_at,
                http_status=response.status, server_ip=response.peer_ip, duration_ms=response.duration_ms,
            )
            if not response.found:
                self.context.stats.counters["registration_unavailable"] += 1
                return 0
            try:
                registration = parse_domain(response.json())
            except ValueError as exc:
                raise RdapError(f"{response.url}: unreadable domain object: {exc}") from exc
            values = [("registrar", registration.registrar), ("registered_on", registration.registered_on),
                      *(("registrar_abuse", email) for email in registration.registrar_abuse)]
            written = 0
            for kind, value in values:
                if value:
                    upsert(session, Fingerprint,
                           {"run_id": self.run_id, "site_id": site.site_id, "capture_id": capture_id, "kind": kind,
                            "value": value[:512], "observed_at": response.fetched_at},
                           conflict=["run_id", "site_id", "kind", "value"], update=["capture_id", "observed_at"])
                    written += 1
        return written
