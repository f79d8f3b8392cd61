"""The thresholds of the linker and of the pivots, in one place: settings over code.

Every field can be set from Python (`LinkSettings(min_matched=5)`) and the ones an
investigator tunes also from `panelmap network` options or the `[network]` table of
the config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinkSettings:
    """How the reseller -> upstream linker decides."""

    # A resale link needs at least this many services that agree with its markup.
    min_matched: int = 8
    # ...and this share of the pair's informative matched services agreeing with its markup tiers.
    min_agreement: float = 0.5
    # Ratios below this are "one price": the direction then comes from ids and catalogue shape.
    min_markup: float = 1.01
    # Share of a reseller's services from one family (an upstream and everyone selling its
    # services at consistent ratios) that a site must list to be that reseller's upstream.
    coverage: float = 0.95
    # A reseller whose best candidate lists at least this share, and who has no sibling to
    # form an unknown-upstream cluster with, is linked to that candidate with lower confidence.
    weak_coverage: float = 0.75
    # Sites compared with a reseller in each round: those sharing the most services with it.
    candidates: int = 12
    # Candidates that list a reseller's services equally well are told apart by how exactly
    # its prices follow theirs: a candidate with more disagreeing services than the best by
    # more than this many (or this share of the informative ones) follows less exactly.
    disagreement_margin: int = 2
    disagreement_share: float = 0.005
    # Rounds of the search, so also the most upstreams one reseller can have.
    max_upstreams: int = 4
    # Markups one pair may use (resellers re-price some categories) and the share each needs.
    max_tiers: int = 3
    tier_share: float = 0.15
    # Price tolerance besides the reseller's own rounding step, relative to its price.
    relative_tolerance: float = 1e-5
    # A service whose rounding allows more than this relative width says nothing about a markup.
    informative_width: float = 0.1
    # Weighted agreeing services at which a link's evidence strength reaches 63% (1 - 1/e).
    confidence_scale: float = 8.0
    # Sites agreeing at constant ratios, none of them the source, form an unknown-upstream
    # cluster when there are at least this many.
    min_cluster: int = 2
    # Name-token signatures with at least this many tokens may match with one token different.
    fuzzy_min_tokens: int = 5
    # Observations of two sites this close in time (seconds) count as one moment of their history.
    history_window: float = 36 * 3600.0


@dataclass(frozen=True)
class PivotSettings:
    """How infrastructure pivots are weighed."""

    # A value shared by more sites than this (a CDN address, a big DNS host) is kept but weak.
    weak_above: int = 5
    # Per-kind overrides of `weak_above`, e.g. {"shares_asn": 3}.
    weak_above_by_kind: dict[str, int] = field(default_factory=dict)
    # A value shared by more sites than this links each site to one value node (n edges)
    # instead of each pair of sites (n^2/2 edges).
    hub_above: int = 25

    def weak_threshold(self, kind: str) -> int:
        return self.weak_above_by_kind.get(kind, self.weak_above)
