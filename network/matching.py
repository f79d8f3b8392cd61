"""Which services of different panels are the same upstream service, without comparing
every service with every other.

A reseller imports its upstream's services and keeps their min and max; it may
decorate the name (emoji, "ID 123 - " prefixes, reordered bracket groups, its own
brand for the upstream's). So a service is keyed by its name's token set (casefolded,
NFKC, the leading id cut off) plus min and max, and keys that differ by one
non-numeric token (a brand swapped in) are merged through a deletion index, the
SymSpell trick on tokens: every key also files itself under each of its
one-token-shorter variants, and two keys meet when they share a variant. Only
distinct keys are compared, never listings, so a service copied by a thousand
resellers costs one key. Groups of merged keys are "blocks": one upstream service as
the whole crawl sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from panelmap.spiders.taxonomy import classify, normalise

from .catalogue import Catalogue
from .settings import LinkSettings

_LEADING_ID = re.compile(r"^\W*(?:id\W*)?(\d{1,9})\s*(?:[-~:|)\]]\s*)+", re.IGNORECASE)
_TOKEN = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=1 << 18)
def name_signature(name: str) -> tuple[str, str | None]:
    """(sorted distinct tokens joined by spaces, the id the name starts with) of a service name.

    "ID 1211 - Youtube Views [Lifetime] 🔥" and "Youtube Views [Lifetime]" share the signature
    "lifetime views youtube"; the first also cites id "1211", which tells whose id a reseller kept.
    """
    text = normalise(name).casefold()
    cited = None
    # A reseller may prefix its own id to a name that already carries its upstream's.
    while (match := _LEADING_ID.match(text)) and match.end() < len(text):
        cited, text = cited or match.group(1), text[match.end():]
    return " ".join(sorted(set(_TOKEN.findall(text)))), cited


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


@dataclass
class SiteBlocks:
    """One site's services as blocks: sorted block ids, and per block the listing it came
    from (the first, when a site lists one service twice), its price and its tolerance."""

    blocks: np.ndarray  # int64, sorted, unique
    rows: np.ndarray  # int32 index into the catalogue's listings
    prices: np.ndarray  # float64: USD when known, else the site's currency
    step: np.ndarray  # float64: the site's rounding step for each price, in the same unit
    cited: np.ndarray  # int64: the id each listing's name starts with, -1 if none
    ids: np.ndarray  # int64: the panel's service id when numeric, -1 otherwise
    keys: np.ndarray  # int64: the exact (signature, min, max) key before fuzzy merging
    observations: np.ndarray  # int64: the listing's observation id, -1 if none


@dataclass
class ServiceIndex:
    """Blocks of the same service across sites, in both directions: site -> blocks and
    block -> sites (CSR arrays), with how specific each block is."""

    catalogues: list[Catalogue]
    sites: list[SiteBlocks]
    block_indptr: np.ndarray
    block_sites: np.ndarray
    specificity: np.ndarray  # float64 per block, 0..1: long names say more than "Instagram Likes"

    @property
    def degree(self) -> np.ndarray:
        """How many sites list each block."""
        return np.diff(self.block_indptr)

    def sites_listing(self, blocks: np.ndarray) -> np.ndarray:
        """The site indices behind `blocks`, one per (block, site): a ragged gather."""
        starts = self.block_indptr[blocks]
        lengths = self.block_indptr[blocks + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self.block_sites[offsets + np.arange(total)]


def rounding_step(rates: np.ndarray) -> float:
    """The price step a site rounds to (0.01 for cents, 0.0001 for four decimals), from its
    rates; a site pricing up to the next x.x9 moves prices by up to a tenth."""
    positive = rates[rates > 0]
    if positive.size == 0:
        return 0.01
    chosen = 0.0001
    for step in (1.0, 0.1, 0.01, 0.001, 0.0001):
        scaled = positive / step
        if np.mean(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, scaled)) >= 0.95:
            chosen = step
            break
    if chosen <= 0.01 and np.mean(np.round(positive * 100) % 10 == 9) >= 0.8:
        return 0.1
    return chosen


def _numeric_key(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) <= 18 else -1


class _KeyTable:
    """Distinct (signature, min, max) keys, numbered in order of first sight."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, int, int], int] = {}
        self.keys: list[tuple[str, int, int]] = []

    def id_of(self, key: tuple[str, int, int]) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.keys)
            self.keys.append(key)
        return found


def _fuzzy_candidates(keys: list[tuple[str, int, int]], min_tokens: int) -> list[tuple[int, int]]:
    """Pairs of keys whose token sets differ by one token (added, dropped or swapped)."""
    variants: dict[tuple[str, int, int], list[int]] = {}
    for key_id, (signature, low, high) in enumerate(keys):
        tokens = signature.split(" ")
        if len(tokens) + 1 < min_tokens:
            continue
        variants.setdefault((signature, low, high), []).append(key_id)
        if len(tokens) >= min_tokens:
            for index in range(len(tokens)):
                shorter = " ".join(tokens[:index] + tokens[index + 1:])
                variants.setdefault((shorter, low, high), []).append(key_id)
    pairs = set()
    for members in variants.values():
        if 1 < len(members) <= 8:  # a variant shared by many keys is a generic stem, not a rename
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    if a != b:
                        pairs.add((min(a, b), max(a, b)))
    return sorted(pairs)


