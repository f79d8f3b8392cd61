"""Currency conversion to USD with a fixed table, stored with each crawl.

No live rate service: the table in force is part of the run's record, so a
converted price can always be recomputed and explained.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

# USD per unit of each currency; override per crawl with the PANELMAP_RATES setting
# (`rates` in the [crawl] table of the config file).
DEFAULT_USD_RATES: dict[str, str] = {
    "USD": "1",
    "EUR": "1.08",
    "GBP": "1.27",
    "INR": "0.012",
    "RUB": "0.011",
    "TRY": "0.031",
    "BRL": "0.18",
    "IDR": "0.000064",
    "PKR": "0.0036",
    "BDT": "0.0091",
    "NGN": "0.00067",
    "VND": "0.000040",
    "UAH": "0.024",
    "KZT": "0.0021",
    "PHP": "0.018",
    "MXN": "0.055",
    "AED": "0.27",
    "SAR": "0.27",
    "CNY": "0.14",
}


class RateTable:
    def __init__(self, usd_per_unit: Mapping[str, Decimal]):
        self._rates = {code.upper(): rate for code, rate in usd_per_unit.items()}

    @classmethod
    def from_setting(cls, overrides: Mapping[str, object] | None = None) -> RateTable:
        table = {**DEFAULT_USD_RATES, **{str(k): str(v) for k, v in (overrides or {}).items()}}
        return cls({code: Decimal(rate) for code, rate in table.items()})

    def to_usd(self, amount: Decimal, currency: str) -> Decimal | None:
        """`amount` in USD, or None for a currency the table does not know."""
        rate = self._rates.get(currency.upper())
        return None if rate is None else amount * rate

    def as_strings(self) -> dict[str, str]:
        return {code: format(rate, "f") for code, rate in sorted(self._rates.items())}
