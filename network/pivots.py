"""Infrastructure pivots: sites that share an address, a name server, a certificate, a
tracking id, a merchant account... each edge with its pivot count (how many sites share
the value), as DomainTools shows it beside each value.

A value many sites share (a CDN's address, a big DNS host) says little about who runs
them: it is kept, marked weak; past `hub_above` sites it links each site to one value
node instead of every pair of sites to each other.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .settings import PivotSettings

# Link kinds, one per pivot.
PIVOT_KINDS = (
    "shares_ip", "shares_ip24", "shares_asn", "shares_ns", "shares_cert", "shares_favicon",
    "shares_tracking_id", "shares_merchant", "shares_tenant_code", "shares_txt_token",
)


@dataclass(frozen=True, slots=True)
class PivotObservation:
    """One site showing one value, and the observation row that shows it."""

    site: str
    kind: str  # one of PIVOT_KINDS
    value: str
    observation_id: int | None = None


@dataclass(frozen=True)
class PivotEdge:
    """Two sites (or a site and a value hub) sharing a value."""

    kind: str
    source: str
    target: str  # a site, or a hub id when `hub`
    value: str
    pivot_count: int
    weak: bool
    hub: bool
    observations: dict[str, list[int]]  # site -> ids of the observations showing the value

    def evidence(self) -> dict[str, object]:
        return {"observations": self.observations}


def subnet_of(address: str) -> str | None:
    """The /24 of an IPv4 address (the /48 of an IPv6 one): hosting neighbours."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if parsed.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def hub_id(kind: str, value: str) -> str:
    """A node id for a widely shared value, short enough for Link.target_cluster."""
    return f"{kind.removeprefix('shares_')}:{hashlib.sha1(value.encode()).hexdigest()[:12]}"


def compute_pivots(observations: Iterable[PivotObservation], settings: PivotSettings | None = None) -> list[PivotEdge]:
    """Edges between every two sites sharing a value (or site -> hub for widely shared ones)."""
    settings = settings or PivotSettings()
    shown: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for observation in observations:
        ids = shown[(observation.kind, observation.value)][observation.site]
        if observation.observation_id is not None and observation.observation_id not in ids:
            ids.append(observation.observation_id)
    edges: list[PivotEdge] = []
    for (kind, value), by_site in sorted(shown.items()):
        sites = sorted(by_site)
        count = len(sites)
        if count < 2:
            continue
        weak = count > settings.weak_threshold(kind)
        if count > settings.hub_above:
            hub = hub_id(kind, value)
            edges += [PivotEdge(kind, site, hub, value, count, weak, True, {site: sorted(by_site[site])})
                      for site in sites]
            continue
        for i, first in enumerate(sites):
            for second in sites[i + 1:]:
                edges.append(PivotEdge(kind, first, second, value, count, weak, False,
                                       {first: sorted(by_site[first]), second: sorted(by_site[second])}))
    return edges
