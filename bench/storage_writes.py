"""Price rows stored per second: `write_many` (the driver's executemany) against SQLAlchemy's
own many-row INSERT (`upsert_many`, which the crawl used before), on SQLite and PostgreSQL.

A 200-site crawl of the sandbox stores about 38,000 price observations; this
stores that many (200 pages of 190 services) both ways, each into a fresh
database, alternating, and prints CPU seconds for each and their ratio. The
services are upserted once beforehand and not timed.

    .venv/bin/python bench/storage_writes.py [--pages 200] [--rows 190] [--rounds 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text

from panelmap.storage import Database, upsert_many, upsert_services, upsert_site, write_many
from panelmap.storage.models import CrawlRun, PriceObservation

DEFAULT_POSTGRES = "postgresql+psycopg://127.0.0.1:5432/test"
CONFLICT = ["run_id", "service_id", "source"]


def observation(service_id: int, number: int, observed_at: datetime) -> dict[str, object]:
    return {"run_id": 1, "service_id": service_id, "source": "html", "capture_id": None, "observed_at": observed_at,
            "name": f"Spotify Premium Plays [USA] {number}", "category": "Spotify", "description": "Real plays",
            "rate": Decimal("0.0135"), "rate_text": "$0.0135", "currency": "USD", "currency_assumed": False,
            "rate_usd": Decimal("0.0135"), "min_quantity": 100, "max_quantity": None, "max_unlimited": True,
            "average_time": "2 hours", "refill": True, "cancel": False, "dripfeed": None, "platform": "spotify",
            "metric": "plays", "geo": ["US"], "device": None, "premium": True, "guarantee_days": 30}


def prepare(url: str, pages: int, rows: int) -> tuple[Database, list[list[dict[str, object]]]]:
    database = Database.open(url)
    database.upgrade()
    now = datetime.now(timezone.utc)
    batches = []
    with database.session() as session:
        session.add(CrawlRun(id=1, config={}, stats={}))
        session.flush()
        for page in range(pages):
            ids = upsert_services(session, upsert_site(session, f"site{page}.example"), [str(n) for n in range(rows)])
            batches.append([observation(ids[str(n)], n, now) for n in range(rows)])
    return database, batches


def timed(database: Database, batches: list[list[dict[str, object]]], write: Callable[..., object]) -> float:
    started = time.process_time()
    for batch in batches:  # one transaction per page, as the crawl's storage process commits
        with database.session() as session:
            write(session, PriceObservation, batch, conflict=CONFLICT, update=sorted(set(batch[0]) - set(CONFLICT)))
    return time.process_time() - started


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """`url` with a fresh schema of its own as search path, dropped afterwards."""
    schema = f"panelmap_bench_{uuid.uuid4().hex[:12]}"
    server = Database.open(url)
    with server.engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with server.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rows", type=int, default=190)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a server database; the bench works in a schema of its own")
    args = parser.parse_args()
    ways = {"write_many": write_many, "upsert_many": upsert_many}
    with tempfile.TemporaryDirectory() as scratch:
        for dialect in ("sqlite", "postgresql"):
            best = dict.fromkeys(ways, float("inf"))
            for round_number in range(args.rounds):
                for name, write in ways.items():
                    with ExitStack() as cleanup:
                        url = (f"sqlite:///{Path(scratch) / f'{name}-{round_number}.db'}" if dialect == "sqlite"
                               else cleanup.enter_context(postgres_schema(args.postgres)))
                        database, batches = prepare(url, args.pages, args.rows)
                        best[name] = min(best[name], timed(database, batches, write))
                        database.dispose()
            count = args.pages * args.rows
            fast, general = best["write_many"], best["upsert_many"]
            print(f"{dialect}: {count} price rows, best of {args.rounds}: write_many {fast:.2f} s CPU "
                  f"({fast / count * 1e6:.1f} µs a row), upsert_many {general:.2f} s "
                  f"({general / count * 1e6:.1f} µs a row), ratio {fast / general:.2f}")


if __name__ == "__main__":
    main()
