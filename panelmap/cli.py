"""The `panelmap` command: a thin shell over the stages' Python APIs.

Errors a user can fix (a bad URL, an unreachable database, a missing file)
end in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler

from panelmap.config import ConfigError, load_config
from panelmap.output import emit, format_option
from panelmap.sandbox.cli import sandbox
from panelmap.schedule_cli import (changes_command, jobs_command, price_index_command, schedule_group,
                                   scheduler_command, show_price_history)
from panelmap.crawl_display import crawl_with_progress
from panelmap.demo import run_demo
from panelmap.network.cli import import_command, network
from panelmap.evidence.cli import evidence
from panelmap.spiders.crawl import RENDER_MODES, CrawlOptions
from panelmap.spiders.seeds import check_proxy_url, read_seeds_file
from panelmap.spiders.secrets import Secrets, SecretsError
from panelmap.enrich.base import EnrichmentSettings
from panelmap.enrich.queries import site_infrastructure
from panelmap.enrichment import enrich_run
from panelmap.storage import (
    Database,
    DatabaseError,
    known_domains,
    list_panels,
    list_run_sites,
    list_services,
    normalise_domain,
    record_enrichment,
    start_enrichment_run,
)
from panelmap.version import version_string

USAGE_ERROR_EXIT = 2
_SERVICE_FIELDS = ["site", "service_id", "name", "category", "rate", "currency", "rate_usd", "min", "max",
                   "platform", "metric", "geo", "source", "observed_at"]
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


class PanelmapGroup(click.Group):
    """Turns the stages' own error types into UserError, once, for every command."""

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
        return show_price_history(app, site, history, format)
    database = app.open_database()
    with database.session() as session:
        rows = list_services(session, domain=site, platform=platform, metric=metric)
    emit(rows, SERVICE_COLUMNS[format], format, title="Services")


def enrichment_options(command: Any) -> Any:
    """The options that say where enrichment lookups go (shared by `crawl` and `enrich`)."""
    for option in reversed([
        click.option("--dns", metavar="HOST[:PORT]", help="DNS resolver for enrichment lookups (default: the system's)."),
        click.option("--rdap", metavar="URL", help="RDAP base URL (default: each registry's own server)."),
        click.option("--asn-table", type=click.Path(exists=True, dir_okay=False),
                     help="Offline ip-to-ASN table (CSV: cidr,asn,asn_name,country,registry) instead of lookups."),
    ]):
        command = option(command)
    return command


@cli.command()
@click.argument("sites", nargs=-1)
@enrichment_options
@click.option("--proxy", metavar="URL", help="HTTP proxy for TLS grabs and fetches (CONNECT for HTTPS).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
              help="Extra trusted CA certificates (PEM) for judging the sites' certificates.")
@click.option("--warc-dir", default="captures", show_default=True, type=click.Path(file_okay=False))
@click.pass_obj
def enrich(app: AppContext, sites: tuple[str, ...], dns: str | None, rdap: str | None, asn_table: str | None,
           proxy: str | None, ca_bundle: str | None, warc_dir: str) -> None:
    """Re-run enrichment alone for SITES (default: every known site), as a run of its own."""
    database = app.open_database(migrate=True)
    with database.session() as session:
        domains = [normalise_domain(site) for site in sites] or known_domains(session)
        run_id = start_enrichment_run(session, proxy=proxy, resolver=dns)
    if not domains:
        raise UserError("no sites: name some, or crawl first")
    settings = EnrichmentSettings(resolver=dns, rdap_url=rdap, proxy_url=proxy, ca_bundle=ca_bundle,
                                  asn_table=asn_table)
    stats = enrich_run(database, run_id, domains, settings, warc_dir=warc_dir, quiet=app.verbosity < 0)
    record_enrichment(database, run_id, stats.as_dict(), finished=True)
    if app.verbosity >= 0:
        summary = stats.as_dict()
        click.echo(f"run {run_id}: enriched {summary['sites']} sites, {summary['lookups']} lookups, "
                   f"{len(summary['failures'])} enricher failures")


@cli.command()
@click.argument("seeds", nargs=-1)
@click.option("--seeds", "seeds_file", type=click.Path(exists=True, dir_okay=False),
              help="File with one seed (domain or URL) per line.")
@click.option("--proxy", metavar="URL", help="HTTP proxy (CONNECT for HTTPS) that every request goes through.")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
              help="Extra trusted CA certificates (PEM) for judging the sites' certificates.")
@click.option("--render", type=click.Choice(RENDER_MODES), default="auto", show_default=True,
              help="Render pages in Chromium: only where the static HTML lacks the catalogue, always, or never.")
