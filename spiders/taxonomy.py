"""Normalising service names into what is sold: platform, metric, geo, device,
premium, guarantee.

Panels name services freely ("Spotify Premium Plays [USA]", "IG Followers",
"Tik Tok Likes", "𝐒𝟏 | 𝟘-𝟙𝕙𝕣𝕤", "🇺🇸Spotify USA Saves"), so comparing catalogues
across panels needs one vocabulary. The name is read once, left to right, into
word tokens; a lexicon of one- to three-word phrases turns tokens into hits
(platform, metric, country, device...), the longest phrase winning at each
position, and a few rules pick among the hits. Dictionary look-ups instead of
one regular expression per keyword keep `classify` near ten microseconds a
name, which matters on pages of 5,000 services.

Vocabulary (stable: stored in PriceObservation and used in queries):
- platform: snake_case names (93 of them), e.g. spotify, apple_music,
  amazon_music, youtube, tiktok, instagram, website (traffic and SEO sold for
  a website), mobile_app (app installs and store reviews), google_business
  (Maps / Business reviews), podcast; the full list is `_PLATFORM_WORDS`.
- metric: plays, followers, playlist_followers, monthly_listeners, saves,
  views, live_viewers, watch_time, likes, dislikes, reactions, comments,
  subscribers, members, shares, reposts, retweets, mentions, impressions,
  reach, profile_visits, clicks, traffic, votes, reviews, ratings, downloads,
  installs, friends, endorsements, event_responses, posts, accounts, ranking,
  promotion, seo.
- geo: ISO 3166-1 alpha-2 codes (GB for "UK"), and lower-case region names
  (europe, asia, africa, latin_america, arab_world, north_america,
  south_america, middle_east); "worldwide" is no targeting, an empty list.
- device: android, ios, desktop, mobile, tablet, tv, car, console.
- guarantee_days: refill or guarantee period in days, -1 for lifetime, 0 for
  an explicit "no refill".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """What one service sells; None (or an empty geo) where the name does not say."""

    platform: str | None = None
    metric: str | None = None
    geo: tuple[str, ...] = ()
    device: str | None = None
    premium: bool | None = None
    guarantee_days: int | None = None


# --- lexicon --------------------------------------------------------------

_PLATFORM_WORDS: dict[str, str] = {
    # music and audio
    "spotify": "spotify", "apple music": "apple_music", "itunes": "apple_music",
    "applemusic": "apple_music", "amazon music": "amazon_music", "deezer": "deezer",
    "tidal": "tidal", "soundcloud": "soundcloud", "sound cloud": "soundcloud",
    "shazam": "shazam", "audiomack": "audiomack", "napster": "napster",
    "mixcloud": "mixcloud", "reverbnation": "reverbnation", "reverbenation": "reverbnation",
    "datpiff": "datpiff", "spreaker": "spreaker", "hearthis": "hearthis",
    "hearthis.at": "hearthis", "chew.tv": "chew", "boomplay": "boomplay",
    "anghami": "anghami", "jiosaavn": "jiosaavn", "saavn": "jiosaavn", "gaana": "gaana",
    "audius": "audius", "bandcamp": "bandcamp", "yandex music": "yandex_music",
    "google play music": "google_play_music", "google plays music": "google_play_music",
    "podcast": "podcast", "podcasts": "podcast", "radiojavan": "radiojavan",
    "livemixtapes": "livemixtapes", "smule": "smule",
    # video and live
    "youtube": "youtube", "you tube": "youtube", "yt": "youtube", "youtube music": "youtube",
    "tiktok": "tiktok", "tik tok": "tiktok", "tiktock": "tiktok", "twitch": "twitch",
    "twitch.tv": "twitch", "kick": "kick", "vimeo": "vimeo", "dailymotion": "dailymotion",
    "likee": "likee", "liveme": "liveme", "periscope": "periscope", "younow": "younow",
    "younow.com": "younow", "kwai": "kwai", "triller": "triller", "bigo": "bigo",
    "rumble": "rumble", "trovo": "trovo",
    # social networks and messengers
    "instagram": "instagram", "insta": "instagram", "ig": "instagram", "igtv": "instagram",
    "instagram tv": "instagram", "threads": "threads", "facebook": "facebook", "fb": "facebook",
    "face book": "facebook", "twitter": "twitter", "tweeter": "twitter", "telegram": "telegram",
    "discord": "discord", "linkedin": "linkedin", "pinterest": "pinterest", "reddit": "reddit",
    "snapchat": "snapchat", "vk": "vk", "vk.com": "vk", "vkontakte": "vk",
    "ok.ru": "odnoklassniki", "odnoklassniki": "odnoklassniki", "tumblr": "tumblr",
    "quora": "quora", "quora.com": "quora", "clubhouse": "clubhouse", "weibo": "weibo",
    "sina weibo": "weibo", "kiwi": "kiwi", "fyuse": "fyuse", "whatsapp": "whatsapp", "wechat": "wechat", "onlyfans": "onlyfans",
    "blogger": "blogger", "blogspot": "blogger", "medium.com": "medium",
    # search, reviews, stores, film
    "google": "google", "google plus": "google", "google business": "google_business",
    "google map": "google_business", "google maps": "google_business", "gmb": "google_business",
    "imdb": "imdb", "metacritic": "metacritic", "rottentomatoes": "rotten_tomatoes",
    "rotentomatoes": "rotten_tomatoes", "rotten tomatoes": "rotten_tomatoes",
    "tripadvisor": "tripadvisor", "houzz": "houzz", "zomato": "zomato",
    "trustpilot": "trustpilot", "yelp": "yelp", "ebay": "ebay", "amazon": "amazon",
    "shopee": "shopee", "steam": "steam", "pubg": "pubg", "free fire": "free_fire", "book my show": "bookmyshow",
    # the same in Russian, the language of many panels
    "вк": "vk", "вконтакте": "vk", "ютуб": "youtube", "инстаграм": "instagram",
    "телеграм": "telegram", "тикток": "tiktok", "спотифай": "spotify", "твиттер": "twitter",
    "фейсбук": "facebook",
    # subscriptions sold as accounts
    "netflix": "netflix", "hotstar": "hotstar", "prime video": "amazon_prime_video",
    "amazon prime": "amazon_prime_video", "disney": "disney_plus", "vudu": "vudu",
    "hulu": "hulu", "zee5": "zee5", "voot": "voot", "pornhub": "pornhub",
    # the website itself, and apps
    "website": "website", "websites": "website", "web": "website",
    "app": "mobile_app", "apps": "mobile_app", "play store": "mobile_app", "google play": "mobile_app",
    "playstore": "mobile_app", "app store": "mobile_app", "appstore": "mobile_app",
}

_METRIC_WORDS: dict[str, str] = {
    "plays": "plays", "play": "plays", "streams": "plays", "stream": "plays",
    "listens": "plays", "stram": "plays", "playlist plays": "plays", "album plays": "plays",
    "followers": "followers", "follower": "followers", "follows": "followers",
    "follow": "followers", "fans": "followers", "fan": "followers",
    "playlist followers": "playlist_followers", "playlists followers": "playlist_followers",
    "playlist follower": "playlist_followers",
    "monthly listeners": "monthly_listeners", "listeners": "monthly_listeners",
    "listener": "monthly_listeners",
    "saves": "saves", "save": "saves",
    "views": "views", "view": "views",
    "viewers": "live_viewers", "viewer": "live_viewers", "live views": "live_viewers", "live viewers": "live_viewers",
    "live stream views": "live_viewers", "livestream views": "live_viewers",
    "live video views": "live_viewers", "live stream viewers": "live_viewers",
    "watching now": "live_viewers", "premiere waiting": "live_viewers",
    "concurrent viewers": "live_viewers", "live plays": "live_viewers",
    "likes": "likes", "like": "likes", "hearts": "likes", "favorites": "likes",
    "favourites": "likes", "favorite": "likes", "favourite": "likes", "plusone": "likes",
    "comment likes": "likes", "comments likes": "likes", "comment upvotes": "votes",
    "dislikes": "dislikes", "dislike": "dislikes", "comment dislikes": "dislikes",
    "comments dislikes": "dislikes",
    "comments": "comments", "comment": "comments", "replies": "comments",
    "emoji comments": "comments", "emoji comment": "comments",
    "subscribers": "subscribers", "subscriber": "subscribers", "subs": "subscribers",
    "members": "members", "member": "members",
    "shares": "shares", "share": "shares", "reshares": "shares", "re shares": "shares",
    "reposts": "reposts", "repost": "reposts", "reblogs": "reposts", "reblog": "reposts",
    "repins": "reposts", "repin": "reposts", "re up": "reposts",
    "retweets": "retweets", "retweet": "retweets",
    "impressions": "impressions", "impression": "impressions",
    "reach": "reach",
    "watch time": "watch_time", "watchtime": "watch_time", "watch hours": "watch_time",
    "watch times": "watch_time",
    "minutes listen": "watch_time",
    "votes": "votes", "vote": "votes", "voting": "votes", "upvotes": "votes",
    "upvote": "votes", "downvotes": "votes", "downvote": "votes",
    "traffic": "traffic", "visitors": "traffic", "visitor": "traffic",
    "pageviews": "traffic", "page views": "traffic",
    "reviews": "reviews", "review": "reviews", "feedback": "reviews",
    "recommendation": "reviews", "recommendations": "reviews",
    "rating": "ratings", "ratings": "ratings",
    "downloads": "downloads", "download": "downloads",
    "installs": "installs", "install": "installs", "instals": "installs",
    "installations": "installs",
    "account": "accounts", "accounts": "accounts", "for sale": "accounts",
    "profile visits": "profile_visits", "profile visit": "profile_visits",
    "profile views": "profile_visits",
    "mentions": "mentions", "mention": "mentions",
    "reactions": "reactions", "reaction": "reactions", "emoji": "reactions",
    "emojis": "reactions", "emoticons": "reactions",
    "clicks": "clicks", "click": "clicks",
    "connections": "friends", "friends": "friends", "friend": "friends",
    "friend request": "friends", "friend requests": "friends",
    "event interested": "event_responses", "event response": "event_responses",
    "confirmed event": "event_responses", "events join": "event_responses",
    "endorsements": "endorsements", "endorsement": "endorsements",
    "tweets": "posts", "posts": "posts", "article": "posts", "articles": "posts",
    "upload": "posts",
    "starmeter": "ranking", "ranking": "ranking",
    "promotion": "promotion",
    "seo": "seo", "backlinks": "seo", "backlink": "seo", "signals": "seo",
    # Russian
    "подписчики": "followers", "подписчиков": "followers", "лайки": "likes", "лайков": "likes",
    "просмотры": "views", "просмотров": "views", "прослушивания": "plays",
    "прослушиваний": "plays", "комментарии": "comments", "участники": "members",
}

# Phrases whose words look like metrics but are not what is sold ("Fan Page
# Likes" sells likes; "Play Store Installs" sells installs).
_NOT_METRICS = ("fan page", "fanpage", "live stream", "livestream", "play store", "google play")

# "Premium" plays come from paying accounts (they earn royalties); "free" plays
# from free-tier ones.
_PREMIUM_WORDS: dict[str, tuple[bool, str | None]] = {
    "premium": (True, None), "free plays": (False, "plays"), "free streams": (False, "plays"),
    "free users": (False, None), "free account": (False, "accounts"),
    "free accounts": (False, "accounts"),
}

_DEVICE_WORDS: dict[str, str] = {
    "android": "android", "ios": "ios", "iphone": "ios", "ipad": "ios",
    "desktop": "desktop", "windows": "desktop", "pc": "desktop", "macos": "desktop",
    "mac": "desktop", "web player": "desktop", "mobile": "mobile", "tablet": "tablet",
    "smart tv": "tv", "apple tv": "tv", "android tv": "tv", "smarttv": "tv",
    "carplay": "car", "android auto": "car", "console": "console", "consoles": "console",
    "playstation": "console", "xbox": "console", "ps4": "console", "ps5": "console",
}

_COUNTRIES: dict[str, str] = {
    "usa": "US", "united states": "US", "america": "US", "american": "US", "us": "US",
    "uk": "GB", "united kingdom": "GB", "britain": "GB", "great britain": "GB",
    "england": "GB", "british": "GB", "english": "GB",
    "brazil": "BR", "brasil": "BR", "brazilian": "BR", "turkey": "TR", "turkiye": "TR",
    "türkiye": "TR", "turkish": "TR", "france": "FR", "french": "FR", "japan": "JP",
    "japanese": "JP", "india": "IN", "indian": "IN", "russia": "RU", "russian": "RU",
    "germany": "DE", "german": "DE", "deutschland": "DE", "korea": "KR",
    "south korea": "KR", "korean": "KR", "italy": "IT", "italian": "IT", "vietnam": "VN",
    "vietnamese": "VN", "spain": "ES", "spanish": "ES", "indonesia": "ID",
    "indonesian": "ID", "taiwan": "TW", "taiwanese": "TW", "poland": "PL", "polish": "PL",
    "pakistan": "PK", "pakistani": "PK", "canada": "CA", "canadian": "CA",
    "ukraine": "UA", "ukrainian": "UA", "egypt": "EG", "egyptian": "EG",
    "thailand": "TH", "thai": "TH", "netherlands": "NL", "dutch": "NL", "holland": "NL",
    "portugal": "PT", "portuguese": "PT", "romania": "RO", "romanian": "RO",
    "mexico": "MX", "mexican": "MX", "china": "CN", "chinese": "CN", "iran": "IR",
    "persian": "IR", "iranian": "IR", "australia": "AU", "australian": "AU",
    "sweden": "SE", "swedish": "SE", "belgium": "BE", "saudi arabia": "SA", "saudi": "SA",
    "ksa": "SA", "switzerland": "CH", "swiss": "CH", "morocco": "MA", "moroccan": "MA",
    "colombia": "CO", "columbia": "CO", "colombian": "CO", "israel": "IL",
    "israeli": "IL", "hebrew": "IL", "argentina": "AR", "argentinian": "AR",
    "chile": "CL", "chilean": "CL", "peru": "PE", "venezuela": "VE", "ecuador": "EC",
    "bolivia": "BO", "uruguay": "UY", "paraguay": "PY", "cuba": "CU",
    "dominican republic": "DO", "dominican": "DO", "puerto rico": "PR", "jamaica": "JM",
    "greece": "GR", "greek": "GR", "austria": "AT", "österreich": "AT", "denmark": "DK", "danish": "DK",
    "norway": "NO", "norwegian": "NO", "finland": "FI", "finnish": "FI",
    "ireland": "IE", "irish": "IE", "czech": "CZ", "czech republic": "CZ",
    "czechia": "CZ", "slovakia": "SK", "hungary": "HU", "hungarian": "HU",
    "bulgaria": "BG", "serbia": "RS", "croatia": "HR", "slovenia": "SI",
    "albania": "AL", "bosnia": "BA", "lithuania": "LT", "latvia": "LV", "estonia": "EE",
    "belarus": "BY", "kazakhstan": "KZ", "azerbaijan": "AZ", "georgia": "GE",
    "armenia": "AM", "uzbekistan": "UZ", "iraq": "IQ", "iraqi": "IQ", "kuwait": "KW",
    "qatar": "QA", "bahrain": "BH", "oman": "OM", "jordan": "JO", "lebanon": "LB",
    "syria": "SY", "yemen": "YE", "uae": "AE", "emirates": "AE", "dubai": "AE",
    "united arab emirates": "AE", "algeria": "DZ", "tunisia": "TN", "libya": "LY",
    "nigeria": "NG", "nigerian": "NG", "kenya": "KE", "ghana": "GH",
    "south africa": "ZA", "ethiopia": "ET", "bangladesh": "BD", "bangladeshi": "BD",
    "sri lanka": "LK", "nepal": "NP", "philippines": "PH", "filipino": "PH",
    "malaysia": "MY", "malaysian": "MY", "singapore": "SG", "hong kong": "HK",
    "hongkong": "HK", "cambodia": "KH", "myanmar": "MM", "new zealand": "NZ",
    "afghanistan": "AF", "azerbaijani": "AZ", "cyprus": "CY", "malta": "MT",
    "luxembourg": "LU", "iceland": "IS", "panama": "PA", "costa rica": "CR",
    "guatemala": "GT", "honduras": "HN", "el salvador": "SV", "nicaragua": "NI",
    "haiti": "HT", "trinidad": "TT",
    # regions
    "europe": "europe", "europa": "europe", "european": "europe", "eu": "europe", "asia": "asia",
    "asian": "asia", "africa": "africa", "african": "africa",
    "latin america": "latin_america", "latam": "latin_america", "latino": "latin_america",
    "hispanic": "latin_america", "arab": "arab_world", "arabic": "arab_world",
    "arabs": "arab_world", "gulf": "arab_world", "middle east": "middle_east",
    "mena": "middle_east", "north america": "north_america",
    "south america": "south_america",
}
# Two-letter codes count only in capitals ("[BR]") and never when they are
# also everyday words or service shorthand (NO refill, IT, IN, AR = auto refill,
# HR = hours or high retention, ID = service id...).
_COUNTRY_CODES = frozenset({
    "GB", "BR", "DE", "FR", "ES", "TR", "RU", "JP", "KR", "NL", "PT", "PL",
    "CA", "AU", "MX", "VN", "TH", "PH", "SG", "HK", "TW", "PK", "BD", "EG", "AE",
    "IL", "IR", "IQ", "ZA", "NG", "KE", "UA", "RO", "CZ", "HU", "GR", "SE", "DK", "FI",
    "CH", "IE", "CL", "CO", "PE", "VE", "KZ", "SA",
})
_WORLDWIDE = frozenset({"worldwide", "ww", "global", "international", "world wide"})

_SMALL_CAPS = str.maketrans(
    "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢİ", "abcdefghijklmnopqrstuvwyzI"
)
_NEEDS_TRANSLATION = re.compile("[" + "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢİ" + "]")
_FLAG = re.compile(r"[\U0001F1E6-\U0001F1FF]{2}")
_TOKEN = re.compile(r"[^\W_]+(?:\.[^\W_]+)*")
_PLUS_ONE = re.compile(r"\+\s?1(?!\d)")
_DIGITS = frozenset("0123456789")

Entry = tuple[str, "str | None"]  # (dimension, value); value None: "matched, means nothing"
_LEXICON: dict[str, list[Entry]] = {}
for _table, _dimension in (
    (_PLATFORM_WORDS, "platform"), (_METRIC_WORDS, "metric"), (_DEVICE_WORDS, "device"),
    (_COUNTRIES, "geo"),
):
    for _phrase, _value in _table.items():
        _LEXICON.setdefault(_phrase, []).append((_dimension, _value))
for _phrase in _NOT_METRICS:
    _LEXICON[_phrase] = [hit for hit in _LEXICON.get(_phrase, []) if hit[0] != "metric"] + [("metric", None)]
for _phrase in _WORLDWIDE:
    _LEXICON[_phrase] = [("geo", None)]
for _phrase, (_premium, _metric) in _PREMIUM_WORDS.items():
    _LEXICON[_phrase] = [("premium", "yes" if _premium else "no"), *([("metric", _metric)] if _metric else [])]
# First word of each multi-word phrase -> its longest phrase, so that most
# tokens cost one dictionary look-up.
_PHRASE_WIDTH: dict[str, int] = {}
for _phrase in _LEXICON:
    _words = _phrase.split()
    if len(_words) > 1:
        _PHRASE_WIDTH[_words[0]] = max(_PHRASE_WIDTH.get(_words[0], 1), len(_words))

# Services for these platforms are subscriptions sold as accounts.
_ACCOUNT_PLATFORMS = frozenset({
    "netflix", "hotstar", "amazon_prime_video", "disney_plus", "vudu", "hulu", "zee5",
    "voot", "pornhub",
})
_REFERRER_MARKERS = frozenset({"from", "via"})
# Sites that send traffic rather than receive it: "Google Visitors" and "SEO -
# Google First Page" are sold for the buyer's website.
_TRAFFIC_SOURCES = frozenset({"google", "blogger", "weibo"})
# Link hosts in descriptions ("open.spotify.com/track/...", "t.me/..."): the
# label before the top-level domain names the platform.
_HOST_TLDS = frozenset({"com", "tv", "me", "be", "ru", "net", "at", "co", "io"})
_HOST_PLATFORMS = {
    "spotify": "spotify", "youtube": "youtube", "youtu": "youtube", "instagram": "instagram",
    "tiktok": "tiktok", "facebook": "facebook", "fb": "facebook", "twitter": "twitter",
    "x": "twitter", "t": "telegram", "soundcloud": "soundcloud", "deezer": "deezer",
    "tidal": "tidal", "twitch": "twitch", "apple": "apple_music", "audiomack": "audiomack",
    "linkedin": "linkedin", "pinterest": "pinterest", "reddit": "reddit", "vk": "vk",
}

# Guarantee shorthand, read from tokens: "R30", "AR30", "G∞" (∞ reads "lifetime"),
# "R 7D", "30 Days Refill", "Refill: 30 days", "Lifetime Guarantee", "No Refill", "NR".
_CODE = re.compile(r"(?:a?r|g)(\d{1,3})d?")
_NUMBER_DAYS = re.compile(r"(\d{1,3})(d|days?)?")
_CODE_WORDS = frozenset({"r", "ar", "g"})
_PROMISES = frozenset({"refill", "guarantee", "guaranteed", "guarantees", "warranty"})
_NEGATIONS = frozenset({"no", "non", "without"})
_DAY_WORDS = frozenset({"d", "day", "days"})
# Every token that may start a guarantee, codes included ("r30", "ar7", "g30d"),
# so that the scan tests each token with one set look-up.
_GUARANTEE_CUES = frozenset(
    _CODE_WORDS | _PROMISES | _NEGATIONS | {"nr", "lifetime", "life"}
    | {f"{prefix}{days}{unit}" for prefix in _CODE_WORDS for days in range(1000) for unit in ("", "d")}
)
_DESCRIPTION_CUES = ("refill", "guarant", "warrant", "lifetime", "life time", "∞")


# --- classification -------------------------------------------------------

def normalise(text: str) -> str:
    """NFKC (so math-bold "𝐒𝟏" reads "S1"), small capitals to letters."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    if _NEEDS_TRANSLATION.search(text):
        text = text.translate(_SMALL_CAPS)
    return text


