"""A live progress line while a crawl runs: sites done, pages, services found, errors."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.live import Live
from rich.text import Text

from panelmap.spiders.crawl import CrawlOptions, run_crawl


def _line(counts: dict[str, int], total_sites: int) -> Text:
    return Text.assemble(
        ("crawling ", "bold"),
        f"sites {counts.get('sites_done', 0)}/{total_sites}  ",
        f"pages {counts.get('pages', 0)}  ",
        f"services {counts.get('services', 0)}  ",
        (f"errors {counts.get('errors', 0)}", "red" if counts.get("errors") else ""),
    )


def crawl_with_progress(seeds: list[str], options: CrawlOptions, *, quiet: bool = False) -> int:
    """Run the crawl, showing progress on stderr when it is a terminal; returns the run id."""
    if quiet:
        return run_crawl(seeds, options)
    console = Console(file=sys.stderr)
    total = len(set(seeds))
    with Live(_line({}, total), console=console, refresh_per_second=4, transient=not console.is_terminal) as live:
        return run_crawl(seeds, options, progress=lambda counts: live.update(_line(counts, total)))
