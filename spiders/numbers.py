"""Reading the numbers panels display: rates, currencies, quantities, average times.

Panels print numbers for people, in whatever locale the theme or operator chose:
"1.1025", "$ 2500.00", "₹200.00", "200 000", "1,000", "1.000,50", "NGN 2500.00".
Everything here is a pure function over one cell's text, so the page objects
stay short and the rules are tested in one place.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

# A max of 2**31 - 1 (or more) is the integer column's ceiling, which panel
# software shows when the operator set no limit. Smaller round values
# (999999999, 1000000000: 280 services in the sample) are limits an operator
# typed; they are kept as numbers because identical min/max is a reseller clue.
UNLIMITED_MAX = 2**31 - 1

# Digit groups separated by spaces (plain, no-break, narrow no-break, thin) or
# apostrophes are one number ("200 000", "1'000"); other runs of digits with
# dots and commas are read by `_read_separators`.
_NUMBER = re.compile(
    r"\d{1,3}(?:[ \u00a0\u202f\u2009']\d{3})+(?:[.,]\d+)?(?!\d)"
    r"|\d(?:[\d.,]*\d)?"
)
_GROUP_SPACE = re.compile(r"[ \u00a0\u202f\u2009']")
_QUANTITY = re.compile(r"\d{1,3}(?:[ \u00a0\u202f\u2009',.]\d{3})+(?!\d)|\d+")

# Currencies whose prices are shown without minor units and with a dot between
# thousands ("Rp 15.000" is fifteen thousand rupiah).
_DOT_THOUSANDS = frozenset({"IDR", "VND", "COP", "CLP", "PYG", "KRW"})

# Symbols and words that name a currency, longest first so "R$" wins over "$".
_SYMBOLS: tuple[tuple[str, str], ...] = tuple(sorted({
    "US$": "USD", "A$": "AUD", "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "NZ$": "NZD",
    "S$": "SGD", "HK$": "HKD", "R$": "BRL", "MX$": "MXN",
    "€": "EUR", "₹": "INR", "₽": "RUB", "руб": "RUB", "£": "GBP", "₺": "TRY",
    "₦": "NGN", "Rp": "IDR", "৳": "BDT", "₱": "PHP", "₫": "VND", "₴": "UAH",
    "₩": "KRW", "zł": "PLN", "₸": "KZT", "₼": "AZN", "₾": "GEL", "฿": "THB",
    "﷼": "SAR", "Kč": "CZK", "Ft": "HUF", "lei": "RON",
    "$": "USD",
}.items(), key=lambda pair: -len(pair[0])))
# "$" alone names a dollar but not which one: a page-level currency among
# these wins over it.
_DOLLAR_CURRENCIES = frozenset({"USD", "AUD", "CAD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD"})

# ISO 4217 codes a panel plausibly shows (its currency selector lists a few of
# these), matched as whole words. They are looked for only in rate cells,
# column titles and currency selectors, where "TRY" is not an English verb.
ISO_CODES = frozenset({
    "USD", "EUR", "GBP", "INR", "RUB", "TRY", "NGN", "IDR", "BDT", "PKR", "PHP", "VND",
    "UAH", "KRW", "JPY", "CNY", "BRL", "MXN", "ARS", "CLP", "COP", "PEN", "AUD", "CAD",
    "NZD", "SGD", "HKD", "TWD", "MYR", "THB", "AED", "SAR", "QAR", "KWD", "EGP", "MAD",
    "DZD", "TND", "KES", "GHS", "ZAR", "PLN", "CZK", "HUF", "RON", "BGN", "SEK", "NOK",
    "DKK", "CHF", "ILS", "IRR", "IQD", "KZT", "AZN", "GEL", "UZS", "BYN", "LKR", "NPR",
})
_ISO_WORD = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(ISO_CODES)) + r")(?![A-Za-z])")
_NOT_NUMERIC = re.compile(r"[^\d\s.,']")  # a cell of digits alone names no currency
# Letters-only symbols must stand as words too ("Ft" is not in "Soft").
_WORD_SYMBOLS = frozenset(symbol for symbol, _ in _SYMBOLS if symbol.isalpha())


class Currency(NamedTuple):
    """A currency read from text; `certain` is False for a bare "$"."""

    code: str
    certain: bool


def _read_separators(token: str, *, dot_thousands: bool) -> str:
    """`token` (digits, dots, commas) as a plain decimal string.

    Both separators: the last one is the decimal mark ("1.000,50", "1,000.50").
    Only commas: several, or one before exactly three digits after a non-zero
    integer part, are thousands ("1,000"); otherwise a decimal comma ("0,892",
    "1,5"). Only dots: several are thousands ("1.000.000"); one is a decimal
    point ("9.399" is a rate with three decimals), unless the currency is one
    shown without minor units.
    """
    has_dot, has_comma = "." in token, "," in token
    if has_dot and has_comma:
        decimal_mark = "." if token.rfind(".") > token.rfind(",") else ","
        grouping = "," if decimal_mark == "." else "."
        return token.replace(grouping, "").replace(decimal_mark, ".")
    if has_comma:
        whole, _, fraction = token.partition(",")
        if token.count(",") > 1 or (len(fraction) == 3 and whole.lstrip("0")):
            return token.replace(",", "")
        return f"{whole}.{fraction}"
    if has_dot and (token.count(".") > 1 or (dot_thousands and len(token.rpartition(".")[2]) == 3)):
        return token.replace(".", "")
    return token


def parse_decimal(text: str | None, *, currency: str | None = None) -> Decimal | None:
    """The first number in `text` ("$ 2500.00" -> 2500.00, "200 000" -> 200000),
    or None when there is none. `currency` helps read "Rp 15.000"."""
    if not text:
        return None
    match = _NUMBER.search(text)
    if match is None:
        return None
    token = _GROUP_SPACE.sub("", match.group())
    plain = _read_separators(token, dot_thousands=currency in _DOT_THOUSANDS)
    try:
        return Decimal(plain)
    except InvalidOperation:  # a malformed token such as "1..2"
        return None


_NOT_DIGIT = re.compile(r"\D")


def parse_quantities(text: str | None) -> list[int]:
    """Every whole quantity in `text`: "100 / 10 000" -> [100, 10000],
    "Min: 10 - Max: 20 000" -> [10, 20000]. Separators between digit groups of
    three are thousands in every locale, for quantities."""
    if not text:
        return []
    if text.isdecimal():
        return [int(text)]
    return [int(_NOT_DIGIT.sub("", token)) for token in _QUANTITY.findall(text)]


def parse_quantity(text: str | None) -> int | None:
    """The first whole quantity in `text`, or None."""
    if text and text.isdecimal():
        return int(text)
    quantities = parse_quantities(text)
    return quantities[0] if quantities else None


def split_max(value: int | None) -> tuple[int | None, bool]:
    """(max_quantity, max_unlimited): the integer ceiling means "no limit"."""
    if value is not None and value >= UNLIMITED_MAX:
        return None, True
    return value, False


def currency_in_text(text: str | None) -> Currency | None:
    """The currency `text` names by ISO code or symbol ("Rate ($ USD) per 1000",
    "₹200.00", "NGN 2500.00"), or None. An ISO code beats a symbol."""
    if not text or not _NOT_NUMERIC.search(text):
        return None
    code = _ISO_WORD.search(text)
    if code:
        return Currency(code.group(1), True)
    for symbol, iso in _SYMBOLS:
        index = text.find(symbol)
        if index < 0:
            continue
        if symbol in _WORD_SYMBOLS and not _stands_alone(text, index, len(symbol)):
            continue
        return Currency(iso, symbol != "$")
    return None


def _stands_alone(text: str, index: int, length: int) -> bool:
    before = text[index - 1] if index else " "
    after = text[index + length] if index + length < len(text) else " "
    return not before.isalpha() and not after.isalpha()


def resolve_currency(*sources: Currency | None) -> tuple[str, bool]:
    """(ISO code, assumed) from the sources in order of authority (cell, column
    title, page selector). The first certain one wins, except that a bare "$"
    before it defers only to a dollar currency; with nothing at all, USD is
    assumed, and the flag says so."""
    dollar_seen = False
    for source in sources:
        if source is None:
            continue
        if source.certain:
            if dollar_seen and source.code not in _DOLLAR_CURRENCIES:
                return "USD", False
            return source.code, False
        dollar_seen = True
    return "USD", not dollar_seen


_NO_DATA = re.compile(r"^(not enough data|no data|n/?a|-+|—)$", re.IGNORECASE)


def clean_text(text: str | None) -> str | None:
    """`text` with runs of white space collapsed and ends stripped; None if empty."""
    if text is None:
        return None
    return " ".join(text.split()) or None


def parse_average_time(text: str | None) -> str | None:
    """The average completion time as displayed ("32877 hours and 14 minutes"),
    white space collapsed; None for "Not enough data" and empty cells."""
    cleaned = clean_text(text)
    if cleaned is None or _NO_DATA.match(cleaned):
        return None
    return cleaned