@dataclass(slots=True)
class _Hits:
    platforms: list[tuple[str, bool]]  # (platform, named as a traffic source: "from X")
    metrics: list[str]
    geo: list[str]
    devices: list[str]
    premium: bool | None = None
    guarantee_days: int | None = None


def _words(text: str) -> str:
    """`text` with "+1" and "∞" (as in "R∞") spelled as words."""
    if "+" in text:
        text = _PLUS_ONE.sub(" plusone ", text)
    if "∞" in text:
        text = text.replace("∞", " lifetime ")
    return text


def _tokens(text: str) -> list[str]:
    """The case-folded word tokens of `text`."""
    return _TOKEN.findall(_words(text).casefold())


def _scan(text: str) -> _Hits:
    """Every lexicon hit in `text`, in reading order, and the first guarantee."""
    platforms: list[tuple[str, bool]] = []
    metrics: list[str] = []
    geo: list[str] = []
    devices: list[str] = []
    premium: bool | None = None
    guarantee: int | None = None
    if not text.isascii():
        for flag in _FLAG.findall(text):
            geo.append("".join(chr(ord(letter) - 0x1F1E6 + ord("A")) for letter in flag))
    tokens = _tokens(text)
    raw: list[str] | None = None  # tokens as written, read only for two-letter words
    count = len(tokens)
    source_end = -1  # where the last platform named as a traffic source ended
    index = 0
    while index < count:
        token = tokens[index]
        if token[0] in _DIGITS:  # quantities, speeds, ids: never a lexicon word nor a cue
            index += 1
            continue
        if guarantee is None and token in _GUARANTEE_CUES:
            guarantee = _guarantee_at(tokens, index)
        entries = None
        width = 1
        if token in _PHRASE_WIDTH:
            width = _PHRASE_WIDTH[token]
            while width > 1:
                if index + width <= count:
                    entries = _LEXICON.get(" ".join(tokens[index:index + width]))
                    if entries is not None:
                        break
                width -= 1
        if entries is None:
            entries = _LEXICON.get(token)
            if entries is None:
                if "." in token:
                    entries = _domain_entries(token)
                elif len(token) == 2 and token.upper() in _COUNTRY_CODES:
                    raw = raw or _TOKEN.findall(_words(text))
                    if _written_in_capitals(raw, index, count):  # "[BR]", not "br"
                        geo.append(raw[index])
                if entries is None:
                    index += 1
                    continue
        # "from Blogspot/Blogger.com": a list after "from" is all sources.
        source = index > 0 and (
            tokens[index - 1] in _REFERRER_MARKERS or (source_end == index and platforms[-1][1])
        )
        for dimension, value in entries:
            if dimension == "platform":
                platforms.append((value, source))
                source_end = index + width
            elif dimension == "metric":
                metrics.append(value or "")
            elif dimension == "geo":
                if value is not None and (width > 1 or len(token) > 2 or _written_in_capitals(
                        raw := raw or _TOKEN.findall(_words(text)), index, count)):
                    geo.append(value)
            elif dimension == "device":
                devices.append(value)
            elif premium is None:
                premium = value == "yes"
        index += width
    return _Hits(platforms, metrics, geo, devices, premium, guarantee)


