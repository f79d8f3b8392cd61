"""One enrichment pass for a run's sites, as `panelmap crawl` (after fetching) and `panelmap enrich` do it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from panelmap import __version__
from panelmap.enrich.base import EnrichmentSettings, EnrichmentStats
from panelmap.enrich.runner import enrich_sites
from panelmap.spiders.secrets import Secrets
from panelmap.storage import Database, WarcFileWriter


def enrich_run(database: Database, run_id: int, domains: list[str], settings: EnrichmentSettings, *,
               warc_dir: str | Path, secrets: Secrets | None = None, quiet: bool = False) -> EnrichmentStats:
    """Enrich `domains` for `run_id`, writing the DNS, RDAP and TLS captures beside the run's own WARCs."""
    redactor = (secrets or Secrets()).redactor()
    writer = WarcFileWriter(Path(warc_dir) / f"run-{run_id}", f"panelmap-run{run_id}-enrich", redactor=redactor,
                            software=f"panelmap/{__version__}")
    console = Console(stderr=True)
    try:
        if quiet:
            return enrich_sites(database, run_id, domains, settings, writer)
        with console.status(f"enriching {len(domains)} sites: DNS, hosting, TLS, fingerprints, payments"):
            return enrich_sites(database, run_id, domains, settings, writer)
    finally:
        writer.close()
