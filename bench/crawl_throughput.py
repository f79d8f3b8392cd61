"""Crawl throughput on a 200-site sandbox: `panelmap crawl` against a bare Scrapy spider.

The bare spider fetches exactly the requests panelmap made (same URLs, same API
calls) through the same proxy, with the same concurrency settings, but
captures, parses and stores nothing. Both run in this one invocation, each in
its own process (Scrapy's reactor runs once per process), so the machine's
load is alike for both; each is timed as a whole process, start-up included.
Prints pages/s for each, their ratio (target: panelmap at least 0.7 of the bare
spider), and the peak memory of panelmap's crawl and storage processes. Three
processes share this machine's cores, so one pair of runs varies by 0.1 either
way: the figure is the median ratio over `--rounds` pairs.

With the default `--latency-ms 0` every site answers at once, so both crawls
are bound by CPU alone (and share this machine's cores with the sandbox): the
ratio is then the cost of capture, extraction and storage per page. Real panel
sites take 100 ms and more to answer; `--latency-ms` shows how much of that
cost a crawl hides behind waiting.

    .venv/bin/python bench/crawl_throughput.py [--sites 200] [--render never] [--latency-ms 0] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from panelmap.sandbox.generate import generate_world
from panelmap.sandbox.secrets import write_secrets_file
from panelmap.sandbox.server import Sandbox

BARE_SPIDER = '''
import json, sys, time
import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from panelmap import settings as panelmap_settings

requests, proxy, out = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
seen = []  # when each answer arrived

class Bare(scrapy.Spider):
    name = "bare"
    async def start(self):
        for method, url, body in requests:
            yield scrapy.Request(url, method=method, body=body or b"", dont_filter=True, meta={"proxy": proxy},
                                 callback=self.done, errback=self.failed,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"} if body else None)
    def done(self, response):
        seen.append(time.time())
    def failed(self, failure):
        seen.append(time.time())

settings = Settings()
settings.setmodule(panelmap_settings)
settings.setdict({"DOWNLOADER_MIDDLEWARES": {}, "ITEM_PIPELINES": {}, "EXTENSIONS": {}, "LOG_LEVEL": "ERROR",
                  "HTTPERROR_ALLOW_ALL": True}, priority="cmdline")
process = CrawlerProcess(settings)
crawler = process.create_crawler(Bare)
process.crawl(crawler)
process.start()
json.dump({"responses": crawler.stats.get_stats().get("response_received_count", 0),
           "first": min(seen), "last": max(seen)}, open(out, "w"))
'''


def panelmap_requests(database: Path, world) -> list[tuple[str, str, str]]:
    """The requests panelmap made, rebuilt from its capture rows (API keys come from the
    world's secrets: the captures hold them redacted)."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT capture.method, capture.url, site.domain FROM capture JOIN site ON site.id = capture.site_id "
            "WHERE capture.kind = 'response' ORDER BY capture.id"
        ).fetchall()
    requests, api_calls = [], {}
    for method, url, domain in rows:
        if method == "POST":
            count = api_calls.get(url, 0)
            api_calls[url] = count + 1
            action = "balance" if count == 0 else "services"
            body = f"key={world.secrets[domain]['api_key']}&action={action}"
            requests.append(("POST", url, body))
        else:
            requests.append(("GET", url, ""))
    return requests


@dataclass
class Round:
    panelmap_pages: int
    panelmap_seconds: float
    panelmap_span: float  # first answer to last answer
    bare_pages: int
    bare_seconds: float
    bare_span: float
    stats: dict[str, Any]

    @property
    def ratio(self) -> float:
        return (self.panelmap_pages / self.panelmap_seconds) / (self.bare_pages / self.bare_seconds)

    @property
    def phase_ratio(self) -> float:
        return (self.panelmap_pages / self.panelmap_span) / (self.bare_pages / self.bare_span)