def _linked_platform(description: str) -> str | None:
    """The platform of the first link host in a description that names one."""
    if "." not in description:
        return None
    for token in _TOKEN.findall(description.casefold()):
        if "." in token:
            labels = token.split(".")
            if len(labels) > 1 and labels[-1] in _HOST_TLDS and labels[-2] in _HOST_PLATFORMS:
                return _HOST_PLATFORMS[labels[-2]]
    return None


@lru_cache(maxsize=4096)
def _category_hits(category: str) -> _Hits:
    """A category's hits; a page repeats one category over many services."""
    return _scan(normalise(category))


def _written_in_capitals(raw: list[str], index: int, count: int) -> bool:
    """Whether token `index` is written in capitals ("UK" is a country, "us" a
    pronoun); False when case folding changed the token count."""
    return len(raw) == count and raw[index].isupper()


def _domain_entries(token: str) -> list[Entry] | None:
    """A dotted token ("Twitch.tv", "id.Pinterest", "google.com"): its first label
    that names a platform."""
    for label in token.split("."):
        entries = _LEXICON.get(label)
        if entries is not None:
            return [entry for entry in entries if entry[0] == "platform"] or None
    return None


def _guarantee_at(tokens: list[str], index: int) -> int | None:
    """The guarantee, in days, stated around `tokens[index]` (a cue word), if any."""
    token = tokens[index]
    following = tokens[index + 1:index + 4]
    nxt = following[0] if following else ""
    if token == "nr" or (token in _NEGATIONS and (nxt in _PROMISES or nxt == "guarantee")):
        return 0
    code = _CODE.fullmatch(token)
    if code:
        return int(code.group(1))
    if token in _CODE_WORDS:
        if nxt == "lifetime":
            return -1
        number = _NUMBER_DAYS.fullmatch(nxt)
        if number is None:
            return None
        if following[1:2] in (["year"], ["years"]):
            return 365 * int(number.group(1))
        return int(number.group(1))
    if token in ("lifetime", "life"):
        rest = following[1:] if token == "life" and nxt == "time" else following
        rest = rest[1:] if rest[:1] == ["auto"] else rest
        return -1 if rest[:1] and rest[0] in _PROMISES else None
    if token not in _PROMISES:
        return None
    # "30 Days (Auto) Refill": the period comes first.
    back = tokens[max(0, index - 3):index]
    if back[-1:] == ["auto"]:
        back = back[:-1]
    unit = back[-1:] and back[-1] in _DAY_WORDS
    if unit:
        back = back[:-1]
    number = _NUMBER_DAYS.fullmatch(back[-1]) if back else None
    if number and (number.group(2) or unit):
        return int(number.group(1))
    # "Refill: 30 days", "Guarantee Lifetime".
    if nxt == "lifetime" or following[:2] == ["life", "time"]:
        return -1
    number = _NUMBER_DAYS.fullmatch(nxt)
    if number and (number.group(2) or following[1:2] and following[1] in _DAY_WORDS):
        return int(number.group(1))
    return None


