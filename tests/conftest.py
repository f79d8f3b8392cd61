"""Fixtures shared by every test: databases (SQLite and PostgreSQL) and the sandbox world."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

from panelmap.storage import Database

POSTGRES_URL = os.environ.get("PANELMAP_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    """Whether the test PostgreSQL answers. Under CI it must: a silent skip would hide that
    half of the storage tests never ran."""
    try:
        with psycopg.connect(_libpq_url(POSTGRES_URL), connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)
    return True


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of its own, dropped afterwards, so runs
    and tests never see each other's rows."""
    schema = f"panelmap_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(POSTGRES_URL), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(_libpq_url(POSTGRES_URL), autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database of each supported kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'panelmap.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated, empty database of each supported kind."""
    db = Database.open(database_url)
    db.upgrade()
    yield db
    db.dispose()


# --- the sandbox world -----------------------------------------------------------


@pytest.fixture(scope="session")
def world():
    """The default sandbox world (seed 1): what the demo crawls."""
    from panelmap.sandbox.generate import generate_world

    return generate_world(seed=1)


@pytest.fixture(scope="session")
def sandbox(world, tmp_path_factory):
    """The default world served on loopback for the whole test session."""
    from panelmap.sandbox.server import Sandbox

    with Sandbox(world, tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture(scope="session")
def ground_truth(sandbox) -> dict:
    import json

    return json.loads(sandbox.ground_truth_path.read_text())


@pytest.fixture(scope="session")
def secrets_file(world, tmp_path_factory):
    """The investigator's secrets file for the sandbox: API keys and session cookies per site."""
    from panelmap.sandbox.secrets import write_secrets_file

    return write_secrets_file(world, tmp_path_factory.mktemp("secrets") / "secrets.toml")


@pytest.fixture(scope="session")
def sandbox_crawl(sandbox, ground_truth, secrets_file, tmp_path_factory):
    """One crawl of every seed and every hostile corner of the default world, with the
    investigator's secrets: {"db": URL, "path": workdir, "result": process, "seconds": duration}."""
    import time

    from crawling import run_crawl

    workdir = tmp_path_factory.mktemp("crawl")
    database_url = f"sqlite:///{workdir / 'panelmap.db'}"
    seeds = ground_truth["seeds"] + sorted(ground_truth["hostile"])
    started = time.monotonic()
    result = run_crawl(database_url, workdir / "captures", sandbox, seeds, "--secrets", str(secrets_file),
                       "--render", "auto")
    return {"db": database_url, "path": workdir, "result": result, "seconds": time.monotonic() - started}
