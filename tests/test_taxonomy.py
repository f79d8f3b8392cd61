"""The service taxonomy: exact cases, and agreement with the smmpanels labels."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from shared_data import SMMPANELS, require

from panelmap.spiders.taxonomy import Taxonomy, classify

BENCH = Path(__file__).resolve().parents[1] / "bench" / "taxonomy_agreement.py"


# What bench/taxonomy_agreement.py measures, less a small margin: a change that
# costs more than that is a regression to look at, not noise.
MIN_SITE_AGREEMENT = 0.98
MIN_PRODUCT_AGREEMENT = 0.97


@pytest.mark.parametrize("name, expected", [
    ("Spotify Premium Plays [USA]", Taxonomy("spotify", "plays", ("US",), None, True, None)),
    ("🇳🇱Spotify NETHERLANDS Saves [For Track] [12H - 15K/Day]", Taxonomy("spotify", "saves", ("NL",))),
    ("Spotify Playlist Followers [1-12H - 1.5k-3k / Day]", Taxonomy("spotify", "playlist_followers")),
    ("Spotify USA Monthly Listeners [1M]", Taxonomy("spotify", "monthly_listeners", ("US",))),
    ("[NEW] [EXCLUSIVE] Spotify Free Plays (Small Amounts) 🔥🔥🔥",
     Taxonomy("spotify", "plays", premium=False)),
    ("Apple Music Premium Plays [Lifetime Guaranteed]", Taxonomy("apple_music", "plays", premium=True,
                                                                 guarantee_days=-1)),
    ("ID: 503 - Amazon Music Plays [Max 50k] [2k/day] [12-24]", Taxonomy("amazon_music", "plays")),
    ("IG Followers", Taxonomy("instagram", "followers")),
    ("YT views [Desktop]", Taxonomy("youtube", "views", device="desktop")),
    ("ID4197 -  Tik Tok Followers B1 [30K-50K/D - R60]", Taxonomy("tiktok", "followers", guarantee_days=60)),
    ("Instagram Followers [50k] - [ R30 ] | 𝐒𝟏 | 𝟘-𝟙𝕙𝕣𝕤", Taxonomy("instagram", "followers", guarantee_days=30)),
    ("Instagram Followers [𝟷𝟶𝟶% ʀᴇᴀʟ] [No Refill]", Taxonomy("instagram", "followers", guarantee_days=0)),
    ("Facebook Fan Page Likes [R∞]", Taxonomy("facebook", "likes", guarantee_days=-1)),
    ("Youtube Comment DisLikes [DOWNVOTES] [100K]", Taxonomy("youtube", "dislikes")),
    ("Facebook Live Stream Views [ 180 Minutes ]", Taxonomy("facebook", "live_viewers")),
    ("IMDb Votes 8 Star [R-1 year] [USA]", Taxonomy("imdb", "votes", ("US",), guarantee_days=365)),
    ("Google Business Review [BRAZIL] [5⭐ + Custom Comments]", Taxonomy("google_business", "reviews", ("BR",))),
    ("Android App Install + 5 Stars Positive Rates + Custom Reviews [RU - 10M]",
     Taxonomy("mobile_app", "reviews", ("RU",), device="android")),
    ("Netflix 4 screen  (private account) UHD", Taxonomy("netflix", "accounts")),
    ("Send Us What 253+ Country Of YouTube GEO Views", Taxonomy("youtube", "views")),
])
def test_names(name, expected):
    assert classify(name) == expected


@pytest.mark.parametrize("name, platform", [
    ("Poland Traffic from  Amazon.com", "website"),  # the source of the traffic is not its target
    ("USA Traffic from Blogspot/Blogger.com [12H - 10K/Day]", "website"),
    ("ID: 1098 - Web Traffic [FACEBOOK] [Max 1M] [50k/day]", "website"),
    ("Google Visitors [100K] [140 Sec Retention]", "website"),
    ("ID4117 - YouTube - SEO / Traffic : 100% Real Google", "youtube"),
    ("ID2245 - Youtube Likes [BEST EXTRA 200% BIG BONUS]", "youtube"),  # "BIG" is not "IG"
    ("ID4569 - Tik Tok Comments - Random - Happy Comment", "tiktok"),  # "Happy" is not "app"
])
def test_platform_is_the_target_not_a_source_or_a_substring(name, platform):
    assert classify(name).platform == platform


def test_category_and_description_fill_what_the_name_leaves_out():
    taxonomy = classify("Premium Plays [France]", "Spotify Plays", "Refill: 30 days")
    assert (taxonomy.platform, taxonomy.metric, taxonomy.geo, taxonomy.guarantee_days) == (
        "spotify", "plays", ("FR",), 30)
    linked = classify("Plays [Worldwide]", None, "Link format: https://open.spotify.com/track/...")
    assert linked.platform == "spotify"


def test_agreement_with_the_labelled_sample():
    require(SMMPANELS / "labelled")
    spec = importlib.util.spec_from_file_location("taxonomy_agreement", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up there
    spec.loader.exec_module(bench)
    total = bench.overall(bench.score(SMMPANELS / "labelled"))
    assert total.site_labelled > 29000
    assert total.site_rate >= MIN_SITE_AGREEMENT
    assert total.product_rate >= MIN_PRODUCT_AGREEMENT
