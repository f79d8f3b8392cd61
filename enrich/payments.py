"""Payments: who takes a site's money, read from its add-funds and checkout pages.

The identifiers are the ones a payment provider can act on: Payeer's `m_shop`,
Perfect Money's `PAYEE_ACCOUNT`, CoinPayments' `merchant`, a Stripe publishable
key, a PayPal client id or `business`, the Mastercard Gateway host and merchant,
Cryptomus invoice links and crypto deposit addresses with their network. The
crawler fetches those pages (with the investigator's session cookie where they
need a login); this enricher only reads its captures.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap.storage import upsert
from panelmap.storage.models import Capture, PaymentEndpoint

from .base import Enricher, SiteTarget, read_capture
from .html import Form, Page, decode_body, page_text, parse_page

# Paths of pages that show payment rails (Perfect Panel /addfunds, SmartPanel /add_funds, shops' checkouts).
PAYMENT_PAGE = re.compile(r"/(add-?_?funds?|deposit|checkout|payments?|top-?up|billing|wallet|recharge)(/|$|\?)", re.I)

_STRIPE_KEY = re.compile(r"\bpk_live_[0-9A-Za-z]{10,}")
_MASTERCARD_MERCHANT = re.compile(r"""\bmerchant\s*:\s*['"]([A-Za-z0-9_.-]{3,64})['"]""")
_INVOICE = re.compile(r"^/pay/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b")
_INVOICE_HOSTS = {"pay.cryptomus.com": "cryptomus", "pay.heleket.com": "heleket"}

_BECH32_ADDRESS = re.compile(r"(?<![0-9A-Za-z])(bc1|ltc1)([02-9ac-hj-np-z]{8,87})(?![0-9A-Za-z])")
_BASE58_ADDRESS = re.compile(r"(?<![0-9A-Za-z])([13LMT][1-9A-HJ-NP-Za-km-z]{25,34})(?![0-9A-Za-z])")
_EVM_ADDRESS = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9A-Za-z])")
# Labels before an 0x address that say which EVM chain it is meant for: the closest one
# wins; ERC20 when none is in sight.
_EVM_NETWORKS = (("ERC20", re.compile(r"ERC-?20|Ethereum|\bETH\b", re.I)),
                 ("BEP20", re.compile(r"BEP-?20|\bBSC\b|BNB Smart Chain", re.I)),
                 ("POLYGON", re.compile(r"Polygon|\bMATIC\b", re.I)),
                 ("ARBITRUM", re.compile(r"Arbitrum", re.I)))
_LABEL_REACH = 300
# base58check version bytes -> network.
_BASE58_VERSIONS = {0x00: "BTC", 0x05: "BTC", 0x30: "LTC", 0x32: "LTC", 0x41: "TRC20"}


@dataclass(frozen=True)
class PaymentFinding:
    """One payment rail as a page shows it."""

    # The names PaymentEndpoint documents: payeer / perfect_money / coinpayments / stripe / paypal /
    # mastercard_gateway / cryptomus / heleket / crypto.
    processor: str
    identifier: str  # the merchant, account, key, invoice or address
    host: str = ""  # the processor host the page posts to or loads from; "" for bare crypto addresses
    form_action: str | None = None
    crypto_network: str | None = None  # BTC / LTC / TRC20 / ERC20 / BEP20 ...


