"""The `panelmap` command: a thin shell over the stages' Python APIs.

Errors a user can fix (a bad URL, an unreachable database, a missing file)
end in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import click
from rich.logging import RichHandler

from panelmap.config import ConfigError, load_config
from panelmap.output import emit, format_option
from panelmap.storage import Database, DatabaseError, list_panels
from panelmap.version import version_string

USAGE_ERROR_EXIT = 2


class UserError(click.ClickException):
    """A problem the user can fix: printed as one line, exit code 2."""

    exit_code = USAGE_ERROR_EXIT

    def format_message(self) -> str:
        return self.message.splitlines()[0] if self.message else "unknown error"


class PanelmapGroup(click.Group):
    """Turns the stages' own error types into UserError, once, for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DatabaseError, ConfigError) as exc:
            raise UserError(str(exc)) from None


@dataclass
class AppContext:
    db_url: str | None
    verbosity: int

    def open_database(self, *, migrate: bool = False) -> Database:
        """The database named by --db / $PANELMAP_DATABASE_URL / the default, checked for use.

        With `migrate`, an empty or older schema is upgraded first (commands that write do
        this); otherwise a missing schema is a one-line error.
        """
        database = Database.open(self.db_url)
        if migrate:
            database.upgrade()
        else:
            database.require_schema()
        return database


def _load_config_file(ctx: click.Context, _param: click.Parameter, path: str | None) -> str | None:
    if path:
        try:
            ctx.default_map = load_config(path)
        except ConfigError as exc:
            raise UserError(str(exc)) from None
    return path


def _configure_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)


@click.group(cls=PanelmapGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(message="%(version)s", version=version_string(), package_name="panelmap")
@click.option(
    "--config", type=click.Path(dir_okay=False), envvar="PANELMAP_CONFIG", is_eager=True, expose_value=False,
    callback=_load_config_file, help="TOML file with default values for any option ($PANELMAP_CONFIG).",
)
@click.option(
    "--db", "database", envvar="PANELMAP_DATABASE_URL", metavar="URL",
    help="Database URL (default sqlite:///panelmap.db; $PANELMAP_DATABASE_URL; `database` in the config file).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(ctx: click.Context, database: str | None, verbose: int, quiet: bool) -> None:
    """Map SMM panels, their resellers and their infrastructure."""
    verbosity = -1 if quiet else verbose
    _configure_logging(verbosity)
    ctx.obj = AppContext(db_url=database, verbosity=verbosity)


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to migrate to.")
@click.pass_obj
def db_upgrade(app: AppContext, revision: str) -> None:
    """Create or migrate the database schema."""
    database = Database.open(app.db_url)
    database.upgrade(revision)
    if app.verbosity >= 0:
        click.echo(f"{database.url}: schema at revision {database.current_revision()}")


@cli.command()
@click.option("--site", help="Only this site (domain).")
@format_option
@click.pass_obj
def panels(app: AppContext, site: str | None, format: str) -> None:
    """One row per site: software, services in the latest crawl, when and how it was crawled."""
    database = app.open_database()
    with database.session() as session:
        rows = list_panels(session, site)
    emit(rows, ["site", "kind", "software", "services", "last_crawled", "status"], format, title="Sites")


def main() -> None:
    cli.main(prog_name="panelmap")


if __name__ == "__main__":
    sys.exit(main())
