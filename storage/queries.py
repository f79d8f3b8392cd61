"""Reading the database: the listings the CLI and reports show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from .models import PriceObservation, Service, Site, SiteCrawl


def list_panels(session: Session, domain: str | None = None) -> list[dict[str, Any]]:
    """One row per site: what it runs, how many services its latest crawl found, and how that crawl went."""
    latest = (
        select(SiteCrawl.site_id, func.max(SiteCrawl.id).label("site_crawl_id"))
        .group_by(SiteCrawl.site_id)
        .subquery()
    )
    services = (
        select(Service.site_id, PriceObservation.run_id, func.count(func.distinct(Service.id)).label("services"))
        .join(PriceObservation, PriceObservation.service_id == Service.id)
        .group_by(Service.site_id, PriceObservation.run_id)
        .subquery()
    )
    query = (
        select(Site, SiteCrawl, services.c.services)
        .outerjoin(latest, latest.c.site_id == Site.id)
        .outerjoin(SiteCrawl, SiteCrawl.id == latest.c.site_crawl_id)
        .outerjoin(services, and_(services.c.site_id == Site.id, services.c.run_id == SiteCrawl.run_id))
        .order_by(Site.domain)
    )
    if domain:
        query = query.where(Site.domain == domain)
    rows = []
    for site, site_crawl, service_count in session.execute(query):
        rows.append({
            "site": site.domain,
            "kind": site.kind,
            "software": site.software,
            "services": service_count or 0,
            "last_crawled": site_crawl.finished_at or site_crawl.started_at if site_crawl else None,
            "status": site_crawl.status if site_crawl else "never crawled",
            "reason": site_crawl.reason if site_crawl else None,
        })
    return rows
