"""Computing and reading the network: the Python API behind `panelmap network`.

    from panelmap.network import compute
    generation = compute.recompute(database)          # a new generation of Link rows
    graph = compute.network_graph(database)           # the current one, recomputed if stale
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from panelmap.storage import Database

from .graph import build_graph
from .linker import link_catalogues
from .pivots import compute_pivots
from .settings import LinkSettings, PivotSettings
from .store import (
    current_generation,
    current_links,
    is_stale,
    load_catalogues,
    load_pivot_observations,
    save_generation,
    site_facts,
)


@dataclass
class Generation:
    """What one computation stored."""

    computed_at: datetime
    sites: int
    resale_links: int
    unknown_upstreams: int
    pivot_edges: int
    seconds: float


def recompute(database: Database, link_settings: LinkSettings | None = None,
              pivot_settings: PivotSettings | None = None) -> Generation:
    """Link every catalogue, compute every pivot, store both as a new generation."""
    started = time.monotonic()
    with database.session() as session:
        catalogues = load_catalogues(session)
        observations = load_pivot_observations(session)
    result = link_catalogues(catalogues, link_settings)
    pivots = compute_pivots(observations, pivot_settings)
    with database.session() as session:
        computed_at = save_generation(session, result, pivots)
    return Generation(computed_at, len(catalogues), len(result.links), len(result.clusters), len(pivots),
                      time.monotonic() - started)


def network_graph(database: Database, *, force: bool = False, link_settings: LinkSettings | None = None,
                  pivot_settings: PivotSettings | None = None) -> tuple[dict[str, Any], Generation | None]:
    """The current graph (`graph.build_graph`), and the Generation computed for it when the
    stored one was missing, stale (the data changed since) or `force`d."""
    generation = None
    with database.session() as session:
        stale = force or is_stale(session)
    if stale:
        generation = recompute(database, link_settings, pivot_settings)
    with database.session() as session:
        graph = build_graph(current_links(session), site_facts(session), current_generation(session))
    return graph, generation
