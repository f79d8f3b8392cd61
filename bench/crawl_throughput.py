"""Crawl throughput on a 200-site sandbox: `panelmap crawl` against a bare Scrapy spider.

The bare spider fetches exactly the requests panelmap made (same URLs, same API
calls) through the same proxy, with the same concurrency settings, but
captures, parses and stores nothing. Both run in this one invocation, each in
its own process (Scrapy's reactor runs once per process), so the machine's
load is alike for both; each is timed as a whole process, start-up included.
Prints pages/s for each, their ratio (target: panelmap at least 0.7 of the bare
spider), and the peak memory of panelmap's crawl and storage processes.

With the default `--latency-ms 0` every site answers at once, so both crawls
are bound by CPU alone (and share this machine's cores with the sandbox): the
ratio is then the cost of capture, extraction and storage per page. Real panel
sites take 100 ms and more to answer; `--latency-ms` shows how much of that
cost a crawl hides behind waiting.

    .venv/bin/python bench/crawl_throughput.py [--sites 200] [--render never] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

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


def max_rss_mb_of_children() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--render", default="never", choices=["never", "auto"])
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="time each sandbox site takes to answer (default 0: the crawl is bound by CPU alone)")
    args = parser.parse_args()

    world = generate_world(seed=1, sites=args.sites)
    seeds = world.ground_truth["seeds"]
    latency = args.latency_ms / 1000
    with tempfile.TemporaryDirectory() as scratch, Sandbox(world, Path(scratch) / "sandbox", latency=latency) as sandbox:
        scratch = Path(scratch)
        secrets = write_secrets_file(world, scratch / "secrets.toml")
        database = scratch / "bench.db"
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "panelmap", "-q", "--db", f"sqlite:///{database}", "crawl", "--proxy",
             sandbox.proxy_url, "--secrets", str(secrets), "--render", args.render, "--no-enrich", "--warc-dir",
             str(scratch / "captures"), *seeds],
            check=True,
        )
        panelmap_seconds = time.monotonic() - started
        panelmap_rss = max_rss_mb_of_children()
        with sqlite3.connect(database) as connection:
            stats = json.loads(connection.execute("SELECT stats FROM crawl_run").fetchone()[0])
            first, last = connection.execute("SELECT min(fetched_at), max(fetched_at) FROM capture").fetchone()
        panelmap_pages = stats["response_received_count"]

        requests = panelmap_requests(database, world)
        (scratch / "requests.json").write_text(json.dumps(requests))
        (scratch / "bare.py").write_text(BARE_SPIDER)
        started = time.monotonic()
        subprocess.run([sys.executable, str(scratch / "bare.py"), str(scratch / "requests.json"), sandbox.proxy_url,
                        str(scratch / "bare.json")], check=True)
        bare = {**json.loads((scratch / "bare.json").read_text()), "seconds": time.monotonic() - started}

    panelmap_rate = panelmap_pages / panelmap_seconds
    bare_rate = bare["responses"] / bare["seconds"]
    print(f"sandbox: {len(seeds)} sites, render={args.render}, each answer after {args.latency_ms} ms")
    print(f"panelmap crawl: {panelmap_pages} pages in {panelmap_seconds:.1f} s = {panelmap_rate:.1f} pages/s "
          f"(capture, extraction, storage)")
    print(f"bare Scrapy spider: {bare['responses']} pages in {bare['seconds']:.1f} s = {bare_rate:.1f} pages/s")
    print(f"ratio panelmap / bare: {panelmap_rate / bare_rate:.2f} (target >= 0.70)")
    # The same, from the first answer to the last: start-up and shutdown left out of both.
    panelmap_span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    bare_span = bare["last"] - bare["first"]
    print(f"crawl phase only: panelmap {panelmap_pages / panelmap_span:.1f} pages/s ({panelmap_span:.1f} s), "
          f"bare {bare['responses'] / bare_span:.1f} pages/s ({bare_span:.1f} s), "
          f"ratio {(panelmap_pages / panelmap_span) / (bare['responses'] / bare_span):.2f}")
    storage = stats.get("storage", {})
    print(f"panelmap peak memory: crawl process {stats.get('memusage/max', 0) / 2**20:.0f} MiB (Scrapy "
          f"memusage/max), storage process {storage.get('max_rss_mib', 0)} MiB; largest child RSS "
          f"{panelmap_rss:.0f} MiB")
    print(f"storage process: {storage.get('cpu_seconds')} s CPU for {storage.get('messages')} messages, "
          f"{storage.get('failed_messages')} failed")


if __name__ == "__main__":
    main()
