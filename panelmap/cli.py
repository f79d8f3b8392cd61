"""The `panelmap` command: a thin shell over the stages' Python APIs.

Errors a user can fix (a bad URL, an unreachable database, a missing file)
end in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler

from panelmap.config import ConfigError, load_config
from panelmap.enrich.queries import site_infrastructure
from panelmap.gc_tuning import skip_collection_at_exit
from panelmap.output import emit, format_option
from panelmap.price_index import PriceQueryError, price_history
from panelmap.spiders.secrets import SecretsError
from panelmap.storage import Database, DatabaseError, list_panels, list_services
from panelmap.version import version_string

USAGE_ERROR_EXIT = 2
_SERVICE_FIELDS = ["site", "service_id", "name", "category", "rate", "currency", "rate_usd", "min", "max",
                   "platform", "metric", "geo", "source", "observed_at"]
HISTORY_FIELDS = ["run_id", "observed_at", "source", "name", "rate", "rate_text", "currency", "rate_usd", "min", "max",
                  "change_percent"]
SERVICE_COLUMNS = {
    "table": ["site", "service_id", "name", "rate_text", "rate_usd", "min", "max", "platform", "metric"],
    "csv": _SERVICE_FIELDS,
    "json": _SERVICE_FIELDS,
}


class UserError(click.ClickException):
    """A problem the user can fix: printed as one line, exit code 2."""

    exit_code = USAGE_ERROR_EXIT

    def format_message(self) -> str:
        return self.message.splitlines()[0] if self.message else "unknown error"


# Commands whose modules pull in Scrapy, Playwright, the sandbox and the like are imported
# only when used (Click's lazy-loading pattern), so `panelmap --version` stays instant.
LAZY_COMMANDS = {
    "crawl": "panelmap.crawl_cli:crawl",
    "enrich": "panelmap.crawl_cli:enrich",
    "demo": "panelmap.demo:demo",
    "sandbox": "panelmap.sandbox.cli:sandbox",
    "network": "panelmap.network.cli:network",
    "import": "panelmap.network.cli:import_command",
    "evidence": "panelmap.evidence.cli:evidence",
    "schedule": "panelmap.schedule_cli:schedule_group",
    "scheduler": "panelmap.schedule_cli:scheduler_command",
    "jobs": "panelmap.schedule_cli:jobs_command",
    "changes": "panelmap.schedule_cli:changes_command",
    "price-index": "panelmap.schedule_cli:price_index_command",
}


class PanelmapGroup(click.Group):
    """Loads the stages' commands on demand, and turns their error types into UserError,
    once, for every command."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DatabaseError, ConfigError, SecretsError) as exc:
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
    # Logs go to stderr: stdout carries listings that programs read.
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False, markup=False)
    handler.setLevel(level)  # on the handler too: Scrapy resets the root logger's level when a crawl starts
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
        if site:  # one site: its infrastructure too
            rows = [{**row, **(site_infrastructure(session, row["site"]) or {})} for row in rows]
    emit(rows, ["site", "kind", "software", "services", "last_crawled", "status"], format, title="Sites")


@cli.command()
@click.option("--site", help="Only this site (domain).")
@click.option("--platform", help="Only this platform (spotify, youtube, instagram, ...).")
@click.option("--metric", help="Only this metric (plays, followers, monthly_listeners, ...).")
@click.option("--history", metavar="SERVICE_ID", help="Every observed price of this service of --site, oldest first.")
@format_option
@click.pass_obj
def services(app: AppContext, site: str | None, platform: str | None, metric: str | None, history: str | None,
             format: str) -> None:
    """The latest catalogue of every site (or one): services with their prices."""
    if history is not None:
        return _price_history(app, site, history, format)
    database = app.open_database()
    with database.session() as session:
        rows = list_services(session, domain=site, platform=platform, metric=metric)
    emit(rows, SERVICE_COLUMNS[format], format, title="Services")


def _price_history(app: AppContext, site: str | None, service_id: str, format: str) -> None:
    """`services --site D --history SERVICE_ID`: every observed price of one service, oldest first."""
    if not site:
        raise UserError("--history needs --site: a service id is the panel's own, so it means nothing without its site")
    database = app.open_database()
    try:
        with database.session() as session:
            rows = price_history(session, site, service_id)
    except PriceQueryError as exc:
        raise UserError(str(exc)) from None
    columns = ["observed_at", "run_id", "rate_text", "currency", "rate_usd", "min", "max", "change_percent", "source"]
    emit(rows, columns if format == "table" else HISTORY_FIELDS, format, title=f"{site} service {service_id}")


def main() -> None:
    skip_collection_at_exit()
    cli.main(prog_name="panelmap")


if __name__ == "__main__":
    sys.exit(main())
