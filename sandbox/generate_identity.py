"""The identifiers an operator leaves on its sites: names, tracking ids, payment accounts,
crypto addresses, favicons. Everything is drawn from a `random.Random` the caller owns, so
a world is reproducible; formats follow the real ones closely enough that extractors tuned
on real pages (checksummed addresses, id shapes) work here unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

_ALNUM = string.ascii_letters + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits

_NAME_HEADS = (
    "boost",
    "smm",
    "follow",
    "social",
    "insta",
    "viral",
    "fame",
    "growth",
    "likes",
    "rapid",
    "mega",
    "top",
    "star",
    "prime",
    "cheap",
    "best",
    "turbo",
    "hype",
    "stream",
    "king",
    "fast",
    "real",
    "elite",
    "gold",
    "alpha",
    "nova",
    "peak",
    "buzz",
    "trend",
    "spark",
    "fans",
    "plays",
    "media",
    "pixel",
    "rocket",
    "lion",
    "tiger",
    "panda",
    "cyber",
    "cloud",
)
_NAME_TAILS = (
    "panel",
    "smm",
    "followers",
    "likes",
    "boost",
    "hub",
    "zone",
    "world",
    "store",
    "market",
    "pro",
    "plus",
    "point",
    "house",
    "lab",
    "gram",
    "media",
    "social",
    "fans",
    "promo",
)
_NAME_SUFFIXES = {"": "", "-pro": " Pro", "-panel": " Panel", "-smm": " SMM", "24": "24", "-hq": " HQ", "-club": " Club"}
_TLDS = (".com", ".com", ".com", ".net", ".org", ".io", ".co", ".in", ".xyz", ".store", ".online", ".shop", ".live")


def reseller_name(rng: random.Random, taken: set[str]) -> tuple[str, str]:
    """A fresh (domain, brand) pair such as ("boostfollowers-pro.com", "BoostFollowers Pro")."""
    while True:
        head, tail = rng.choice(_NAME_HEADS), rng.choice(_NAME_TAILS)
        suffix = rng.choice(("", "", "", *_NAME_SUFFIXES))
        domain = f"{head}{tail}{suffix}{rng.choice(_TLDS)}"
        if head != tail and domain not in taken:
            taken.add(domain)
            words = ("SMM" if word == "smm" else word.capitalize() for word in (head, tail))
            return domain, "".join(words) + _NAME_SUFFIXES[suffix]


HEX = "0123456789abcdef"
URLSAFE = _ALNUM + "-_"


def token(rng: random.Random, length: int, alphabet: str = _ALNUM) -> str:
    """`length` characters of `alphabet`; hex and URL-safe base64 take a fast path."""
    if alphabet == HEX:
        return f"{rng.getrandbits(4 * length):0{length}x}"
    if alphabet == URLSAFE:
        return base64.urlsafe_b64encode(rng.randbytes(length * 3 // 4 + 3)).decode()[:length]
    return "".join(rng.choices(alphabet, k=length))


def digits(rng: random.Random, length: int) -> str:
    return str(rng.randint(1, 9)) + token(rng, length - 1, string.digits)


@dataclass(frozen=True)
class Analytics:
    """Tracking ids as they appear in page snippets; absent ones are None."""

    ga_ua: str | None = None
    ga4: str | None = None
    gtm: str | None = None
    fb_pixel: str | None = None
    yandex_metrika: str | None = None
    adsense: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in self.__dict__.items() if value}


def analytics(rng: random.Random) -> Analytics:
    """Some of the five trackers panels use, never all of them."""
    return Analytics(
        ga_ua=f"UA-{digits(rng, rng.choice((8, 9)))}-{rng.randint(1, 3)}" if rng.random() < 0.5 else None,
        ga4="G-" + token(rng, 10, _UPPER_ALNUM) if rng.random() < 0.7 else None,
        gtm="GTM-" + token(rng, 7, _UPPER_ALNUM) if rng.random() < 0.35 else None,
        fb_pixel=digits(rng, rng.choice((15, 16))) if rng.random() < 0.4 else None,
        yandex_metrika=digits(rng, 8) if rng.random() < 0.3 else None,
        adsense="pub-" + digits(rng, 16) if rng.random() < 0.1 else None,
    )


@dataclass(frozen=True)
class Payment:
    """One payment endpoint: `identifier` is the account/merchant value a page exposes in
    `field`, `host` the processor host the form posts to or the script loads from."""

    processor: str
    identifier: str
    host: str
    field: str
    network: str | None = None  # crypto addresses only: "BTC", "TRC20", "ERC20"

    def as_dict(self) -> dict[str, str]:
        out = {"processor": self.processor, "identifier": self.identifier, "host": self.host, "field": self.field}
        if self.network:
            out["network"] = self.network
        return out


_MASTERCARD_HOSTS = (
    "bobsal.gateway.mastercard.com",
    "ap-gateway.mastercard.com",
    "eu-gateway.mastercard.com",
    "nbad.gateway.mastercard.com",
    "ahlibank.gateway.mastercard.com",
)


def payments(rng: random.Random, *, required: tuple[str, ...] = (), mastercard_host: str | None = None) -> list[Payment]:
    """An operator's payment rails: some processors (at least `required`) plus crypto
    deposit addresses."""
    methods: list[Payment] = []
    if "payeer" in required or rng.random() < 0.75:
        methods.append(Payment("payeer", digits(rng, rng.choice((9, 10))), "payeer.com", "m_shop"))
    if rng.random() < 0.55:
        methods.append(Payment("perfectmoney", "U" + digits(rng, rng.choice((7, 8))), "perfectmoney.is", "PAYEE_ACCOUNT"))
    if rng.random() < 0.4:
        methods.append(Payment("stripe", "pk_live_51" + token(rng, 97), "js.stripe.com", "publishable_key"))
    if rng.random() < 0.45:
        methods.append(Payment("paypal", "A" + token(rng, 79, URLSAFE), "www.paypal.com", "client-id"))
    if "mastercard" in required or rng.random() < 0.3:
        host = mastercard_host or rng.choice(_MASTERCARD_HOSTS)
        methods.append(Payment("mastercard", host.split(".")[0].split("-")[0].upper() + digits(rng, 8), host, "merchant"))
    if rng.random() < 0.5:
        methods.append(Payment("coinpayments", token(rng, 32, HEX), "www.coinpayments.net", "merchant"))
    if rng.random() < 0.25:
        invoice = hashlib.md5(token(rng, 16).encode()).hexdigest()
        uuid = f"{invoice[:8]}-{invoice[8:12]}-4{invoice[13:16]}-a{invoice[17:20]}-{invoice[20:32]}"
        methods.append(Payment("cryptomus", uuid, "pay.cryptomus.com", "invoice"))
    methods.append(Payment("crypto", btc_address(rng), "", "address", "BTC"))
    methods.append(Payment("crypto", tron_address(rng), "", "address", "TRC20"))
    if rng.random() < 0.6:
        methods.append(Payment("crypto", "0x" + token(rng, 40, HEX), "", "address", "ERC20"))
    return methods


# --- crypto addresses with valid checksums ---------------------------------------------

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def btc_address(rng: random.Random) -> str:
    """A P2WPKH bech32 address (BIP 173) for a random 20-byte key hash."""
    program = rng.randbytes(20)
    acc, bits, data = 0, 0, [0]  # witness version 0
    for byte in program:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    hrp = [ord(c) >> 5 for c in "bc"] + [0] + [ord(c) & 31 for c in "bc"]
    polymod = _bech32_polymod(hrp + data + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return "bc1" + "".join(_BECH32[d] for d in data + checksum)


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def tron_address(rng: random.Random) -> str:
    """A TRON (USDT-TRC20) address: base58check of 0x41 + 20 bytes."""
    payload = b"\x41" + rng.randbytes(20)
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number, out = int.from_bytes(raw, "big"), ""
    while number:
        number, rest = divmod(number, 58)
        out = _BASE58[rest] + out
    return out


# --- favicons ---------------------------------------------------------------------------


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Favicon:
    data: bytes
    content_type: str  # "image/x-icon" or "image/png"


def favicon(rng: random.Random) -> Favicon:
    """A 16x16 mirrored-pattern icon (identicon style), as PNG or as an ICO wrapping it."""
    size = 16
    fg = bytes((rng.randrange(256), rng.randrange(256), rng.randrange(256), 255))
    bg = bytes((rng.randrange(256), rng.randrange(256), rng.randrange(256), 255 if rng.random() < 0.5 else 0))
    cells = [[rng.random() < 0.5 for _ in range(4)] for _ in range(8)]
    rows = []
    for y in range(size):
        half = [fg if cells[y // 2][x // 2] else bg for x in range(8)]
        rows.append(b"".join(half + half[::-1]))
    png = _png(size, size, rows)
    if rng.random() < 0.5:
        return Favicon(png, "image/png")
    directory = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 22)
    return Favicon(directory + png, "image/x-icon")


@dataclass(frozen=True)
class Contacts:
    email: str
    telegram: str | None = None
    whatsapp: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in self.__dict__.items() if value}


_COUNTRY_PHONES = ("+91 9{}", "+92 3{}", "+90 5{}", "+234 8{}", "+7 9{}", "+880 1{}", "+1 {}")


def contacts(rng: random.Random, handle: str, domain: str) -> Contacts:
    email = f"{handle}.support@gmail.com" if rng.random() < 0.4 else f"support@{domain}"
    telegram = "@" + handle + rng.choice(("_support", "smm", "_admin", "")) if rng.random() < 0.7 else None
    whatsapp = rng.choice(_COUNTRY_PHONES).format(digits(rng, 9)) if rng.random() < 0.5 else None
    return Contacts(email, telegram, whatsapp)


@dataclass
class OperatorKit:
    """What one operator reuses across its sites; each site takes some of it."""

    handle: str
    analytics: Analytics
    favicon: Favicon
    payments: list[Payment]
    contacts: Contacts
    tenant_code: str
    dns_tokens: dict[str, str] = field(default_factory=dict)


def dns_tokens(rng: random.Random) -> dict[str, str]:
    tokens = {}
    if rng.random() < 0.6:
        tokens["google-site-verification"] = token(rng, 43, URLSAFE)
    if rng.random() < 0.35:
        tokens["facebook-domain-verification"] = token(rng, 30, LOWER_ALNUM)
    if rng.random() < 0.25:
        tokens["stripe-verification"] = token(rng, 64, HEX)
    return tokens


def operator_kit(rng: random.Random, handle: str, domain: str, **payment_options: Any) -> OperatorKit:
    return OperatorKit(
        handle=handle,
        analytics=analytics(rng),
        favicon=favicon(rng),
        payments=payments(rng, **payment_options),
        contacts=contacts(rng, handle, domain),
        tenant_code=token(rng, 6, LOWER_ALNUM),
        dns_tokens=dns_tokens(rng),
    )
