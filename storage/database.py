"""Opening a database: URL checks, engine settings per dialect, migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .models import Base

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite:///panelmap.db"
ENV_VAR = "PANELMAP_DATABASE_URL"
SUPPORTED_DIALECTS = ("sqlite", "postgresql")
# The newest migration under migrations/versions (a test checks the two agree).
SCHEMA_REVISION = "0004"
# Where Alembic records a database's revision, defined as Alembic defines it, so that a new
# database can be stamped without loading Alembic.
_ALEMBIC_VERSION = Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False),
                         PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


class DatabaseError(Exception):
    """A database that cannot be used: bad URL, unreachable, or not migrated. One line for humans."""


def resolve_url(url: str | None) -> str:
    """The URL to use: the one given, else $PANELMAP_DATABASE_URL, else the SQLite default."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def redact_url(url: str) -> str:
    """The URL with any password hidden, fit for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the CLI, a report) work while a crawl writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL loses no committed data when a process is killed, only
    # possibly the last commits on power loss; it spares an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_database_engine(url: str) -> Engine:
    """An Engine for a panelmap database, or DatabaseError with a one-line reason."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"invalid database URL {url!r}: expected e.g. {DEFAULT_URL} or postgresql+psycopg://host/db") from None
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise DatabaseError(
            f"unsupported database {parsed.get_backend_name()!r} in {redact_url(url)}: use sqlite or postgresql+psycopg"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 10
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError, TypeError) as exc:
        raise DatabaseError(f"invalid database URL {redact_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


class Database:
    """A panelmap database: an engine, its sessions and its migrations.

    >>> db = Database.open("sqlite:///panelmap.db")
    >>> db.upgrade()
    >>> with db.session() as session:
    ...     ...
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | None = None) -> Database:
        """Open (without connecting yet) the database at `url`, resolved as in `resolve_url`."""
        return cls(create_database_engine(resolve_url(url)))

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def check_connection(self) -> None:
        """Connect once, turning any failure into a one-line DatabaseError."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseError(f"cannot connect to {self.url}: {_first_line(exc)}") from None

    # Alembic is loaded only to migrate: opening a database that is already at
    # SCHEMA_REVISION (every crawl, every command) costs one query instead of Alembic's
    # import and its scripts, 0.2 s of a crawl's start-up.
    def alembic_config(self) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(files("panelmap.storage") / "migrations"))
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to `revision` (the newest by default). An empty database gets
        the newest schema at once."""
        self.check_connection()
        if revision == "head":
            current = self.current_revision()
            if current == SCHEMA_REVISION:
                return
            if current is None and not self.table_names():
                self._create_newest_schema()
                return
        from alembic import command

        command.upgrade(self.alembic_config(), revision)

    def _create_newest_schema(self) -> None:
        # Built from the models and stamped, as Alembic's cookbook does for a new database:
        # 0.02 s where running every migration took 0.15 s of a first crawl's start-up.
        # A test checks that both ways give the same schema.
        with self.engine.begin() as connection:
            Base.metadata.create_all(connection)
            _ALEMBIC_VERSION.create(connection)
            connection.execute(_ALEMBIC_VERSION.insert().values(version_num=SCHEMA_REVISION))

    def current_revision(self) -> str | None:
        """The schema's revision as Alembic recorded it; None for a database without one."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def require_schema(self) -> None:
        """Fail with a clear message when the schema is missing or older than this code."""
        self.check_connection()
        current = self.current_revision()
        if current != SCHEMA_REVISION:
            state = "has no panelmap schema" if current is None else f"is at revision {current}, not {SCHEMA_REVISION}"
            raise DatabaseError(f"database {self.url} {state}: run `panelmap db upgrade`")

    def table_names(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