def _description_guarantee(description: str) -> int | None:
    """A guarantee stated near the first promise word of a description; reading
    only that window keeps long descriptions cheap."""
    lowered = description.casefold()
    positions = [position for position in map(lowered.find, _DESCRIPTION_CUES) if position >= 0]
    if not positions:
        return None
    first = min(positions)
    tokens = _tokens(normalise(lowered[max(0, first - 24):first + 40]))
    for index, token in enumerate(tokens):
        if token in _GUARANTEE_CUES:
            days = _guarantee_at(tokens, index)
            if days is not None:
                return days
    return None


# Metrics that describe how a service is sold rather than what it delivers:
# "[Best SEO] YouTube Views" sells views, "Facebook Emoji Post Likes" likes.
_WEAK_METRICS = frozenset({"seo", "promotion", "ranking", "reactions"})


def _first_metric(metrics: list[str]) -> str | None:
    """The first metric hit that names a deliverable, else the first at all (an
    empty string is a phrase that said "not a metric")."""
    strong = [metric for metric in metrics if metric and metric not in _WEAK_METRICS]
    if strong:
        # An install that leaves a rating or review is sold for the review.
        if strong[0] == "installs" and ("reviews" in strong or "ratings" in strong):
            return next(metric for metric in strong if metric in ("reviews", "ratings"))
        return strong[0]
    return next((metric for metric in metrics if metric), None)


