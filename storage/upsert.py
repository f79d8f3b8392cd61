"""Dialect-aware INSERT ... ON CONFLICT, so that re-running work never duplicates rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Base


def _insert_for(session: Session, model: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"upsert is not implemented for {dialect}")


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
    insert = _insert_for(session, model)
    statement = insert.values(**values)
    update_columns = {name: statement.excluded[name] for name in update}
    if update_columns:
        statement = statement.on_conflict_do_update(index_elements=list(conflict), set_=update_columns)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    row_id = session.execute(statement.returning(model.id)).scalar()  # type: ignore[attr-defined]
    if row_id is None:  # DO NOTHING returns no row on conflict: look the row up
        key = {name: values[name] for name in conflict}
        row_id = session.execute(select(model.id).filter_by(**key)).scalar_one()  # type: ignore[attr-defined]
    return int(row_id)