# Hosted forms: processor, the host suffix their action posts to, the field naming the merchant.
_FORM_RAILS = (
    ("payeer", ("payeer.com",), "m_shop"),
    ("perfect_money", ("perfectmoney.is", "perfectmoney.com"), "PAYEE_ACCOUNT"),
    ("coinpayments", ("coinpayments.net",), "merchant"),
    ("paypal", ("paypal.com",), "business"),
)


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _on(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def _from_forms(forms: list[Form]) -> list[PaymentFinding]:
    found = []
    for form in forms:
        host = _host_of(form.action)
        for processor, suffixes, field_name in _FORM_RAILS:
            if any(_on(host, suffix) for suffix in suffixes):
                identifier = form.fields.get(field_name, "").strip()
                if identifier:
                    found.append(PaymentFinding(processor, identifier, host, form.action))
    return found


def _from_urls(page: Page) -> list[PaymentFinding]:
    found = []
    for url in dict.fromkeys(page.scripts + page.urls):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if _on(host, "paypal.com") and parts.path.startswith("/sdk/js"):
            for client_id in parse_qs(parts.query).get("client-id", []):
                found.append(PaymentFinding("paypal", client_id, host))
        elif host.endswith(".gateway.mastercard.com") or host.endswith("-gateway.mastercard.com"):
            merchants = [m for script in page.inline_scripts if "Checkout.configure" in script
                         for m in _MASTERCARD_MERCHANT.findall(script)]
            found.append(PaymentFinding("mastercard_gateway", merchants[0] if merchants else "", host))
        elif host in _INVOICE_HOSTS and (match := _INVOICE.match(parts.path)):
            found.append(PaymentFinding(_INVOICE_HOSTS[host], match.group(1).lower(), host, url))
    return found


def _from_stripe(page: Page, text: str) -> list[PaymentFinding]:
    stripe_hosts = [_host_of(src) for src in page.scripts if _on(_host_of(src), "stripe.com")]
    host = stripe_hosts[0] if stripe_hosts else ""
    return [PaymentFinding("stripe", key, host) for key in dict.fromkeys(_STRIPE_KEY.findall(text))]


def _from_addresses(text: str) -> list[PaymentFinding]:
    found = []
    for match in _BECH32_ADDRESS.finditer(text):
        address = match.group(0)
        if _bech32_valid(address.lower()):
            network = "BTC" if address.startswith("bc1") else "LTC"
            found.append(PaymentFinding("crypto", address, crypto_network=network))
    for match in _BASE58_ADDRESS.finditer(text):
        network = _base58check_network(match.group(1))
        if network:
            found.append(PaymentFinding("crypto", match.group(1), crypto_network=network))
    for match in _EVM_ADDRESS.finditer(text):
        found.append(PaymentFinding("crypto", match.group(0), crypto_network=_evm_network(text, match.start())))
    return found


def _evm_network(text: str, position: int) -> str:
    before = text[max(0, position - _LABEL_REACH):position]
    labels = [(label_match.end(), name) for name, label in _EVM_NETWORKS for label_match in label.finditer(before)]
    return max(labels)[1] if labels else "ERC20"


def extract_payments(html: str, base_url: str) -> list[PaymentFinding]:
    """Every payment rail on a page, once each, in page order."""
    page = parse_page(html, base_url)
    text = page_text(html)
    findings = _from_forms(page.forms) + _from_urls(page) + _from_stripe(page, text) + _from_addresses(text)
    unique: dict[tuple[str, str, str], PaymentFinding] = {}
    for finding in findings:
        unique.setdefault((finding.processor, finding.identifier, finding.host), finding)
    return list(unique.values())


# --- address checksums: a random token must not pass for a wallet ---------------------

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _base58check_network(address: str) -> str | None:
    number = 0
    for char in address:
        number = number * 58 + _BASE58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(address) - len(address.lstrip("1"))) + raw
    if len(raw) != 25:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return _BASE58_VERSIONS.get(payload[0])


def _bech32_valid(address: str) -> bool:
    """BIP 173 / BIP 350: the checksum of bech32 (witness v0) or bech32m (v1+)."""
    hrp, _, data_part = address.rpartition("1")
    if not hrp or len(data_part) < 7:
        return False
    values = [_BECH32.index(char) for char in data_part]
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum == (1 if values[0] == 0 else 0x2BC830A3)


class PaymentsEnricher(Enricher):
    """Payment endpoints from the captured add-funds and checkout pages of the site."""

    name = "payments"

    async def enrich(self, site: SiteTarget) -> int:
        written = 0
        with self.session() as session:
            seen: set[tuple[str, str, str]] = set()
            for capture in payment_pages(session, self.run_id, site.site_id):
                stored = read_capture(capture)
                if not stored.complete:
                    self.context.stats.counters["oversized_page"] += 1
                    continue
                html = decode_body(stored.body, capture.content_type)
                for finding in extract_payments(html, capture.final_url or capture.url):
                    key = (finding.processor, finding.identifier, finding.host)
                    if key in seen:
                        continue  # the first page that showed it is its evidence
                    seen.add(key)
                    written += self._store(session, site, capture, finding)
        return written

    def _store(self, session: Session, site: SiteTarget, capture: Capture, finding: PaymentFinding) -> int:
        values = {"run_id": self.run_id, "site_id": site.site_id, "capture_id": capture.id,
                  "processor": finding.processor, "identifier": finding.identifier, "host": finding.host,
                  "form_action": finding.form_action, "crypto_network": finding.crypto_network,
                  "observed_at": capture.fetched_at}
        upsert(session, PaymentEndpoint, values, conflict=["run_id", "site_id", "processor", "identifier", "host"],
               update=["capture_id", "form_action", "crypto_network", "observed_at"])
        return 1


def payment_pages(session: Session, run_id: int, site_id: int) -> list[Capture]:
    """The site's captured pages (raw responses and rendered DOMs) that can show payment rails."""
    captures = session.scalars(
        select(Capture)
        .where(Capture.run_id == run_id, Capture.site_id == site_id, Capture.kind.in_(("response", "dom")))
        .order_by(Capture.id)
    )
    return [capture for capture in captures if capture.http_status in (None, 200)
            and PAYMENT_PAGE.search(urlsplit(capture.final_url or capture.url).path + "?")]