def _target_platform(platforms: list[tuple[str, bool]]) -> str | None:
    """The first platform not named as a traffic source."""
    for platform, source in platforms:
        if not source:
            return platform
    return None


def _metric_or_accounts(metric: str | None, platform: str | None) -> str | None:
    """`metric`, else "accounts" for a platform whose services are subscriptions sold as accounts."""
    if metric is None and platform in _ACCOUNT_PLATFORMS:
        return "accounts"
    return metric


def classify(name: str, category: str | None = None, description: str | None = None) -> Taxonomy:
    """What a service sells, from its name; the category fills what the name
    leaves out, and the description only the platform (from links such as
    open.spotify.com) and the guarantee."""
    listing = _classify_listing(name, category)
    if not description or (listing.platform is not None and listing.guarantee_days is not None):
        return listing
    return _with_description(listing, description)


@lru_cache(maxsize=65536)
def _with_description(listing: Taxonomy, description: str) -> Taxonomy:
    """`listing` with what the description adds: a platform from its links, a guarantee."""
    platform = listing.platform or _linked_platform(description)
    metric = _metric_or_accounts(listing.metric, platform)
    guarantee = listing.guarantee_days
    if guarantee is None:
        guarantee = _description_guarantee(description)
    return Taxonomy(platform=platform, metric=metric, geo=listing.geo, device=listing.device,
                    premium=listing.premium, guarantee_days=guarantee)


