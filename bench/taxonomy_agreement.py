"""Agreement of `taxonomy.classify` with the labels of the smmpanels dataset.

The labelled CSVs (Nevado-Catalán et al., 2023) give each service a `Site`
(target platform) and a `Product` (what is sold), set by the authors' keyword
rules. Their vocabulary differs from ours, so each of their labels maps to the
set of our values it may stand for (their "Google" covers Google Business
reviews, Google Play Music and Play Store installs; their "follower" covers Spotify playlist
followers). Rows they left unlabelled ("" or "Empty Value") are not counted.

    .venv/bin/python bench/taxonomy_agreement.py [LABELLED_DIR] [--examples N]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from panelmap.spiders.taxonomy import classify

# The project's shared folder sits beside the repository.
DEFAULT_DIR = Path(os.environ.get(
    "PANELMAP_SMMPANELS", Path(__file__).resolve().parents[2] / "shared" / "data" / "smmpanels"
)) / "labelled"

SITE_MAP: dict[str, set[str]] = {
    "Instagram": {"instagram"}, "IGTV": {"instagram"}, "Website": {"website"},
    "YouTube": {"youtube"}, "Spotify": {"spotify"}, "Facebook": {"facebook"},
    "App": {"mobile_app"}, "Twitter": {"twitter"}, "SoundCloud": {"soundcloud"},
    "Twitch": {"twitch"}, "IMDB": {"imdb"}, "Telegram": {"telegram"},
    "LinkedIn": {"linkedin"}, "Google": {"google", "google_business", "google_play_music", "mobile_app"},
    "TikTok": {"tiktok"}, "Podcast": {"podcast"}, "Pinterest": {"pinterest"},
    "Tumblr": {"tumblr"}, "Google Business": {"google_business"}, "Shazam": {"shazam"},
    "Vimeo": {"vimeo"}, "Tidal": {"tidal"}, "MixCloud": {"mixcloud"}, "Blogger": {"blogger"},
    "Spreaker": {"spreaker"}, "Reverbnation": {"reverbnation"}, "VK": {"vk"},
    "Quora": {"quora"}, "LiveMe": {"liveme"}, "Periscope": {"periscope"},
    "DatPiff": {"datpiff"}, "Reddit": {"reddit"}, "Audiomack": {"audiomack"},
    "Metacritic": {"metacritic"}, "Amazon": {"amazon", "amazon_music"}, "Deezer": {"deezer"},
    "Chew.tv": {"chew"}, "RottenTomatoes": {"rotten_tomatoes"}, "Dailymotion": {"dailymotion"},
    "Houzz": {"houzz"}, "Tripadvisor": {"tripadvisor"},
    "Amazon Prime Video": {"amazon_prime_video"}, "Apple Music": {"apple_music"},
    "iTunes": {"apple_music"}, "Zomato": {"zomato"}, "Netflix": {"netflix"},
    "Hotstar": {"hotstar"}, "Napster": {"napster"}, "Kiwi": {"kiwi"}, "Vudu": {"vudu"},
    "Snapchat": {"snapchat"}, "Discord": {"discord"}, "Hearthis": {"hearthis"},
    "Disney": {"disney_plus"}, "Pornhub": {"pornhub"},
}

PRODUCT_MAP: dict[str, set[str]] = {
    "traffic": {"traffic"}, "visitor": {"traffic"}, "view": {"views", "live_viewers"},
    "video view": {"views", "live_viewers"}, "story view": {"views"}, "ads view": {"views"},
    "like": {"likes"}, "page like": {"likes"}, "favorite": {"likes"}, "+1": {"likes"},
    "follower": {"followers", "playlist_followers"}, "fan": {"followers"},
    "play": {"plays"}, "stream": {"plays"}, "comment": {"comments"},
    "review": {"reviews", "ratings"}, "rating": {"ratings", "reviews"},
    "recommendation": {"reviews"}, "impression": {"impressions"}, "share": {"shares"},
    "vote": {"votes"}, "poll vote": {"votes"}, "saves": {"saves"},
    "subscriber": {"subscribers"}, "install": {"installs"}, "listener": {"monthly_listeners"},
    "download": {"downloads", "installs"}, "seo": {"seo"}, "repost": {"reposts"}, "reblog": {"reposts"},
    "repin": {"reposts"}, "retweet": {"retweets"}, "channel member": {"members"},
    "group member": {"members"}, "member": {"members"}, "starmeter": {"ranking"},
    "account": {"accounts"}, "verified account": {"accounts"}, "promotion": {"promotion"},
    "watchtime": {"watch_time"}, "post": {"posts"}, "tweet": {"posts"}, "upload": {"posts"},
    "pin": {"posts"}, "profile view": {"profile_visits"}, "endorsement": {"endorsements"},
    "event interested": {"event_responses"}, "friend request": {"friends"},
    "premiere wait": {"live_viewers"},
}
UNLABELLED = {"", "Empty Value"}


@dataclass
class Score:
    rows: int = 0
    site_labelled: int = 0
    site_agree: int = 0
    product_labelled: int = 0
    product_agree: int = 0
    site_misses: Counter = field(default_factory=Counter)
    product_misses: Counter = field(default_factory=Counter)

    def add(self, other: Score) -> None:
        self.rows += other.rows
        self.site_labelled += other.site_labelled
        self.site_agree += other.site_agree
        self.product_labelled += other.product_labelled
        self.product_agree += other.product_agree
        self.site_misses.update(other.site_misses)
        self.product_misses.update(other.product_misses)

    @property
    def site_rate(self) -> float:
        return self.site_agree / self.site_labelled if self.site_labelled else 0.0

    @property
    def product_rate(self) -> float:
        return self.product_agree / self.product_labelled if self.product_labelled else 0.0


def labelled_rows(directory: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(panel, row) for every row of every labelled CSV under `directory`."""
    for path in sorted(directory.glob("*/*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                yield path.parent.name, row


def score(directory: Path = DEFAULT_DIR) -> dict[str, Score]:
    """Agreement per panel, computed over every row of every day."""
    scores: dict[str, Score] = {}
    for panel, row in labelled_rows(directory):
        entry = scores.setdefault(panel, Score())
        entry.rows += 1
        name = row["Service"].strip()
        taxonomy = classify(name)
        site, product = row["Site"], row["Product"]
        if site not in UNLABELLED:
            entry.site_labelled += 1
            if taxonomy.platform in SITE_MAP.get(site, {site.lower()}):
                entry.site_agree += 1
            else:
                entry.site_misses[(site, taxonomy.platform, name)] += 1
        if product not in UNLABELLED:
            entry.product_labelled += 1
            if taxonomy.metric in PRODUCT_MAP.get(product, {product}):
                entry.product_agree += 1
            else:
                entry.product_misses[(product, taxonomy.metric, name)] += 1
    return scores


def overall(scores: dict[str, Score]) -> Score:
    total = Score()
    for entry in scores.values():
        total.add(entry)
    return total


def _print_misses(title: str, misses: Counter, limit: int) -> None:
    print(f"\n{title} (theirs -> ours: rows, example)")
    pairs: Counter = Counter()
    example: dict[tuple[str, str | None], str] = {}
    for (theirs, ours, name), count in misses.items():
        pairs[(theirs, ours)] += count
        example.setdefault((theirs, ours), name)
    for (theirs, ours), count in pairs.most_common(limit):
        print(f"  {theirs!r:>20} -> {ours!r:<20} {count:5}  {example[(theirs, ours)][:90]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--examples", type=int, default=0, help="show the N largest disagreements")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"no labelled data at {args.directory}", file=sys.stderr)
        return 2
    scores = score(args.directory)
    print(f"{'panel':<18}{'rows':>7}{'site n':>9}{'site %':>9}{'product n':>11}{'product %':>11}")
    for panel, entry in sorted(scores.items()):
        print(f"{panel:<18}{entry.rows:>7}{entry.site_labelled:>9}{100 * entry.site_rate:>9.2f}"
              f"{entry.product_labelled:>11}{100 * entry.product_rate:>11.2f}")
    total = overall(scores)
    print(f"{'OVERALL':<18}{total.rows:>7}{total.site_labelled:>9}{100 * total.site_rate:>9.2f}"
          f"{total.product_labelled:>11}{100 * total.product_rate:>11.2f}")
    if args.examples:
        _print_misses("Site disagreements", total.site_misses, args.examples)
        _print_misses("Product disagreements", total.product_misses, args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