def run_round(scratch: Path, sandbox: Sandbox, world: Any, secrets: Path, render: str) -> Round:
    """`panelmap crawl` of every seed into a fresh database, then the bare spider over the same requests."""
    scratch.mkdir()
    database = scratch / "bench.db"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "panelmap", "-q", "--db", f"sqlite:///{database}", "crawl", "--proxy",
         sandbox.proxy_url, "--secrets", str(secrets), "--render", render, "--no-enrich", "--warc-dir",
         str(scratch / "captures"), *world.ground_truth["seeds"]],
        check=True,
    )
    panelmap_seconds = time.monotonic() - started
    with sqlite3.connect(database) as connection:
        stats = json.loads(connection.execute("SELECT stats FROM crawl_run").fetchone()[0])
        first, last = connection.execute("SELECT min(fetched_at), max(fetched_at) FROM capture").fetchone()

    (scratch / "requests.json").write_text(json.dumps(panelmap_requests(database, world)))
    (scratch / "bare.py").write_text(BARE_SPIDER)
    started = time.monotonic()
    subprocess.run([sys.executable, str(scratch / "bare.py"), str(scratch / "requests.json"), sandbox.proxy_url,
                    str(scratch / "bare.json")], check=True)
    bare_seconds = time.monotonic() - started
    bare = json.loads((scratch / "bare.json").read_text())
    return Round(
        panelmap_pages=stats["response_received_count"], panelmap_seconds=panelmap_seconds,
        panelmap_span=(datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds(),
        bare_pages=bare["responses"], bare_seconds=bare_seconds, bare_span=bare["last"] - bare["first"], stats=stats,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--render", default="never", choices=["never", "auto"])
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="time each sandbox site takes to answer (default 0: the crawl is bound by CPU alone)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="panelmap-then-bare pairs; the ratio's median is the figure (default 5)")
    args = parser.parse_args()

    world = generate_world(seed=1, sites=args.sites)
    print(f"sandbox: {args.sites} sites, render={args.render}, each answer after {args.latency_ms} ms")
    rounds = []
    with tempfile.TemporaryDirectory() as scratch, \
            Sandbox(world, Path(scratch) / "sandbox", latency=args.latency_ms / 1000) as sandbox:
        secrets = write_secrets_file(world, Path(scratch) / "secrets.toml")
        for number in range(1, args.rounds + 1):
            done = run_round(Path(scratch) / f"round-{number}", sandbox, world, secrets, args.render)
            rounds.append(done)
            storage = done.stats.get("storage", {})
            print(f"round {number}: panelmap {done.panelmap_pages} pages in {done.panelmap_seconds:.1f} s "
                  f"({done.panelmap_pages / done.panelmap_seconds:.0f} pages/s; crawl phase "
                  f"{done.panelmap_span:.1f} s), bare {done.bare_pages} in {done.bare_seconds:.1f} s "
                  f"({done.bare_pages / done.bare_seconds:.0f} pages/s; crawl phase {done.bare_span:.1f} s): "
                  f"ratio {done.ratio:.2f}, crawl phase {done.phase_ratio:.2f}; "
                  f"CPU: crawl process {done.stats.get('cpu_seconds')} s, storage process "
                  f"{storage.get('cpu_seconds')} s, {storage.get('failed_messages')} failed; "
                  f"peak memory: crawl {done.stats.get('max_rss_mib')} MiB, "
                  f"storage {storage.get('max_rss_mib')} MiB")
    ratios = sorted(done.ratio for done in rounds)
    phase_ratios = sorted(done.phase_ratio for done in rounds)
    print(f"ratio panelmap / bare, median of {len(rounds)}: {statistics.median(ratios):.2f} "
          f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}; target >= 0.70)")
    # The same, from the first answer to the last: start-up and shutdown left out of both.
    print(f"crawl phase only, median: {statistics.median(phase_ratios):.2f} "
          f"(range {phase_ratios[0]:.2f}-{phase_ratios[-1]:.2f})")
    crawl_peak = max(done.stats.get("max_rss_mib", 0) for done in rounds)
    storage_peak = max(done.stats.get("storage", {}).get("max_rss_mib", 0) for done in rounds)
    print(f"panelmap peak memory (largest of the rounds): crawl process {crawl_peak} MiB, storage process "
          f"{storage_peak} MiB")


if __name__ == "__main__":
    main()