@lru_cache(maxsize=65536)
def _classify_listing(name: str, category: str | None) -> Taxonomy:
    """`classify` from the name and category alone: resellers repeat a name and category
    under many descriptions (the 200-site sandbox: 10,200 pairs in 16,300 services)."""
    text = normalise(name)
    hits = _scan(text)
    platform = _target_platform(hits.platforms)
    metric = _first_metric(hits.metrics)
    geo = hits.geo
    if category and (platform is None or metric is None or not geo):
        category_hits = _category_hits(category)
        platform = platform or _target_platform(category_hits.platforms)
        metric = metric or _first_metric(category_hits.metrics)
        geo = geo or category_hits.geo
    if metric in ("traffic", "seo") and (platform is None or platform in _TRAFFIC_SOURCES):
        platform = "website"
    elif platform == "website" and metric is None:
        metric = "traffic"
    metric = _metric_or_accounts(metric, platform)
    guarantee = hits.guarantee_days
    return Taxonomy(
        platform=platform,
        metric=metric,
        geo=tuple(dict.fromkeys(geo)),
        device=hits.devices[0] if hits.devices else None,
        premium=hits.premium,
        guarantee_days=guarantee,
    )


def clear_caches() -> None:
    """Forget every name, category and description classified so far (to time a cold start)."""
    for cached in (_classify_listing, _with_description, _category_hits):
        cached.cache_clear()
