"""`panelmap demo`: the whole pipeline on the built-in sandbox world, in a minute, offline.

It starts the sandbox (proxy, DNS, RDAP on loopback), crawls and enriches every
seed of the world into a fresh SQLite database with the investigator's secrets
file the world provides, stops the world, then prints what it found, the
upstream trees with an HTML map, and an evidence pack for the largest upstream.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from panelmap.crawl_display import crawl_with_progress
from panelmap.enrich.base import EnrichmentSettings
from panelmap.enrichment import enrich_run
from panelmap.evidence.demo import export_demo_pack
from panelmap.network.report import summarise
from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.secrets import write_secrets_file
from panelmap.sandbox.server import Sandbox
from panelmap.spiders.crawl import RENDER_MODES, CrawlOptions
from panelmap.spiders.secrets import Secrets
from panelmap.storage import Database, list_run_sites, list_services, record_enrichment


@dataclass
class DemoResult:
    workdir: Path
    database_url: str
    run_id: int
    sites: list[dict]


def run_demo(workdir: Path, *, seed: int = 1, render: str = "auto", console: Console | None = None) -> DemoResult:
    console = console or Console()
    workdir = workdir.resolve()
    for stale in ("panelmap.db", "panelmap.db-wal", "panelmap.db-shm"):
        (workdir / stale).unlink(missing_ok=True)
    shutil.rmtree(workdir / "captures", ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{workdir / 'panelmap.db'}"

    world = generate_world(seed=seed)
    seeds = world.ground_truth["seeds"]
    with Sandbox(world, workdir / "sandbox") as sandbox:
        console.print(f"[bold]Sandbox world[/] (seed {seed}): {len(seeds)} panel sites served on loopback")
        console.print(f"  proxy {sandbox.proxy_url}   DNS {sandbox.dns_address[0]}:{sandbox.dns_address[1]}   "
                      f"RDAP {sandbox.rdap_url}")
        secrets_file = write_secrets_file(world, workdir / "secrets.toml")
        options = CrawlOptions(
            database_url=database_url, proxy=sandbox.proxy_url, ca_bundle=str(sandbox.ca_bundle), render=render,
            secrets_file=str(secrets_file), job="demo", dns=f"{sandbox.dns_address[0]}:{sandbox.dns_address[1]}",
            warc_dir=str(workdir / "captures"), log_level="ERROR",
        )
        run_id = crawl_with_progress(seeds, options)
        database = Database.open(database_url)
        settings = EnrichmentSettings(resolver=options.dns, rdap_url=sandbox.rdap_url, proxy_url=sandbox.proxy_url,
                                      ca_bundle=sandbox.ca_bundle)
        stats = enrich_run(database, run_id, seeds, settings, warc_dir=options.warc_dir,
                           secrets=Secrets.load(secrets_file))
        record_enrichment(database, run_id, stats.as_dict())
    with database.session() as session:
        sites = list_run_sites(session, run_id)
        spotify = [row for row in list_services(session, platform="spotify") if row["rate_usd"] is not None]
    print_summary(console, sites, spotify)
    summarise(database, workdir, console)
    export_demo_pack(database_url, workdir, world.ground_truth, secrets_file=secrets_file, console=console)
    console.print(f"\nDatabase: {database_url}\nCaptures (WARC): {workdir / 'captures'}\n"
                  f"Try: panelmap --db {database_url} services --platform spotify --metric plays")
    database.dispose()
    return DemoResult(workdir, database_url, run_id, sites)


def print_summary(console: Console, sites: list[dict], spotify: list[dict]) -> None:
    table = Table(title="What the crawl found")
    for column in ("site", "software", "services", "status"):
        table.add_column(column)
    for row in sites:
        table.add_row(row["site"], row["software"] or "", str(row["services"]), row["status"])
    console.print(table)

    plays = sorted((row for row in spotify if row["metric"] == "plays"), key=lambda row: row["rate_usd"])
    if plays:
        cheapest = Table(title=f"Cheapest Spotify plays per 1000 ({len(plays)} offers)")
        for column in ("site", "service", "price", "USD"):
            cheapest.add_column(column)
        for row in plays[:8]:
            cheapest.add_row(row["site"], row["name"][:60], row["rate_text"],
                             str(row["rate_usd"].quantize(Decimal("0.0001"))))
        console.print(cheapest)


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False), default="panelmap-demo", show_default=True,
              help="Where the demo's database, captures and sandbox files go (replaced on each run).")
@click.option("--seed", type=int, default=1, show_default=True, help="Which sandbox world to generate.")
@click.option("--render", type=click.Choice(RENDER_MODES), default="auto", show_default=True)
def demo(workdir: str, seed: int, render: str) -> None:
    """Crawl the built-in sandbox world end to end, offline, and show what was found."""
    run_demo(Path(workdir), seed=seed, render=render)