@click.option("--secrets", "secrets_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML/JSON file with per-site API keys and session cookies (never logged or stored).")
@click.option("--concurrency", type=click.IntRange(1, 512), help="Requests in flight at once (default 32).")
@click.option("--per-domain-concurrency", type=click.IntRange(1, 64), help="Requests in flight per site (default 4).")
@click.option("--download-timeout", type=click.FloatRange(1, 3600), help="Seconds a response may take (default 30).")
@click.option("--max-body-size", type=click.IntRange(1024), help="Largest response body in bytes, after "
              "decompression (default 20 MiB).")
@click.option("--max-redirects", type=click.IntRange(0, 50), help="Redirects followed per request (default 5).")
@click.option("--retries", type=click.IntRange(0, 20), help="Retries of a failed request, with backoff (default 2).")
@click.option("--autothrottle/--no-autothrottle", default=None, help="Adapt the delay to each site's latency (on).")
@click.option("--user-agent", help="User-Agent header (default: panelmap's, identifying the crawler).")
@click.option("--job", metavar="NAME", help="Name recorded with the run.")
@click.option("--job-id", type=int, hidden=True, help="Id of the scheduler's Job row this crawl runs for.")
@enrichment_options
@click.option("--enrich/--no-enrich", default=True, show_default=True,
              help="Resolve DNS, hosting, TLS, fingerprints and payments for the crawled sites afterwards.")
@click.option("--warc-dir", default="captures", show_default=True, type=click.Path(file_okay=False),
              help="Where the WARC capture files go.")
@click.pass_obj
def crawl(app: AppContext, seeds: tuple[str, ...], seeds_file: str | None, proxy: str | None,
          ca_bundle: str | None, render: str, secrets_file: str | None, concurrency: int | None,
          per_domain_concurrency: int | None, download_timeout: float | None, max_body_size: int | None,
          max_redirects: int | None, retries: int | None, autothrottle: bool | None, user_agent: str | None,
          job: str | None, job_id: int | None, dns: str | None, rdap: str | None, asn_table: str | None,
          enrich: bool, warc_dir: str) -> None:
    """Catalogue the panels at SEEDS (domains or URLs): pages, prices, API, captures."""
    seed_list = list(seeds)
    if seeds_file:
        seed_list += read_seeds_file(seeds_file)
    if not seed_list:
        raise UserError("no seeds: name sites as arguments or give --seeds FILE")
    if proxy:
        try:
            check_proxy_url(proxy)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if secrets_file:
        Secrets.load(secrets_file)  # fail now, in one line, rather than inside the crawl
    database = app.open_database(migrate=True)
    options = CrawlOptions(
        database_url=app.db_url, proxy=proxy, ca_bundle=ca_bundle, render=render,
        secrets_file=secrets_file, concurrency=concurrency, per_domain_concurrency=per_domain_concurrency,
        download_timeout=download_timeout, max_body_size=max_body_size, max_redirects=max_redirects,
        retries=retries, autothrottle=autothrottle, user_agent=user_agent, job=job, job_id=job_id, dns=dns,
        warc_dir=warc_dir,
        log_level="INFO" if app.verbosity > 0 else "ERROR" if app.verbosity < 0 else "WARNING",
    )
    run_id = crawl_with_progress(seed_list, options, quiet=app.verbosity < 0)
    if enrich:
        domains = [normalise_domain(seed) for seed in seed_list]
        settings = EnrichmentSettings(resolver=dns, rdap_url=rdap, proxy_url=proxy, ca_bundle=ca_bundle,
                                      asn_table=asn_table)
        secrets = Secrets.load(secrets_file) if secrets_file else None
        stats = enrich_run(database, run_id, domains, settings, warc_dir=warc_dir, secrets=secrets,
                           quiet=app.verbosity < 0)
        record_enrichment(database, run_id, stats.as_dict())
    if app.verbosity >= 0:
        with database.session() as session:
            rows = list_run_sites(session, run_id)
        emit(rows, ["site", "software", "services", "status", "reason"], "table", title=f"Crawl run {run_id}")




@cli.command()
@click.option("--workdir", type=click.Path(file_okay=False), default="panelmap-demo", show_default=True,
              help="Where the demo's database, captures and sandbox files go (replaced on each run).")
@click.option("--seed", type=int, default=1, show_default=True, help="Which sandbox world to generate.")
@click.option("--render", type=click.Choice(RENDER_MODES), default="auto", show_default=True)
def demo(workdir: str, seed: int, render: str) -> None:
    """Crawl the built-in sandbox world end to end, offline, and show what was found."""
    run_demo(Path(workdir), seed=seed, render=render)


cli.add_command(sandbox)
cli.add_command(network)
cli.add_command(import_command)
cli.add_command(schedule_group)
cli.add_command(scheduler_command)
cli.add_command(jobs_command)
cli.add_command(changes_command)
cli.add_command(price_index_command)
cli.add_command(evidence)


def main() -> None:
    cli.main(prog_name="panelmap")


if __name__ == "__main__":
    sys.exit(main())
