"""Dialect-aware INSERT ... ON CONFLICT, so that re-running work never duplicates rows."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Base


@functools.lru_cache(maxsize=128)
def _upsert_statement(dialect: str, table: Table, conflict: tuple[str, ...], update: tuple[str, ...],
                      returning: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT for `table`, built once per shape: the crawler upserts
    thousands of times, and building the statement cost more than running it."""
    if dialect == "postgresql":
        insert = postgresql.insert(table)
    elif dialect == "sqlite":
        insert = sqlite.insert(table)
    else:
        raise NotImplementedError(f"upsert is not implemented for {dialect}")
    update_columns = {name: insert.excluded[name] for name in update}
    if update_columns:
        statement = insert.on_conflict_do_update(index_elements=list(conflict), set_=update_columns)
    else:
        statement = insert.on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*(table.c[name] for name in returning))


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
