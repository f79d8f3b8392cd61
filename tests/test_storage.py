"""Storage on both databases: migrations, drift, idempotent writes, exact values."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy import func, inspect, select, text

from panelmap.storage import Database, record_price, upsert_service, upsert_site
from panelmap.storage.database import SCHEMA_REVISION
from panelmap.storage.models import Base, CrawlRun, PriceObservation, Service, Site


def test_upgrade_creates_every_model_table(database_url: str) -> None:
    db = Database.open(database_url)
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() is not None
    assert set(Base.metadata.tables) <= set(db.table_names())
    db.dispose()


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    db = Database.open(database_url)
    command.upgrade(db.alembic_config(), "head")  # every migration, not the new database's shortcut
    # alembic check raises when autogenerate would produce any operation.
    command.check(db.alembic_config())
    db.dispose()


def _schema(db: Database) -> dict[str, dict[str, Any]]:
    """Each table's columns, keys, indexes and unique constraints, as the database reports them.
    Not column order or server defaults: a migration appends the columns it adds, and gives a
    new NOT NULL column a default for the rows already there."""
    inspector = inspect(db.engine)
    return {
        table: {
            "columns": {(column["name"], str(column["type"]), column["nullable"])
                        for column in inspector.get_columns(table)},
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted((key["constrained_columns"], key["referred_table"], key["referred_columns"],
                                    sorted(key["options"].items())) for key in inspector.get_foreign_keys(table)),
            "indexes": sorted((index["name"], index["column_names"], bool(index["unique"]))
                              for index in inspector.get_indexes(table)),
            "unique": sorted(constraint["column_names"] for constraint in inspector.get_unique_constraints(table)),
        }
        for table in inspector.get_table_names()
    }


def test_a_new_database_gets_the_schema_the_migrations_build(database_url: str) -> None:
    db = Database.open(database_url)
    command.upgrade(db.alembic_config(), "head")
    migrated = _schema(db)
    command.downgrade(db.alembic_config(), "base")
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    assert db.table_names() == []
    db.upgrade()  # an empty database: built at once
    assert db.current_revision() == SCHEMA_REVISION
    assert _schema(db) == migrated
    db.dispose()


def test_check_detects_drift_when_schema_lags(database_url: str) -> None:
    db = Database.open(database_url)
    db.upgrade("base")
    with pytest.raises(CommandError):
        command.check(db.alembic_config())
    db.dispose()


def _count(db: Database, model: type[Base]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_upserting_twice_leaves_one_row_each(database: Database) -> None:
    for attempt in range(2):
        with database.session() as session:
            run = session.get(CrawlRun, 1) or CrawlRun(id=1)
            session.add(run)
            session.flush()
            site_id = upsert_site(session, "https://WWW.JustAnotherPanel.com/services", kind="panel")
            service_id = upsert_service(session, site_id, "2998")
            record_price(
                session, run.id, service_id, "html",
                name="Spotify Plays [USA]", rate=Decimal("1.1025"), rate_text="$1.1025", currency="USD",
                min_quantity=1000, max_quantity=None, max_unlimited=True,
            )
    assert _count(database, Site) == 1
    assert _count(database, Service) == 1
    assert _count(database, PriceObservation) == 1
    with database.session() as session:
        assert session.scalars(select(Site.domain)).one() == "www.justanotherpanel.com"


def test_repeated_observation_in_same_run_replaces_values(database: Database) -> None:
    with database.session() as session:
        run = CrawlRun()
        session.add(run)
        session.flush()
        service_id = upsert_service(session, upsert_site(session, "panel.example"), "7")
        first = record_price(session, run.id, service_id, "api", name="a", rate=Decimal("1"), rate_text="1",
                             currency="USD")
        second = record_price(session, run.id, service_id, "api", name="b", rate=Decimal("2.5"), rate_text="2.5",
                              currency="USD")
        # A second source in the same run is a second observation.
        other = record_price(session, run.id, service_id, "html", name="b", rate=Decimal("2.5"), rate_text="$2.50",
                             currency="USD")
    assert first == second != other
    with database.session() as session:
        observation = session.get(PriceObservation, first)
        assert (observation.name, observation.rate) == ("b", Decimal("2.5"))


def test_site_keeps_first_seen_and_advances_last_seen(database: Database) -> None:
    early = datetime(2026, 1, 1, tzinfo=timezone.utc)
    late = datetime(2026, 6, 1, 12, 30, tzinfo=timezone.utc)
    with database.session() as session:
        upsert_site(session, "reseller.example", seen_at=early)
        upsert_site(session, "reseller.example", seen_at=late, software="perfect_panel")
    with database.session() as session:
        site = session.scalars(select(Site)).one()
        assert (site.first_seen, site.last_seen, site.software) == (early, late, "perfect_panel")
        assert site.first_seen.tzinfo is not None


def test_rates_round_trip_exactly(database: Database) -> None:
    rates = [Decimal("0.0135"), Decimal("1.1025"), Decimal("6.2375"), Decimal("2500"), Decimal("0.000123456789")]
    with database.session() as session:
        run = CrawlRun()
        session.add(run)
        session.flush()
        site_id = upsert_site(session, "exact.example")
        for number, rate in enumerate(rates):
            record_price(session, run.id, upsert_service(session, site_id, str(number)), "html",
                         name="x", rate=rate, rate_text=str(rate), currency="USD")
    with database.session() as session:
        stored = session.scalars(select(PriceObservation.rate).order_by(PriceObservation.id)).all()
    assert stored == rates
    assert [str(rate) for rate in stored] == ["0.0135", "1.1025", "6.2375", "2500", "0.000123456789"]


def test_record_price_rejects_unknown_fields(database: Database) -> None:
    with database.session() as session, pytest.raises(TypeError, match="colour"):
        record_price(session, 1, 1, "html", colour="red")


@pytest.mark.parametrize("domain,expected", [
    ("Example.COM", "example.com"),
    ("https://www.example.com:8443/services?x=1", "www.example.com"),
    ("example.com.", "example.com"),
])
def test_normalise_domain(domain: str, expected: str) -> None:
    from panelmap.storage import normalise_domain

    assert normalise_domain(domain) == expected


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_batch_upserts_are_idempotent_and_keep_order(database: Database) -> None:
    from panelmap.storage import record_prices, upsert_services

    keys = ["30", "7", "1200", "7"]  # a repeated key is stored once
    for rate in ("1.5", "2.25"):
        with database.session() as session:
            run = session.get(CrawlRun, 1) or CrawlRun(id=1)
            session.add(run)
            session.flush()
            site_id = upsert_site(session, "batch.example")
            ids = upsert_services(session, site_id, keys)
            assert list(ids) == ["30", "7", "1200"]
            record_prices(session, run.id, "html", [
                {"service_id": ids[key], "name": f"service {key}", "rate": Decimal(rate), "rate_text": rate,
                 "currency": "USD"}
                for key in ids
            ])
    assert _count(database, Service) == 3
    assert _count(database, PriceObservation) == 3
    with database.session() as session:
        rates = session.scalars(select(PriceObservation.rate)).all()
    assert rates == [Decimal("2.25")] * 3


def test_captures_of_different_kinds_are_stored_together_each_with_its_own_columns(database: Database) -> None:
    from panelmap.storage import capture_columns, record_captures
    from panelmap.storage.models import Capture
    from panelmap.storage.warc import WrittenRecord

    def written(record_id: str) -> WrittenRecord:
        return WrittenRecord("a.warc.gz", 0, 10, record_id, "resource", "00" * 32, 5)

    with database.session() as session:
        run = CrawlRun(config={}, stats={})
        session.add(run)
        session.flush()
        rows = [  # a screenshot row has no status; a DOM row has one
            {"kind": "screenshot", "url": "https://a.example/", "content_type": "image/png",
             **capture_columns(written("<urn:uuid:1>"))},
            {"kind": "dom", "url": "https://a.example/", "http_status": 200, "final_url": "https://a.example/x",
             **capture_columns(written("<urn:uuid:2>"))},
        ]
        ids = record_captures(session, run.id, rows)
        assert record_captures(session, run.id, rows) == ids  # again: the same rows, no new ones
    with database.session() as session:
        stored = {capture.warc_record_id: capture for capture in session.scalars(select(Capture))}
        assert set(stored) == set(ids) == {"<urn:uuid:1>", "<urn:uuid:2>"}
        assert (stored["<urn:uuid:1>"].http_status, stored["<urn:uuid:1>"].content_type) == (None, "image/png")
        assert (stored["<urn:uuid:2>"].http_status, stored["<urn:uuid:2>"].final_url) == (200, "https://a.example/x")


def test_rows_written_by_the_driver_read_back_as_the_orm_wrote_them(database: Database) -> None:
    """write_many converts values itself (for speed): each type must come back as an ORM write's would."""
    from zoneinfo import ZoneInfo

    from panelmap.storage import record_prices, upsert_services

    seen = datetime(2026, 11, 24, 7, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Kolkata"))
    fields = {"name": "Spotify Premium Plays [USA]", "category": "Spotify", "description": None,
              "rate": Decimal("0.000123456789"), "rate_text": "₹0.0001", "currency": "INR", "currency_assumed": True,
              "rate_usd": Decimal("12345678.9"), "min_quantity": 100, "max_quantity": None, "max_unlimited": True,
              "refill": False, "cancel": None, "platform": "spotify", "geo": ["US", "GB"], "premium": True,
              "guarantee_days": -1}
    with database.session() as session:
        run = CrawlRun(config={}, stats={})
        session.add(run)
        session.flush()
        ids = upsert_services(session, upsert_site(session, "types.example"), ["1", "2"])
        record_prices(session, run.id, "api", [{"service_id": ids["1"], "observed_at": seen, **fields}])
        record_price(session, run.id, ids["2"], "api", observed_at=seen, **fields)  # the ORM's way
        run_id = run.id
    with database.session() as session:
        by_driver, by_orm = (
            session.scalars(select(PriceObservation).filter_by(run_id=run_id, service_id=ids[key])).one()
            for key in ("1", "2")
        )
        for name in [*fields, "observed_at"]:
            assert getattr(by_driver, name) == getattr(by_orm, name), name
        assert by_driver.observed_at == seen and by_driver.observed_at.tzinfo is not None
        assert by_driver.rate == Decimal("0.000123456789") and by_driver.geo == ["US", "GB"]


def test_rows_left_without_a_defaulted_column_get_its_default(database: Database) -> None:
    from panelmap.storage import record_prices, upsert_services

    with database.session() as session:
        run = CrawlRun(config={}, stats={})
        session.add(run)
        session.flush()
        ids = upsert_services(session, upsert_site(session, "defaults.example"), ["1"])
        before = datetime.now(timezone.utc)
        record_prices(session, run.id, "html", [{"service_id": ids["1"], "name": "x", "rate": Decimal("1"),
                                                  "rate_text": "1", "currency": "USD"}])
        row = session.scalars(select(PriceObservation).filter_by(run_id=run.id)).one()
        assert row.geo == [] and row.currency_assumed is False and row.max_unlimited is False
        assert before <= row.observed_at <= datetime.now(timezone.utc)


def test_schema_revision_is_the_newest_migration(database: Database) -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(database.alembic_config()).get_current_head() == SCHEMA_REVISION
    assert database.current_revision() == SCHEMA_REVISION


def test_opening_a_database_at_the_newest_schema_does_not_load_alembic(tmp_path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'current.db'}"
    Database.open(url).upgrade()
    check = ("import sys; from panelmap.storage import Database; db = Database.open(sys.argv[1]); db.upgrade(); "
             "db.require_schema(); print(sorted(name for name in sys.modules if name.startswith('alembic')))")
    result = subprocess.run([sys.executable, "-c", check, url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
