"""Prices over time: one service's price history, and a market index of median prices.

    price_history(session, "justanotherpanel.com", "1401")   # every run's price of one service
    price_index(session, platform="spotify", metric="plays", period="week")
    write_chart(rows, Path("spotify-plays.svg"))

The index is the median USD rate per 1000 over every service of a platform and
metric (Spotify plays, Instagram followers...) in each period: a median, so one
panel's absurd price does not move it. Each service counts once per period: its
latest observation then, the API's preferred over the page's.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap.storage.models import PriceObservation, Service, Site

PERIODS = ("day", "week", "month")
CHART_SERIES = 10  # lines on one chart before it stops being readable
_CENT_FRACTION = Decimal("0.0001")


class PriceQueryError(LookupError):
    """An unknown site or service: one line for the user."""


def _period(moment: datetime, period: str) -> str:
    if period == "day":
        return moment.date().isoformat()
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{moment.year}-{moment.month:02d}"


def price_history(session: Session, domain: str, service_key: str) -> list[dict[str, Any]]:
    """One row per run that listed the service, oldest first, with the move since the row before."""
    site_id = session.scalar(select(Site.id).where(Site.domain == domain))
    if site_id is None:
        raise PriceQueryError(f"no site {domain!r} in the database")
    service_id = session.scalar(select(Service.id).where(Service.site_id == site_id, Service.service_key == service_key))
    if service_id is None:
        raise PriceQueryError(f"site {domain} has no service {service_key!r}")
    by_run: dict[int, PriceObservation] = {}
    for observation in session.scalars(select(PriceObservation).where(PriceObservation.service_id == service_id)):
        if observation.run_id not in by_run or observation.source == "api":
            by_run[observation.run_id] = observation
    rows: list[dict[str, Any]] = []
    previous: PriceObservation | None = None
    for run_id, observation in sorted(by_run.items()):
        change = None
        if previous is not None and previous.currency == observation.currency and previous.rate:
            change = format(((observation.rate - previous.rate) / previous.rate * 100).quantize(Decimal("0.01")), "f")
        rows.append({
            "run_id": run_id, "observed_at": observation.observed_at, "source": observation.source,
            "name": observation.name, "rate": observation.rate, "rate_text": observation.rate_text,
            "currency": observation.currency, "rate_usd": observation.rate_usd, "min": observation.min_quantity,
            "max": None if observation.max_unlimited else observation.max_quantity, "change_percent": change,
        })
        previous = observation
    return rows


def price_index(session: Session, *, platform: str | None = None, metric: str | None = None, period: str = "day",
                since: datetime | None = None) -> list[dict[str, Any]]:
    """Median USD rate per 1000 by period, platform and metric, with how many services and sites it covers."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    query = (
        select(PriceObservation.service_id, PriceObservation.run_id, PriceObservation.source,
               PriceObservation.observed_at, PriceObservation.platform, PriceObservation.metric,
               PriceObservation.rate_usd, Service.site_id)
        .join(Service, Service.id == PriceObservation.service_id)
        .where(PriceObservation.rate_usd.is_not(None), PriceObservation.platform.is_not(None),
               PriceObservation.metric.is_not(None))
    )
    if platform:
        query = query.where(PriceObservation.platform == platform)
    if metric:
        query = query.where(PriceObservation.metric == metric)
    if since is not None:
        query = query.where(PriceObservation.observed_at >= since)
    # Each service once per period: its latest run, the API's observation over the page's.
    latest: dict[tuple[str, int], Any] = {}
    for row in session.execute(query):
        key = (_period(row.observed_at, period), row.service_id)
        held = latest.get(key)
        if held is None or (row.run_id, row.source == "api") > (held.run_id, held.source == "api"):
            latest[key] = row
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for (bucket, _), row in latest.items():
        groups[(bucket, row.platform, row.metric)].append(row)
    return [
        {"period": bucket, "platform": group_platform, "metric": group_metric,
         "median_usd": statistics.median(row.rate_usd for row in rows).quantize(_CENT_FRACTION),
         "services": len(rows), "sites": len({row.site_id for row in rows})}
        for (bucket, group_platform, group_metric), rows in sorted(groups.items())
    ]


def write_chart(rows: list[dict[str, Any]], path: Path, *, title: str = "Median price per 1000 (USD)") -> Path:
    """A line per platform and metric (the `CHART_SERIES` most observed) over the periods;
    SVG or PNG by the file's suffix. A plain matplotlib Figure (no pyplot): PNG goes through
    the Agg renderer, nothing needs a display. Imported here: only charts pay for matplotlib."""
    from matplotlib.figure import Figure

    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("svg", "png"):
        raise ValueError(f"chart file {path.name!r}: use a .svg or .png name")
    series: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    weight: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        series[(row["platform"], row["metric"])][row["period"]] = float(row["median_usd"])
        weight[(row["platform"], row["metric"])] += row["services"]
    shown = sorted(series, key=lambda name: -weight[name])[:CHART_SERIES]
    periods = sorted({row["period"] for row in rows})
    figure = Figure(figsize=(10, 5.5), layout="constrained")
    axes = figure.subplots()
    for platform, metric in sorted(shown):
        points = series[(platform, metric)]
        xs = [index for index, bucket in enumerate(periods) if bucket in points]
        axes.plot(xs, [points[periods[x]] for x in xs], marker="o", label=f"{platform} {metric}")
    axes.set_xticks(range(len(periods)), periods, rotation=45, ha="right")
    axes.set_ylabel("USD per 1000")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if shown:
        axes.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format=suffix)
    return path
