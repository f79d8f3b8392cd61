"""Prices over time: one service's history and the median price index, with its chart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from test_changes import T0, Observations

from panelmap.price_index import PriceQueryError, price_history, price_index, write_chart
from panelmap.storage import Database


@pytest.fixture
def market(tmp_path: Path) -> Database:
    """Three days of a small market: Spotify plays on three panels, Instagram followers on one."""
    database = Database.open(f"sqlite:///{tmp_path / 'panelmap.db'}")
    database.upgrade()
    observed = Observations(database)
    for day, (a, b, c) in enumerate((("1.00", "2.00", "9.00"), ("1.20", "2.00", "9.00"), ("1.20", "2.40", "3.00"))):
        run = observed.run(at=T0 + timedelta(days=day))
        observed.prices(run, "a.example", {"10": a, "11": ("90.00", "INR", "1.08", 100, 5000)})
        observed.prices(run, "a.example", {"10": a}, source="html")  # the same listing, seen twice: counted once
        observed.prices(run, "b.example", {"20": b})
        observed.prices(run, "c.example", {"30": c})
        observed.prices(run, "c.example", {"31": "0.50"}, platform="instagram", metric="followers")
    return database


def test_a_service_price_history_run_by_run(market: Database) -> None:
    with market.session() as session:
        rows = price_history(session, "a.example", "10")
        inr = price_history(session, "a.example", "11")
        with pytest.raises(PriceQueryError, match="no service '99'"):
            price_history(session, "a.example", "99")
        with pytest.raises(PriceQueryError, match="no site"):
            price_history(session, "nowhere.example", "10")
    assert [(row["rate"], row["change_percent"], row["source"]) for row in rows] == [
        (Decimal(1), None, "api"), (Decimal("1.2"), "20.00", "api"), (Decimal("1.2"), "0.00", "api")]
    assert [row["observed_at"] for row in rows] == [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    assert (inr[0]["currency"], inr[0]["rate_usd"], inr[0]["min"], inr[0]["max"]) == ("INR", Decimal("1.08"), 100, 5000)


def test_the_median_index_by_day_and_by_platform(market: Database) -> None:
    with market.session() as session:
        daily = price_index(session, platform="spotify", metric="plays")
        everything = price_index(session, period="month")
        recent = price_index(session, platform="spotify", since=T0 + timedelta(days=2))
    # Day 1: 1.00, 1.08, 2.00, 9.00 -> 1.54; day 2: 1.08, 1.20, 2.00, 9.00 -> 1.60; day 3: 1.08, 1.20, 2.40, 3.00
    # -> 1.80. The page's duplicate of service 10 is not counted.
    assert [(row["period"], row["median_usd"], row["services"], row["sites"]) for row in daily] == [
        ("2024-06-15", Decimal("1.5400"), 4, 3), ("2024-06-16", Decimal("1.6000"), 4, 3),
        ("2024-06-17", Decimal("1.8000"), 4, 3)]
    assert [(row["platform"], row["metric"], row["services"]) for row in everything] == [
        ("instagram", "followers", 1), ("spotify", "plays", 4)]  # each service once a month: its latest price
    assert everything[1]["median_usd"] == Decimal("1.8000")
    assert [row["period"] for row in recent] == ["2024-06-17"]


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_the_index_chart(market: Database, tmp_path: Path, suffix: str) -> None:
    with market.session() as session:
        rows = price_index(session)
    path = write_chart(rows, tmp_path / f"index.{suffix}")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in data and b"spotify plays" in data
    with pytest.raises(ValueError, match="svg or .png"):
        write_chart(rows, tmp_path / "index.pdf")
