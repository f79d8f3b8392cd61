"""Alembic environment: migrations run on the engine that panelmap.storage opened."""

from alembic import context

from panelmap.storage.database import Database
from panelmap.storage.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: same URL rules as the panelmap CLI
    engine = Database.open().engine

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
