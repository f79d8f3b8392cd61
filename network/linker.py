"""Which reseller buys from which upstream: links with markups, from catalogues alone.

For each site R, in rounds (one per upstream it may have):
1. Candidates: the sites sharing the most of R's still unexplained services, counted
   through the block -> sites index (a bincount, never a scan of all sites' services).
2. Each candidate pair gets a markup fit (`markup.fit_markup`); pairs that agree on
   enough services, in one or a few tiers, are consistent. Each tier of each consistent
   pair is a "unit": the set of R's services it agrees on.
3. A cheaper consistent candidate U is R's upstream when it lists nearly all of R's
   services of its family: R's services that U's units, and the units that agree with
   U's on common services (siblings, other resellers of the same source), agree on. A
   sibling that lists services U lacks is the sign that U is not the source.
4. Among candidates that pass, the nearest in price wins (a reseller of a reseller is
   linked to its direct upstream, not to the root); candidates of unrelated families
   (no services agreed in common) are separate upstreams of a multi-upstream reseller.
5. If none passes, R's family has a source nobody crawled: R and the family members
   without a source of their own form an unknown-upstream cluster.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .catalogue import Catalogue
from .markup import MarkupFit, Tier, decimals, fit_markup
from .matching import ServiceIndex, build_index
from .settings import LinkSettings
from .signals import history_signals, id_signals


@dataclass(slots=True)
class PairFit:
    """The shared services of two sites (positions in each site's block arrays), which side is
    cheaper, and the markup of the dearer over the cheaper."""

    sites: tuple[int, int]
    positions: tuple[np.ndarray, np.ndarray]
    cheaper: int
    fit: MarkupFit
    weighted: float  # agreeing informative services, weighted by how specific each is
    same_price: bool
    consistent: bool
    copied_ids: float  # share of shared services whose ids differ by the most common offset (0: kept)
    same_names: float  # share of shared services with exactly the same name key (no fuzzy step)

    def at(self, site: int) -> np.ndarray:
        return self.positions[0] if site == self.sites[0] else self.positions[1]

    def other(self, site: int) -> int:
        return self.sites[1] if site == self.sites[0] else self.sites[0]


@dataclass(slots=True)
class _Upstream:
    upstream: int
    pair: PairFit
    coverage: float
    weak: bool = False


@dataclass(slots=True)
class _Hidden:
    best: int | None
    coverage: float
    members: set[int]


@dataclass(slots=True)
class _Root:
    members: set[int]


@dataclass
class ResaleLink:
    """A reseller -> upstream edge with everything a person needs to check it."""

    reseller: str
    upstream: str  # a site, or an UnknownUpstream id
    markup: float  # reseller price / upstream price, in USD (relative to the cheapest member for a cluster)
    tiers: list[dict[str, Any]]
    matched: int  # services the two share
    agreeing: int  # informative shared services agreeing with the markup tiers
    coverage: float  # share of the reseller's services of this family the upstream lists
    confidence: float
    observations: list[list[int | None]]  # [upstream observation id, reseller observation id] per agreeing service
    signals: dict[str, Any] = field(default_factory=dict)
    cluster: bool = False

    def evidence(self) -> dict[str, Any]:
        """The JSON stored in Link.evidence."""
        return {
            "tiers": self.tiers, "matched": self.matched, "agreeing": self.agreeing,
            "coverage": round(self.coverage, 4), "observations": self.observations, "signals": self.signals,
        }


@dataclass
class UnknownUpstream:
    """A source no crawl contains, inferred from resellers agreeing with each other."""

    id: str
    members: list[str]
    markups: dict[str, float]  # each member's price level relative to the cheapest member


@dataclass
class LinkResult:
    links: list[ResaleLink]
    clusters: list[UnknownUpstream]


def cluster_id(members: list[str]) -> str:
    """A stable name for an unknown upstream: the same members give the same id."""
    return "unknown-upstream-" + hashlib.sha1(",".join(sorted(members)).encode()).hexdigest()[:8]


def confidence(weighted: float, agreement: float, coverage: float, settings: LinkSettings) -> float:
    """Evidence strength (saturating in the weighted agreeing services) x agreement x coverage."""
    strength = 1.0 - math.exp(-weighted / settings.confidence_scale)
    return round(strength * math.sqrt(agreement) * min(1.0, coverage / settings.coverage), 3)


class Linker:
    """Finds resale links over one `ServiceIndex`; `link_catalogues` is the one-call form."""

    def __init__(self, index: ServiceIndex, settings: LinkSettings | None = None) -> None:
        self.index = index
        self.settings = settings or LinkSettings()
        self.degree = index.degree
        self._fits: dict[tuple[int, int], PairFit | None] = {}
        self._cached_with: dict[int, list[tuple[int, int]]] = {}
        self._done: set[int] = set()
        self._site_index = {catalogue.site: i for i, catalogue in enumerate(index.catalogues)}
        self._shared = np.array([int((self.degree[site.blocks] >= 2).sum()) for site in index.sites])

    # --- pairs ------------------------------------------------------------------

    def fit(self, a: int, b: int) -> PairFit | None:
        """The markup fit of two sites (cached until both have been analysed)."""
        key = (min(a, b), max(a, b))
        if key in self._fits:
            return self._fits[key]
        self._fits[key] = found = self._fit(*key)
        for site in key:
            self._cached_with.setdefault(site, []).append(key)
        return found

    def _fit(self, a: int, b: int) -> PairFit | None:
        settings = self.settings
        first, second = self.index.sites[a], self.index.sites[b]
        common, at_a, at_b = np.intersect1d(first.blocks, second.blocks, assume_unique=True, return_indices=True)
        if len(common) < settings.min_matched:
            return None
        price_a, price_b = first.prices[at_a], second.prices[at_b]
        positive = (price_a > 0) & (price_b > 0)
        if positive.sum() < 2:
            return None
        ratio = float(np.median(np.log(price_b[positive] / price_a[positive])))
        same_price = abs(ratio) < math.log(settings.min_markup)
        if ratio >= 0:
            cheaper, up, down, step = a, price_a, price_b, second.step[at_b]
        else:
            cheaper, up, down, step = b, price_b, price_a, first.step[at_a]
        if same_price:
            step = np.maximum(first.step[at_a], second.step[at_b])
        fit = fit_markup(up, down, step, settings)
        if fit is None:
            return None
        agreeing = fit.agrees & fit.informative_mask
        weighted = float(self.index.specificity[common[agreeing]].sum())
        consistent = fit.agreeing >= settings.min_matched and fit.agreement >= settings.min_agreement
        ids_a, ids_b = first.ids[at_a], second.ids[at_b]
        numeric = (ids_a >= 0) & (ids_b >= 0)
        offsets = np.unique(ids_b[numeric] - ids_a[numeric], return_counts=True)[1]
        copied_ids = float(offsets.max() / len(common)) if offsets.size else 0.0
        same_names = float(np.mean(first.keys[at_a] == second.keys[at_b]))
        return PairFit((a, b), (at_a.astype(np.int32), at_b.astype(np.int32)), cheaper, fit, weighted,
                       same_price, consistent, copied_ids, same_names)

    def _forget(self, site: int) -> None:
        """Drop cached fits whose two sites are both analysed: memory stays linear."""
        self._done.add(site)
        for key in self._cached_with.pop(site, []):
            if key[0] in self._done and key[1] in self._done:
                self._fits.pop(key, None)

    # --- one site ---------------------------------------------------------------

    def _candidates(self, site: int, open_blocks: np.ndarray) -> list[int]:
        counts = np.bincount(self.index.sites_listing(open_blocks), minlength=len(self.index.sites))
        counts[site] = 0
        limit = min(self.settings.candidates, len(counts))
        top = np.argpartition(-counts, limit - 1)[:limit] if limit < len(counts) else np.arange(len(counts))
        top = top[counts[top] >= self.settings.min_matched]
        return [int(other) for other in top[np.argsort(-counts[top], kind="stable")]]

    def analyse(self, site: int) -> list[_Upstream | _Hidden | _Root]:
        """The outcomes of each round for `site`: upstreams found, a family with no source in
        the crawl, or the site being the source of what it shares."""
        settings = self.settings
        blocks = self.index.sites[site].blocks
        size = len(blocks)
        open_ = self.degree[blocks] >= 2
        outcomes: list[_Upstream | _Hidden | _Root] = []
        for _round in range(settings.max_upstreams):
            if open_.sum() < settings.min_matched:
                break
            pairs = [pair for other in self._candidates(site, blocks[open_])
                     if (pair := self.fit(site, other)) is not None and pair.consistent]
            if not pairs:
                break
            units: list[tuple[int, PairFit]] = []
            masks: list[np.ndarray] = []
            for pair in pairs:
                positions = pair.at(site)
                for tier in range(len(pair.fit.tiers)):
                    mask = np.zeros(size, dtype=bool)
                    mask[positions[(pair.fit.tier_of == tier) & pair.fit.informative_mask]] = True
                    units.append((pair.other(site), pair))
                    masks.append(mask)
            matrix = np.array(masks, dtype=np.float32)
            common = matrix @ matrix.T
            sizes = np.diag(common)
            related = common >= np.maximum(2.0, np.minimum(settings.min_matched, 0.25 * np.minimum.outer(sizes, sizes)))
            cheaper = [pair for pair in pairs if self._may_supply(site, pair)]
            verdicts: list[tuple[PairFit, float, np.ndarray, np.ndarray]] = []
            for pair in cheaper:
                other = pair.other(site)
                listed = np.zeros(size, dtype=bool)
                listed[pair.at(site)] = True
                own_units = [i for i, (unit_site, _) in enumerate(units) if unit_site == other]
                family = related[own_units].any(axis=0)
                agreed = matrix[family].any(axis=0) & open_
                present = listed & open_
                missing = agreed & ~listed
                covered = present.sum() / max(1, present.sum() + missing.sum())
                verdicts.append((pair, float(covered), present | missing, family))
            explained = np.zeros(size, dtype=bool)
            passing = [verdict for verdict in verdicts if verdict[1] >= settings.coverage]
            if passing:
                for pair, covered, family_blocks in self._best_per_family(site, passing, units):
                    outcomes.append(_Upstream(pair.other(site), pair, covered))
                    explained |= family_blocks
            elif verdicts:
                pair, covered, family_blocks, family = max(verdicts, key=lambda verdict: verdict[1])
                members = {pair.other(site)} | {units[i][0] for i in np.flatnonzero(family)}
                outcomes.append(_Hidden(pair.other(site), covered, members))
                explained |= family_blocks
            else:
                outcomes.append(_Root({pair.other(site) for pair in pairs}))
                explained |= matrix.any(axis=0).astype(bool)
            explained &= open_
            if not explained.any():
                break
            open_ &= ~explained
        return outcomes

    def _may_supply(self, site: int, pair: PairFit) -> bool:
        """Whether the other side of `pair` can be `site`'s upstream by price: it is cheaper,
        or sells at one price while listing clearly more (a reseller keeping its upstream's
        prices lists a subset)."""
        other = pair.other(site)
        if not pair.same_price:
            return pair.cheaper == other
        return self._shared[other] >= 1.25 * self._shared[site]

    def _best_per_family(self, site: int, passing: list[tuple[PairFit, float, np.ndarray, np.ndarray]],
                         units: list[tuple[int, PairFit]]) -> list[tuple[PairFit, float, np.ndarray]]:
        """The upstream of each family among candidates that list the reseller's services.

        Candidates agreeing on common services are one family (a root and its resellers);
        others are further upstreams. Within a family: the fewest of the reseller's services
        missing; then the prices followed most exactly (a reseller of a reseller carries two
        roundings against the root); then the ids copied (kept or shifted by one offset: a panel
        copies its direct upstream's ids) and names kept exactly (an intermediate's edits are
        inherited); then, within one currency, the rounder markup (operators type "+25%"); then
        the root side: a mirror that follows the root exactly explains nothing the root does not.
        """
        groups: list[list[tuple[PairFit, float, np.ndarray, np.ndarray]]] = []
        for verdict in passing:
            unit_ids = [i for i, (unit_site, _) in enumerate(units) if unit_site == verdict[0].other(site)]
            for group in groups:
                if verdict[3][unit_ids].any() or group[0][3][unit_ids].any():
                    group.append(verdict)
                    break
            else:
                groups.append([verdict])
        chosen = []
        for group in groups:
            pair, covered, family_blocks, _ = min(group, key=self._ranking(site, group))
            chosen.append((pair, covered, family_blocks))
        return chosen

    def _ranking(self, site: int, group: list[tuple[PairFit, float, np.ndarray, np.ndarray]]) -> Any:
        """The sort key of `_best_per_family` for one family's passing candidates."""
        fewest = min(pair.fit.informative - pair.fit.agreeing for pair, *_ in group)
        catalogues = self.index.catalogues

        def rank(verdict: tuple[PairFit, float, np.ndarray, np.ndarray]) -> tuple[float, ...]:
            pair, covered = verdict[0], verdict[1]
            extra = pair.fit.informative - pair.fit.agreeing - fewest
            inexact = extra > max(self.settings.disagreement_margin,
                                  self.settings.disagreement_share * pair.fit.informative)
            same_currency = catalogues[site].currency == catalogues[pair.other(site)].currency
            return (-covered, inexact, -round(pair.copied_ids, 1), -round(pair.same_names, 2),
                    max(0, decimals(pair.fit.markup) - 2) if same_currency else 0, -pair.fit.markup)

        return rank

    # --- the whole crawl --------------------------------------------------------

    def run(self) -> LinkResult:
        """Analyse every site, then turn outcomes into links and unknown-upstream clusters."""
        outcomes: dict[int, list[_Upstream | _Hidden | _Root]] = {}
        for site in range(len(self.index.sites)):
            outcomes[site] = self.analyse(site)
            self._forget(site)
        links: list[ResaleLink] = []
        for site, found in outcomes.items():
            for outcome in found:
                if isinstance(outcome, _Upstream):
                    links.append(self._link(site, outcome))
        sources = {outcome.upstream for found in outcomes.values() for outcome in found if isinstance(outcome, _Upstream)}
        clusters, fallbacks = self._clusters(outcomes, sources)
        for site, outcome in fallbacks:
            pair = self.fit(site, outcome.best) if outcome.best is not None else None
            if pair is not None:
                links.append(self._link(site, _Upstream(outcome.best, pair, outcome.coverage, weak=True)))
        together = {(a, b) for members in clusters for a in members for b in members}
        links = [link for link in links if (self._site_index[link.reseller], self._site_index[link.upstream])
                 not in together]
        result_clusters = []
        for members in clusters:
            cluster = self._unknown_upstream(members)
            result_clusters.append(cluster)
            links.extend(self._cluster_links(cluster, members))
        return LinkResult(links, result_clusters)

    def _clusters(self, outcomes: dict[int, list[_Upstream | _Hidden | _Root]], sources: set[int],
                  ) -> tuple[list[list[int]], list[tuple[int, _Hidden]]]:
        """Unknown-upstream clusters: sites with a sourceless family, joined with the family
        members that have no source for it either. Too small a cluster falls back to a weak link
        to the best candidate when that one lists enough."""
        relations: dict[int, set[int]] = {}
        has_hidden: set[int] = set()
        for site, found in outcomes.items():
            for outcome in found:
                if isinstance(outcome, (_Hidden, _Root)):
                    relations.setdefault(site, set()).update(outcome.members)
                if isinstance(outcome, _Hidden):
                    has_hidden.add(site)
        parent = {site: site for site in outcomes}

        def find(site: int) -> int:
            while parent[site] != site:
                parent[site] = parent[parent[site]]
                site = parent[site]
            return site

        hidden = []
        fallbacks = []
        for site, found in outcomes.items():
            for outcome in found:
                if not isinstance(outcome, _Hidden):
                    continue
                # A candidate that is the source of other sites and lists most of this one's
                # services is a noisy upstream, not a sibling: no cluster is invented around it.
                if outcome.best in sources and outcome.coverage >= self.settings.weak_coverage:
                    fallbacks.append((site, outcome))
                else:
                    hidden.append((site, outcome))
        for site, outcome in hidden:
            for member in outcome.members:
                sourceless = member not in sources or member in has_hidden
                if sourceless and site in relations.get(member, ()):
                    parent[find(site)] = find(member)
        groups: dict[int, list[int]] = {}
        for site in {site for site, _ in hidden} | {m for _, o in hidden for m in o.members}:
            groups.setdefault(find(site), []).append(site)
        clusters = [sorted(members) for members in groups.values()
                    if len(members) >= self.settings.min_cluster and any(m in has_hidden for m in members)]
        clustered = {site for members in clusters for site in members}
        fallbacks += [(site, outcome) for site, outcome in hidden
                      if site not in clustered and outcome.coverage >= self.settings.weak_coverage]
        return clusters, fallbacks

    # --- links ------------------------------------------------------------------

    def _link(self, site: int, outcome: _Upstream) -> ResaleLink:
        pair, upstream = outcome.pair, outcome.upstream
        catalogues, sites = self.index.catalogues, self.index.sites
        down, up = sites[site], sites[upstream]
        agreeing = np.flatnonzero(pair.fit.agrees & pair.fit.informative_mask)
        at_down, at_up = pair.at(site)[agreeing], pair.at(upstream)[agreeing]
        markup = pair.fit.markup if pair.cheaper == upstream else 1.0 / pair.fit.markup
        signals: dict[str, Any] = {
            "price": "same" if pair.same_price else "upstream cheaper",
            "upstream_services": int(self._shared[upstream]), "reseller_services": int(self._shared[site]),
            "ids": id_signals(up.ids[at_up], down.ids[at_down], up.cited[at_up], down.cited[at_down]),
        }
        if catalogues[site].history and catalogues[upstream].history:
            histories = [(catalogues[upstream].history.get(catalogues[upstream].listings[u].key, ()),
                          catalogues[site].history.get(catalogues[site].listings[d].key, ()))
                         for u, d in zip(up.rows[at_up].tolist(), down.rows[at_down].tolist())]
            signals["history"] = history_signals(histories, markup, self.settings.history_window)
        if outcome.weak:
            signals["note"] = "no sibling to form an unknown-upstream cluster with; upstream lists too few of its services"
        return ResaleLink(
            reseller=catalogues[site].site, upstream=catalogues[upstream].site, markup=markup,
            tiers=_tiers(pair.fit.tiers), matched=len(pair.at(site)), agreeing=pair.fit.agreeing,
            coverage=outcome.coverage,
            confidence=confidence(pair.weighted, pair.fit.agreement, outcome.coverage, self.settings),
            observations=_observation_pairs(up.observations[at_up], down.observations[at_down]), signals=signals,
        )

    def _levels(self, members: list[int]) -> dict[int, float]:
        """Each member's log price level relative to the others, walking consistent fits."""
        levels = {members[0]: 0.0}
        frontier = [members[0]]
        while frontier:
            site = frontier.pop()
            for other in members:
                if other in levels:
                    continue
                pair = self.fit(site, other)
                if pair is None or not pair.consistent:
                    continue
                step = math.log(pair.fit.markup)
                levels[other] = levels[site] + (step if pair.cheaper == site else -step)
                frontier.append(other)
        return levels

    def _unknown_upstream(self, members: list[int]) -> UnknownUpstream:
        levels = self._levels(members)
        base = min(levels.values())
        names = [self.index.catalogues[m].site for m in members]
        markups = {self.index.catalogues[m].site: round(math.exp(levels[m] - base), 4) for m in members if m in levels}
        return UnknownUpstream(cluster_id(names), sorted(names), markups)

    def _cluster_links(self, cluster: UnknownUpstream, members: list[int]) -> list[ResaleLink]:
        """Each member -> the cluster, with the evidence of its best agreement with a sibling."""
        links = []
        for site in members:
            pairs = [pair for other in members if other != site
                     and (pair := self.fit(site, other)) is not None and pair.consistent]
            if not pairs:
                continue
            best = max(pairs, key=lambda pair: pair.weighted)
            sibling = best.other(site)
            catalogues, sites = self.index.catalogues, self.index.sites
            agreeing = np.flatnonzero(best.fit.agrees & best.fit.informative_mask)
            name = catalogues[site].site
            links.append(ResaleLink(
                reseller=name, upstream=cluster.id, markup=cluster.markups.get(name, 1.0),
                tiers=_tiers(best.fit.tiers), matched=len(best.at(site)), agreeing=best.fit.agreeing,
                coverage=1.0, confidence=confidence(best.weighted, best.fit.agreement, 1.0, self.settings),
                observations=_observation_pairs(sites[sibling].observations[best.at(sibling)[agreeing]],
                                                sites[site].observations[best.at(site)[agreeing]]),
                signals={"sibling": catalogues[sibling].site, "members": cluster.members,
                         "markup_relative_to": min(cluster.markups, key=cluster.markups.__getitem__)},
                cluster=True,
            ))
        return links


def _observation_pairs(upstream: np.ndarray, reseller: np.ndarray) -> list[list[int | None]]:
    return [[None if a < 0 else a, None if b < 0 else b] for a, b in zip(upstream.tolist(), reseller.tolist())]


def _tiers(tiers: tuple[Tier, ...]) -> list[dict[str, Any]]:
    return [{"markup": tier.markup, "low": round(tier.low, 6), "high": round(tier.high, 6), "services": tier.services}
            for tier in tiers]


def link_catalogues(catalogues: list[Catalogue], settings: LinkSettings | None = None) -> LinkResult:
    """Resale links and unknown upstreams among `catalogues`."""
    settings = settings or LinkSettings()
    return Linker(build_index(catalogues, settings), settings).run()
