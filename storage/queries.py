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


def list_run_sites(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The sites one crawl run visited, with how each went."""
    query = (
        select(Site, SiteCrawl)
        .join(SiteCrawl, SiteCrawl.site_id == Site.id)
        .where(SiteCrawl.run_id == run_id)
        .order_by(Site.domain)
    )
    return [
        {"site": site.domain, "software": site.software, "services": site_crawl.services,
         "status": site_crawl.status, "reason": site_crawl.reason, "pages": site_crawl.pages}
        for site, site_crawl in session.execute(query)
    ]


def list_services(session: Session, *, domain: str | None = None, platform: str | None = None,
                  metric: str | None = None) -> list[dict[str, Any]]:
    """Each site's latest catalogue: one row per service from the site's most recent run that
    listed it, the API's observation preferred over the page's (the API is authoritative for
    ids and rates)."""
    latest_run = (
        select(Service.site_id, func.max(PriceObservation.run_id).label("run_id"))
        .join(PriceObservation, PriceObservation.service_id == Service.id)
        .group_by(Service.site_id)
        .subquery()
    )
    query = (
        select(Site.domain, Service.service_key, PriceObservation)
        .join(Service, Service.site_id == Site.id)
        .join(PriceObservation, PriceObservation.service_id == Service.id)
        .join(latest_run, and_(latest_run.c.site_id == Site.id, latest_run.c.run_id == PriceObservation.run_id))
        .order_by(Site.domain, Service.id, PriceObservation.source)
    )
    if domain:
        query = query.where(Site.domain == domain)
    if platform:
        query = query.where(PriceObservation.platform == platform)
    if metric:
        query = query.where(PriceObservation.metric == metric)
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for site, service_key, observation in session.execute(query):
        key = (site, service_key)
        if key in chosen and observation.source != "api":
            continue
        chosen[key] = {
            "site": site, "service_id": service_key, "name": observation.name, "category": observation.category,
            "rate": observation.rate, "rate_text": observation.rate_text, "currency": observation.currency,
            "rate_usd": observation.rate_usd, "min": observation.min_quantity,
            "max": None if observation.max_unlimited else observation.max_quantity,
            "max_unlimited": observation.max_unlimited, "platform": observation.platform,
            "metric": observation.metric, "geo": observation.geo, "source": observation.source,
            "observed_at": observation.observed_at,
        }
    return list(chosen.values())


def known_domains(session: Session) -> list[str]:
    """Every site the database knows, by domain."""
    return list(session.scalars(select(Site.domain).order_by(Site.domain)))
