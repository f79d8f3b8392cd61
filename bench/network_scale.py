"""How the reseller linker scales: 500, 1,000 and 2,000 synthetic panels of about 1,500
services each, names, limits and prices drawn from the real price lists the sandbox ships.

    .venv/bin/python bench/network_scale.py                 # all sizes, each in its own process
    .venv/bin/python bench/network_scale.py --sizes 500     # one size

The world: upstreams (a tenth of them never crawled) with about 2,500 services each, as
popular as a Zipf law makes them (the largest family holds a fifth of all panels, as
JustAnotherPanel's thousand resellers do); panels reselling one upstream (70%), two (15%),
a reseller (10%), or selling on their own at unrelated prices (5%); markups, currencies, roundings, id schemes and renamings as
the sandbox draws them. Each size runs in a fresh process so that its peak memory is its
own. The baseline is the naive linker's matching step at the smallest size: every service
of every panel compared with every service of every other panel, timed on a sample of
panel pairs and extrapolated to all pairs. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import subprocess
import sys
import time
from decimal import ROUND_HALF_UP, Decimal

from panelmap.network.catalogue import Catalogue, Listing
from panelmap.network.linker import link_catalogues
from panelmap.network.matching import name_signature
from panelmap.sandbox.catalogue import PRICE_LISTS, load_price_list

USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "INR": 0.012, "TRY": 0.031}
MARKUPS = ("1.08", "1.1", "1.2", "1.25", "1.3", "1.5", "1.75", "2", "2.5", "3")
SERVICES_PER_PANEL = 1500
SERVICES_PER_UPSTREAM = 2500


def _pool() -> list[tuple[str, int, int, float]]:
    """(name, min, max, rate) of every service in the real price lists."""
    return [(s.name, s.min, s.max, float(s.rate)) for key in PRICE_LISTS for s in load_price_list(key) if s.rate > 0]


def _round(value: float, places: int) -> float:
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def make_world(panels: int, seed: int = 1) -> tuple[list[Catalogue], set[tuple[str, str]]]:
    """Catalogues and the true (reseller, upstream or "UNKNOWN") links."""
    rng = random.Random(seed)
    pool = _pool()
    upstream_count = max(4, panels // 40)
    upstreams: list[list[tuple[str, str, int, int, float]]] = []
    for number in range(upstream_count):
        picks = rng.sample(pool, min(len(pool), SERVICES_PER_UPSTREAM))
        factor = rng.uniform(0.8, 1.2)
        # Each upstream's own services: real names with its server tag, its own ids and prices.
        upstreams.append([(str(1000 + i), f"{name} [S{number}-{i % 9}]", low, high, _round(rate * factor, 4))
                          for i, (name, low, high, rate) in enumerate(picks)])
    hidden = set(rng.sample(range(1, upstream_count), max(1, upstream_count // 10)))
    popularity = [1 / (rank + 1) for rank in range(upstream_count)]
    catalogues = [Catalogue(f"upstream{n}.example", [Listing(k, nm, r, r, lo, hi) for k, nm, lo, hi, r in services])
                  for n, services in enumerate(upstreams) if n not in hidden]
    truth: set[tuple[str, str]] = set()
    resellers: list[tuple[str, list[tuple[str, str, int, int, float]]]] = []

    def feed(source, size, currency, places, markup, scheme, rename, start):
        out = []
        for offset, (key, name, low, high, rate) in enumerate(rng.sample(source, min(size, len(source)))):
            own = key if scheme == "keep" else str(int(key) + 5000) if scheme == "offset" else str(start + offset)
            shown = f"{name} 🔥" if rename == "emoji" else f"ID {own} - {name}" if rename == "id_prefix" else name
            local = _round(rate * float(markup) / USD_PER_UNIT[currency], places)
            out.append((own, shown, low, high, local))
        return out

    while len(catalogues) < panels:
        domain = f"panel{len(catalogues)}.example"
        currency = rng.choice(("USD", "USD", "USD", "EUR", "INR", "TRY"))
        places = rng.choice((2, 2, 4)) if currency == "USD" else 2
        scheme = rng.choice(("keep", "offset", "sequential"))
        rename = rng.choice(("keep", "keep", "emoji", "id_prefix"))
        kind = rng.random()
        services: list[tuple[str, str, int, int, float]] = []
        if kind < 0.70 or (kind < 0.95 and not resellers):
            root = rng.choices(range(upstream_count), popularity)[0]
            services = feed(upstreams[root], SERVICES_PER_PANEL, currency, places, rng.choice(MARKUPS), scheme, rename, 1)
            truth.add((domain, "UNKNOWN" if root in hidden else f"upstream{root}.example"))
        elif kind < 0.85:
            first, second = rng.choices(range(upstream_count), popularity)[0], rng.randrange(upstream_count)
            second = (first + 1 + second) % upstream_count if second == first else second
            services = feed(upstreams[first], 1000, currency, places, rng.choice(MARKUPS), "sequential", rename, 1)
            services += feed(upstreams[second], 500, currency, places, rng.choice(MARKUPS), "sequential", rename, 2000)
            truth |= {(domain, "UNKNOWN" if n in hidden else f"upstream{n}.example") for n in (first, second)}
        elif kind < 0.95:
            parent, parent_services = rng.choice(resellers)
            usd = [(k, n, lo, hi, r * USD_PER_UNIT[currency]) for k, n, lo, hi, r in parent_services]
            services = feed(usd, SERVICES_PER_PANEL // 2, "USD", 2, rng.choice(("1.1", "1.2", "1.3")), "keep", "keep", 1)
            currency = "USD"
            truth.add((domain, parent))
        else:
            services = [(str(i), name, rng.choice((10, 50, 100)), rng.choice((5000, 50000)), _round(rate * rng.uniform(0.5, 4), 2))
                        for i, (name, _, _, rate) in enumerate(rng.sample(pool, SERVICES_PER_PANEL))]
        if kind < 0.95 and currency == "USD":
            resellers.append((domain, services))
        catalogues.append(Catalogue(domain, [Listing(k, n, r, r * USD_PER_UNIT[currency], lo, hi)
                                             for k, n, lo, hi, r in services], currency))
    return catalogues, truth


def naive_pair(first: Catalogue, second: Catalogue) -> int:
    """The naive matching step: every service of one panel against every service of the other."""
    matched = 0
    for a in first.listings:
        key_a = (name_signature(a.name)[0], a.min, a.max)
        for b in second.listings:
            if key_a == (name_signature(b.name)[0], b.min, b.max):
                matched += 1
    return matched


def run_size(panels: int, baseline: bool) -> dict[str, float]:
    started = time.perf_counter()
    catalogues, truth = make_world(panels)
    built = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = link_catalogues(catalogues)
    seconds = time.perf_counter() - started
    found = {(link.reseller, "UNKNOWN" if link.cluster else link.upstream) for link in result.links}
    hits = len(found & truth)
    figures = {
        "panels": panels, "services": sum(len(c.listings) for c in catalogues), "world_seconds": round(built, 1),
        "link_seconds": round(seconds, 1), "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_before_link_mib": round(rss_before), "links": len(result.links), "clusters": len(result.clusters),
        "precision": round(hits / max(1, len(found)), 3), "recall": round(hits / max(1, len(truth)), 3),
    }
    if baseline:
        rng = random.Random(2)
        sample = [tuple(rng.sample(catalogues, 2)) for _ in range(3)]
        started = time.perf_counter()
        for first, second in sample:
            naive_pair(first, second)
        per_pair = (time.perf_counter() - started) / len(sample)
        figures["naive_seconds_per_pair"] = round(per_pair, 2)
        figures["naive_seconds_all_pairs"] = round(per_pair * panels * (panels - 1) / 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run one size in this process
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args.one, args.baseline)))
        return
    results = []
    for index, size in enumerate(sorted(args.sizes)):
        command = [sys.executable, __file__, "--one", str(size)] + (["--baseline"] if index == 0 else [])
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        figures = results[-1]
        print(f"{figures['panels']:>5} panels, {figures['services']:>9,} services: link {figures['link_seconds']:>6.1f} s, "
              f"peak RSS {figures['peak_rss_mib']:>5} MiB ({figures['rss_before_link_mib']} MiB before linking), "
              f"{figures['links']} links, {figures['clusters']} unknown upstreams, "
              f"precision {figures['precision']}, recall {figures['recall']}", flush=True)
        if "naive_seconds_per_pair" in figures:
            ratio = figures["naive_seconds_all_pairs"] / max(figures["link_seconds"], 1e-9)
            print(f"      naive all-pairs baseline at {size}: {figures['naive_seconds_per_pair']} s per panel pair, "
                  f"~{figures['naive_seconds_all_pairs']:,} s for all pairs = {ratio:,.0f}x the linker", flush=True)
    for previous, current in itertools.pairwise(results):
        print(f"growth {previous['panels']} -> {current['panels']} panels: time x"
              f"{current['link_seconds'] / max(previous['link_seconds'], 1e-9):.2f}, peak memory x"
              f"{current['peak_rss_mib'] / max(previous['peak_rss_mib'], 1):.2f}")


if __name__ == "__main__":
    main()
