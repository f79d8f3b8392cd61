"""Dialect-aware INSERT ... ON CONFLICT, so that re-running work never duplicates rows."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from .models import Base


@functools.lru_cache(maxsize=128)
def _upsert_statement(dialect: str, table: Table, conflict: tuple[str, ...], update: tuple[str, ...],
                      returning: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT for `table`, built once per shape: the crawler upserts
    thousands of times, and building the statement cost more than running it."""
    # Each dialect's module is imported when first used: PostgreSQL's costs a SQLite crawl
    # 25 ms of start-up.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise NotImplementedError(f"upsert is not implemented for {dialect}")
    insert = dialect_insert(table)
    update_columns = {name: insert.excluded[name] for name in update}
    if update_columns:
        statement = insert.on_conflict_do_update(index_elements=list(conflict), set_=update_columns)
    else:
        statement = insert.on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def upsert(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    *,
    conflict: Sequence[str],
    update: Iterable[str] = (),
) -> int:
    """Insert `values` or, when a row with the same `conflict` columns exists, update the
    `update` columns of that row. Returns the row's id either way.

    With no `update` columns the existing row is left as it is (insert-or-ignore).
    """
    connection = session.connection()  # Core, as in upsert_many: the ORM adds nothing to one INSERT
    statement = _upsert_statement(connection.dialect.name, model.__table__, tuple(conflict), tuple(update), ("id",))
    row_id = connection.execute(statement, dict(values)).scalar()
    if row_id is None:  # DO NOTHING returns no row on conflict: look the row up
        key = {name: values[name] for name in conflict}
        row_id = session.execute(select(model.id).filter_by(**key)).scalar_one()  # type: ignore[attr-defined]
    return int(row_id)


@dataclass(frozen=True)
class _DriverUpsert:
    """An upsert compiled once for a dialect, with the conversion SQLAlchemy would apply to each value."""

    sql: str
    columns: tuple[str, ...]  # in the statement's parameter order
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool  # SQLite takes a tuple per row, psycopg a dict
    defaults: tuple[tuple[str, Any], ...]  # Python-side defaults of the columns the rows leave out

    def converted_defaults(self) -> dict[str, Any]:
        """The default columns' values for one call, computed and converted once for all its rows."""
        values = {name: default.arg(None) if default.is_callable else default.arg for name, default in self.defaults}
        return {name: process(values[name]) if process else values[name]
                for name, process in zip(self.columns, self.processors) if name in values}

    def parameters(self, row: Mapping[str, Any], defaults: Mapping[str, Any]) -> Any:
        converted = [defaults[name] if name in defaults else process(row[name]) if process else row[name]
                     for name, process in zip(self.columns, self.processors)]
        return tuple(converted) if self.positional else dict(zip(self.columns, converted))


@functools.lru_cache(maxsize=128)
def _driver_upsert(dialect: Dialect, table: Table, given: tuple[str, ...], conflict: tuple[str, ...],
                   update: tuple[str, ...]) -> _DriverUpsert:
    defaults = tuple((column.name, column.default) for column in table.columns
                     if column.name not in given and column.default is not None)
    columns = (*given, *(name for name, _ in defaults))
    statement = _upsert_statement(dialect.name, table, conflict, update, ())
    compiled = statement.values({name: bindparam(name) for name in columns}).compile(dialect=dialect)
    if compiled.positiontup:
        columns = tuple(compiled.positiontup)
    processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns)
    return _DriverUpsert(str(compiled), columns, processors, bool(compiled.positiontup), defaults)


def write_many(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """`upsert` for many rows of the same columns, as one statement the driver runs for
    every row (executemany), returning nothing.

    SQLAlchemy's own way to send many rows (one INSERT with a VALUES list per batch,
    each value converted and bound by name) is what `upsert_many` needs for RETURNING,
    but costs more per row, on PostgreSQL five times more: psycopg parses every such
    statement anew (`bench/storage_writes.py` prints both). Here the statement is
    compiled once, each value gets the same conversion from its column's type, and the
    driver gets plain parameters. Column defaults are computed and converted once per
    call.
    """
    if not rows:
        return
    connection: Connection = session.connection()
    table: Table = model.__table__  # type: ignore[attr-defined]
    statement = _driver_upsert(connection.dialect, table, tuple(rows[0]), tuple(conflict), tuple(update))
    defaults = statement.converted_defaults()
    connection.exec_driver_sql(statement.sql, [statement.parameters(row, defaults) for row in rows])


def upsert_many(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> dict[tuple[Any, ...], int]:
    """`upsert` for many rows of the same columns in one statement: {conflict values: id}.

    Ids come back keyed by the conflict columns rather than in row order, because asking
    the database to keep row order makes SQLAlchemy insert one row at a time on SQLite.
    Needs at least one `update` column (an update, unlike DO NOTHING, returns every row).
    Rows whose ids nobody needs go faster through `write_many`.
    """
    if not rows:
        return {}
    if not update:
        raise ValueError("upsert_many needs update columns so that every row returns its id")
    # Core on the table, not the ORM's bulk path: the ORM inspects every row as an object.
    connection = session.connection()
    statement = _upsert_statement(connection.dialect.name, model.__table__, tuple(conflict), tuple(update),
                                  ("id", *conflict))
    result = connection.execute(statement, [dict(row) for row in rows])
    return {tuple(row[1:]): int(row[0]) for row in result}
