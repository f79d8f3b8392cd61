"""The reseller -> upstream linker on a small hand-built world whose answers are known."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from panelmap.network.catalogue import Catalogue, Listing, PricePoint
from panelmap.network.linker import link_catalogues
from panelmap.network.markup import fit_markup
from panelmap.network.matching import build_index, name_signature, rounding_step
from panelmap.network.settings import LinkSettings

PLATFORMS = ("Instagram Followers", "Instagram Likes", "YouTube Views", "TikTok Likes", "Spotify Plays",
             "Twitter Retweets", "Telegram Members", "Facebook Page Likes")
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def _round(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def upstream_catalogue(site: str, count: int, seed: int, first_id: int = 1000) -> list[dict]:
    """`count` distinct services with realistic names, limits and four-decimal prices."""
    rng = random.Random(seed)
    services = []
    for index in range(count):
        product = PLATFORMS[index % len(PLATFORMS)]
        name = f"{product} [{rng.choice((5, 10, 20, 50))}K] [R{rng.choice((30, 60, 90))}] [{site[:4]}{index} Speed]"
        low = rng.choice((10, 50, 100))
        services.append({"key": str(first_id + index), "name": name, "rate": _round(Decimal(rng.uniform(0.3, 40)), "0.0001"),
                         "min": low, "max": low * rng.choice((100, 1000))})
    return services


def resell(upstream: list[dict], markup: str, picks: list[int], *, keep_ids: bool = True, rename: str = "",
           places: str = "0.01", first_id: int = 1) -> list[dict]:
    """A reseller's copies of some upstream services: same names (perhaps decorated) and limits,
    price = round(upstream x markup)."""
    out = []
    for number, index in enumerate(picks):
        service = upstream[index]
        out.append({**service, "key": service["key"] if keep_ids else str(first_id + number),
                    "name": f"{rename}{service['name']}", "rate": _round(service["rate"] * Decimal(markup), places)})
    return out


def catalogue(site: str, services: list[dict], history: dict[str, list[PricePoint]] | None = None) -> Catalogue:
    listings = [Listing(s["key"], s["name"], float(s["rate"]), float(s["rate"]), s["min"], s["max"],
                        observation_id=hash((site, s["key"])) % 10**9) for s in services]
    return Catalogue(site, listings, "USD", history or {})


def hand_built_world() -> list[Catalogue]:
    """Known answers:
    - r1.test -> root.test x1.5 (own ids); r3.test -> r1.test x1.1 (a reseller of a reseller
      keeping r1's ids: prices alone cannot tell it from a x1.65 reseller of the root);
    - r2.test -> root.test x1.2 and -> second.test x1.3 (two upstreams);
    - r4.test -> root.test re-pricing one category: x1.4 and x1.8;
    - s1/s2/s3.test resell hidden.test (never crawled) at x1.2/x1.5/x2: an unknown upstream;
    - decoy.test sells root.test's names and limits at unrelated prices: no link."""
    rng = random.Random(7)
    root = upstream_catalogue("root", 80, 1)
    second = upstream_catalogue("second", 40, 2, first_id=5000)
    hidden = upstream_catalogue("hidden", 70, 3, first_id=9000)
    r1 = resell(root, "1.5", sorted(rng.sample(range(80), 50)), keep_ids=False, first_id=300)
    r3 = resell(r1, "1.1", sorted(rng.sample(range(len(r1)), 30)))
    r2 = resell(root, "1.2", sorted(rng.sample(range(80), 30)), keep_ids=False, rename="🔥 ") + \
        resell(second, "1.3", sorted(rng.sample(range(40), 25)), keep_ids=False, first_id=500)
    picks = sorted(rng.sample(range(80), 45))
    r4 = resell(root, "1.4", picks[:30]) + resell(root, "1.8", picks[30:])
    siblings = [resell(hidden, markup, sorted(rng.sample(range(70), 40)), keep_ids=False, first_id=100 * n)
                for n, markup in enumerate(("1.2", "1.5", "2"), start=1)]
    decoy = [{**s, "key": str(7000 + i), "rate": _round(s["rate"] * Decimal(str(round(rng.uniform(0.5, 4), 3))))}
             for i, s in enumerate(root[:40])]
    return [catalogue("root.test", root), catalogue("second.test", second), catalogue("r1.test", r1),
            catalogue("r2.test", r2), catalogue("r3.test", r3), catalogue("r4.test", r4),
            catalogue("s1.test", siblings[0]), catalogue("s2.test", siblings[1]), catalogue("s3.test", siblings[2]),
            catalogue("decoy.test", decoy)]


@pytest.fixture(scope="module")
def result():
    return link_catalogues(hand_built_world())


def _links(result) -> dict[tuple[str, str], object]:
    return {(link.reseller, "UNKNOWN" if link.cluster else link.upstream): link for link in result.links}


def test_links_and_their_direction(result) -> None:
    links = _links(result)
    assert set(links) == {
        ("r1.test", "root.test"), ("r3.test", "r1.test"), ("r2.test", "root.test"), ("r2.test", "second.test"),
        ("r4.test", "root.test"), ("s1.test", "UNKNOWN"), ("s2.test", "UNKNOWN"), ("s3.test", "UNKNOWN"),
    }
    assert links[("r1.test", "root.test")].markup == pytest.approx(1.5, abs=0.01)
    assert links[("r3.test", "r1.test")].markup == pytest.approx(1.1, abs=0.01)  # not x1.65 to the root
    assert links[("r2.test", "second.test")].markup == pytest.approx(1.3, abs=0.01)


def test_unknown_upstream_cluster(result) -> None:
    (cluster,) = result.clusters
    assert cluster.members == ["s1.test", "s2.test", "s3.test"]
    assert cluster.markups["s1.test"] == 1.0
    assert cluster.markups["s2.test"] == pytest.approx(1.25, abs=0.01)
    assert cluster.markups["s3.test"] == pytest.approx(2 / 1.2, abs=0.01)


def test_decoy_sharing_names_but_no_markup_is_not_linked(result) -> None:
    assert not [link for link in result.links if "decoy.test" in (link.reseller, link.upstream)]


def test_partial_repricing_gives_markup_tiers(result) -> None:
    link = _links(result)[("r4.test", "root.test")]
    assert [tier["markup"] for tier in link.tiers] == pytest.approx([1.4, 1.8], abs=0.01)
    assert link.agreeing >= 40


def test_every_link_carries_its_evidence(result) -> None:
    for link in result.links:
        assert 0 < link.confidence <= 1
        assert link.agreeing >= 8 and len(link.observations) == link.agreeing
        assert all(isinstance(pair[0], int) and isinstance(pair[1], int) for pair in link.observations)
        evidence = link.evidence()
        assert {"tiers", "matched", "agreeing", "coverage", "observations", "signals"} <= set(evidence)
    r3 = _links(result)[("r3.test", "r1.test")]
    assert r3.signals["ids"]["same_id"] == r3.agreeing


def test_price_history_shows_the_reseller_following() -> None:
    world = hand_built_world()
    root, r1 = world[0], world[2]
    day = timedelta(days=1)
    by_name = {listing.name: listing for listing in root.listings}
    for listing in r1.listings:
        upstream = by_name[listing.name]
        old_up, old_down = upstream.price, listing.price
        root.history[upstream.key] = [PricePoint(T0, old_up * 0.9), PricePoint(T0 + 2 * day, old_up)]
        r1.history[listing.key] = [PricePoint(T0 + day * 0.1, float(_round(Decimal(old_up * 0.9 * 1.5)))),
                                   PricePoint(T0 + 2 * day + day * 0.2, old_down)]
    link = next(link for link in link_catalogues(world).links if link.reseller == "r1.test")
    history = link.signals["history"]
    assert history["followed"] >= 40 and history["ignored"] == 0 and history["moments"] >= 80


def test_renamed_and_rebranded_names_share_a_signature() -> None:
    assert name_signature("ID 1211 - Youtube Views [Lifetime] 🔥")[0] == name_signature("Youtube Views [Lifetime]")[0]
    assert name_signature("ID 1211 - Youtube Views [Lifetime]")[1] == "1211"
    assert name_signature("[R30] [1H] Instagram Likes")[0] == name_signature("Instagram Likes [R30] [1H]")[0]
    assert name_signature("𝐒𝐩𝐨𝐭𝐢𝐟𝐲 Plays")[0] == "plays spotify"
    index = build_index([
        catalogue("a.test", [{"key": "1", "name": "TikTok Views [1M] [JAP EXCLUSIVE] [Instant] Fast", "rate": 1,
                              "min": 10, "max": 100}]),
        catalogue("b.test", [{"key": "1", "name": "TikTok Views [1M] [BOOST EXCLUSIVE] [Instant] Fast", "rate": 2,
                              "min": 10, "max": 100}]),
    ])
    assert index.sites[0].blocks[0] == index.sites[1].blocks[0]


def test_fit_is_exact_under_rounding_and_deaf_to_outliers() -> None:
    rng = np.random.default_rng(3)
    up = np.round(rng.uniform(0.5, 50, 200), 4)
    down = np.round(up * 1.35, 2)
    down[:20] *= rng.uniform(1.5, 3, 20)  # hand-priced services
    fit = fit_markup(up, down, np.full(200, 0.01), LinkSettings())
    assert fit is not None and fit.markup == 1.35
    assert fit.agreeing == 180 and fit.agreement == pytest.approx(0.9)


def test_rounding_step_of_a_site() -> None:
    assert rounding_step(np.array([1.25, 0.5, 3.1])) == 0.01
    assert rounding_step(np.array([1.1025, 0.0135, 3.0])) == 0.0001
    assert rounding_step(np.array([1.29, 0.39, 12.49, 2.09])) == 0.1