def _same_service(a: str, b: str) -> bool:
    """Whether two one-token-apart signatures may name one service: the differing tokens carry
    no number (sizes, speeds, refill days) and the taxonomy reads both alike."""
    tokens_a, tokens_b = set(a.split(" ")), set(b.split(" "))
    if any(_DIGIT.search(token) for token in tokens_a ^ tokens_b):
        return False
    first, second = classify(a), classify(b)
    return (first.platform, first.metric, first.geo) == (second.platform, second.metric, second.geo)


def build_index(catalogues: list[Catalogue], settings: LinkSettings | None = None) -> ServiceIndex:
    """Block every listing of every catalogue: linear in listings, plus the fuzzy merge over
    distinct keys."""
    settings = settings or LinkSettings()
    table = _KeyTable()
    per_site_keys: list[np.ndarray] = []
    per_site_cited: list[np.ndarray] = []
    for catalogue in catalogues:
        key_ids = np.empty(len(catalogue.listings), dtype=np.int64)
        cited = np.empty(len(catalogue.listings), dtype=np.int64)
        for row, listing in enumerate(catalogue.listings):
            signature, cited_id = name_signature(listing.name)
            key_ids[row] = table.id_of((signature, listing.min if listing.min is not None else -1,
                                        listing.max if listing.max is not None else -1))
            cited[row] = _numeric_key(cited_id)
        per_site_keys.append(key_ids)
        per_site_cited.append(cited)

    union = _UnionFind(len(table.keys))
    candidates = _fuzzy_candidates(table.keys, settings.fuzzy_min_tokens)
    if candidates:
        involved = np.unique(np.array(candidates, dtype=np.int64).ravel())
        listed_by: dict[int, set[int]] = {}
        for site, key_ids in enumerate(per_site_keys):
            for key_id in np.unique(key_ids[np.isin(key_ids, involved)]).tolist():
                listed_by.setdefault(key_id, set()).add(site)
        for a, b in candidates:
            # Two keys one site lists side by side are two services ("[USA]" and "[UK]").
            if listed_by[a].isdisjoint(listed_by[b]) and _same_service(table.keys[a][0], table.keys[b][0]):
                union.union(a, b)
    roots = np.fromiter((union.find(i) for i in range(len(table.keys))), dtype=np.int64, count=len(table.keys))
    block_of_key = np.unique(roots, return_inverse=True)[1].astype(np.int64)
    token_counts = np.fromiter((len(key[0].split(" ")) if key[0] else 0 for key in table.keys),
                               dtype=np.float64, count=len(table.keys))
    specificity = np.zeros(int(block_of_key.max()) + 1 if len(block_of_key) else 0)
    np.maximum.at(specificity, block_of_key, np.minimum(1.0, token_counts / 6.0))

    sites: list[SiteBlocks] = []
    pairs_block: list[np.ndarray] = []
    pairs_site: list[np.ndarray] = []
    for site, catalogue in enumerate(catalogues):
        blocks, rows = np.unique(block_of_key[per_site_keys[site]], return_index=True)
        rates = np.fromiter((listing.rate for listing in catalogue.listings), dtype=np.float64,
                            count=len(catalogue.listings))
        prices = np.fromiter((listing.price for listing in catalogue.listings), dtype=np.float64,
                             count=len(catalogue.listings))
        step = rounding_step(rates)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_unit = np.where(rates > 0, prices / rates, 1.0)
        listings = [catalogue.listings[row] for row in rows.tolist()]
        ids = np.fromiter((_numeric_key(listing.key) for listing in listings), dtype=np.int64, count=len(listings))
        observations = np.fromiter((-1 if listing.observation_id is None else listing.observation_id
                                    for listing in listings), dtype=np.int64, count=len(listings))
        sites.append(SiteBlocks(blocks, rows.astype(np.int32), prices[rows], (step * per_unit)[rows],
                                per_site_cited[site][rows], ids, per_site_keys[site][rows], observations))
        pairs_block.append(blocks)
        pairs_site.append(np.full(len(blocks), site, dtype=np.int64))
    all_blocks = np.concatenate(pairs_block) if pairs_block else np.empty(0, dtype=np.int64)
    all_sites = np.concatenate(pairs_site) if pairs_site else np.empty(0, dtype=np.int64)
    order = np.argsort(all_blocks, kind="stable")
    indptr = np.zeros(len(specificity) + 1, dtype=np.int64)
    np.cumsum(np.bincount(all_blocks, minlength=len(specificity)), out=indptr[1:])
    return ServiceIndex(catalogues, sites, indptr, all_sites[order], specificity)
