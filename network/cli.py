"""`panelmap network` and `panelmap import prices`: thin shells over compute, report,
exports and importer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from panelmap.cli import UserError
from panelmap.spiders.rates import RateTable
from panelmap.storage import normalise_domain

from .compute import network_graph
from .exports import to_csv, to_gexf, to_graphml, to_json
from .html_map import render_html
from .importer import PriceListError, import_price_lists
from .report import print_network, print_site, subgraph
from .settings import LinkSettings, PivotSettings
from .stix import to_stix

FORMATS = ("table", "json", "csv", "gexf", "graphml", "stix", "html")
_WRITERS = {"json": to_json, "csv": to_csv, "gexf": to_gexf, "graphml": to_graphml,
            "stix": lambda graph: to_stix(graph).serialize(pretty=True) + "\n", "html": render_html}


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, separator, target = value.partition("=")
        if not separator or not name.strip() or not target.strip():
            raise UserError(f"{option} {value!r}: expected NAME=VALUE")
        pairs[name.strip()] = target.strip()
    return pairs


@click.command()
@click.option("--site", help="One site's upstream chain, resellers and pivots (domain).")
@click.option("--format", "format_", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table for people; json/csv for programs; gexf/graphml for Gephi and graph tools; "
                   "stix for threat-intelligence platforms; html for an interactive offline map.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout.")
@click.option("--recompute", is_flag=True,
              help="Compute a new generation of links even if the stored one matches the data.")
@click.option("--min-matched", type=click.IntRange(2), default=LinkSettings.min_matched, show_default=True,
              help="Agreeing services a resale link needs.")
@click.option("--coverage", type=click.FloatRange(0.5, 1.0), default=LinkSettings.coverage, show_default=True,
              help="Share of a reseller's services of one family its upstream must list.")
@click.option("--weak-above", type=click.IntRange(1), default=PivotSettings.weak_above, show_default=True,
              help="A pivot value shared by more sites than this is weak (a CDN, a big DNS host).")
@click.pass_obj
def network(app: Any, site: str | None, format_: str, out: str | None, recompute: bool, min_matched: int,
            coverage: float, weak_above: int) -> None:
    """Who resells whom, and what infrastructure ties sites together.

    Links are computed from the stored catalogues and infrastructure observations and stored
    as a generation (Link rows sharing one computed_at); this command recomputes them when
    the data changed since the last generation, or with --recompute, then shows them.
    """
    database = app.open_database(migrate=True)
    settings = LinkSettings(min_matched=min_matched, coverage=coverage)
    graph, generation = network_graph(database, force=recompute, link_settings=settings,
                                      pivot_settings=PivotSettings(weak_above=weak_above))
    if generation is not None and app.verbosity >= 0:
        click.echo(f"computed {generation.resale_links} resale links, {generation.unknown_upstreams} unknown "
                   f"upstreams and {generation.pivot_edges} pivot edges over {generation.sites} catalogues "
                   f"in {generation.seconds:.1f} s", err=True)
    if site:
        domain = normalise_domain(site)
        if not any(node["id"] == domain for node in graph["nodes"]):
            raise UserError(f"no site {domain} in the database")
        if format_ == "table":
            print_site(_console(out), graph, domain)
            return
        graph = subgraph(graph, domain)
    if format_ == "table":
        print_network(_console(out), graph)
        return
    text = _WRITERS[format_](graph)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        if app.verbosity >= 0:
            click.echo(f"wrote {out}", err=True)
    else:
        sys.stdout.write(text)


def _console(out: str | None) -> Console:
    if out:
        return Console(file=open(out, "w", encoding="utf-8"), width=160, soft_wrap=False)
    return Console(soft_wrap=False)


@click.group("import")
def import_command() -> None:
    """Bring data collected elsewhere into the database."""


@import_command.command("prices")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--site", "sites", multiple=True, metavar="PANEL=DOMAIN",
              help="The domain of a panel (folder name), e.g. JustAnotherPanel=justanotherpanel.com; "
                   "default: <panel>.csv.")
@click.option("--rate", "rates", multiple=True, metavar="CODE=USD",
              help="USD per unit of a currency, over the built-in table (e.g. INR=0.0133).")
@click.pass_obj
def import_prices(app: Any, paths: tuple[str, ...], sites: tuple[str, ...], rates: tuple[str, ...]) -> None:
    """Import CSV price lists: PATHS are files or folders of <Panel>/<YYYY_MM_DD>.csv.

    One crawl run per file date, one site per panel, one price observation per row;
    importing the same files again changes nothing.
    """
    try:
        table = RateTable.from_setting(_pairs(rates, "--rate"))
    except ArithmeticError as exc:
        raise UserError(f"--rate: not a number ({exc})") from None
    database = app.open_database(migrate=True)
    try:
        imported = import_price_lists(database, paths, sites=_pairs(sites, "--site"), rates=table)
    except PriceListError as exc:
        raise UserError(str(exc)) from None
    if app.verbosity >= 0:
        listing = Table(title="Imported price lists")
        for column in ("file", "site", "date", "run", "services", "skipped rows"):
            listing.add_column(column)
        for item in imported:
            listing.add_row(f"{item.path.parent.name}/{item.path.name}", item.site, item.date.date().isoformat(), str(item.run_id),
                            str(item.services), str(item.skipped))
        Console(soft_wrap=False).print(listing)
