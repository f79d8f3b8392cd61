"""The commands that fetch: `crawl` and `enrich` (loaded only when used: they bring Scrapy)."""

from __future__ import annotations

from typing import Any

import click

from panelmap.cli import AppContext, UserError
from panelmap.crawl_display import crawl_with_progress
from panelmap.enrich.base import EnrichmentSettings
from panelmap.output import emit
from panelmap.spiders.crawl import RENDER_MODES, CrawlOptions
from panelmap.spiders.secrets import Secrets
from panelmap.spiders.seeds import check_proxy_url, read_seeds_file
from panelmap.storage import (
    known_domains,
    list_run_sites,
    normalise_domain,
    record_enrichment,
    start_enrichment_run,
)
from panelmap.storage.models import CrawlRun


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


@click.command()
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
    from panelmap.enrichment import enrich_run

    settings = EnrichmentSettings(resolver=dns, rdap_url=rdap, proxy_url=proxy, ca_bundle=ca_bundle,
                                  asn_table=asn_table)
    stats = enrich_run(database, run_id, domains, settings, warc_dir=warc_dir, quiet=app.verbosity < 0)
    record_enrichment(database, run_id, stats.as_dict(), finished=True)
    if app.verbosity >= 0:
        summary = stats.as_dict()
        click.echo(f"run {run_id}: enriched {summary['sites']} sites, {summary['lookups']} lookups, "
                   f"{len(summary['failures'])} enricher failures")


@click.command()
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
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        stopped = None if run.status == "finished" else run.stats.get("finish_reason", run.status)
    if enrich and not stopped:  # Ctrl-C means stop, not "go on to the lookups"
        from panelmap.enrichment import enrich_run  # the enrichers' imports would delay the crawl's start

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
    if stopped == "storage_failed":
        raise click.ClickException(f"crawl run {run_id} stopped early ({stopped}): see the storage error above; "
                                   "what was stored before it stays")
    if stopped:
        raise click.ClickException(f"crawl run {run_id} stopped early ({stopped}): what it fetched is stored, "
                                   "and running the same command again completes it")
