"""The add-funds page: where a panel exposes who takes its money.

Each processor appears the way its integration puts it on a page (hosted form fields,
SDK script URLs, publishable keys, deposit addresses with their network), so the page
carries the identifiers investigators take to payment providers.
"""

from __future__ import annotations

import base64
import hashlib

from .generate_identity import Payment
from .site_base import PanelSite, esc, redirect
from .world import HttpRequest, HttpResponse

_NETWORK_LABELS = {
    "BTC": ("Bitcoin (BTC)", "Send only BTC to this address."),
    "TRC20": ("USDT (TRC20)", "Send only USDT on the TRON (TRC20) network."),
    "ERC20": ("USDT / ETH (ERC20)", "Send only on the Ethereum (ERC20) network."),
}


def _payeer(site: PanelSite, p: Payment) -> str:
    order_id = f"{site.domain.split('.')[0]}-000001"
    description = base64.b64encode(f"Add funds to {site.brand}".encode()).decode()
    sign = hashlib.sha256(f"{p.identifier}:{order_id}:10.00:{site.currency}:{description}".encode()).hexdigest().upper()
    return (
        '<form method="post" action="https://payeer.com/merchant/" class="payment-form" data-method="payeer">'
        f'<input type="hidden" name="m_shop" value="{p.identifier}">'
        f'<input type="hidden" name="m_orderid" value="{order_id}">'
        '<input type="hidden" name="m_amount" value="10.00">'
        f'<input type="hidden" name="m_curr" value="{site.currency}">'
        f'<input type="hidden" name="m_desc" value="{description}">'
        f'<input type="hidden" name="m_sign" value="{sign}">'
        '<button type="submit" class="btn btn-primary">Pay with Payeer</button></form>'
    )


def _perfectmoney(site: PanelSite, p: Payment) -> str:
    return (
        '<form action="https://perfectmoney.is/api/step1.asp" method="POST" class="payment-form" data-method="perfectmoney">'
        f'<input type="hidden" name="PAYEE_ACCOUNT" value="{p.identifier}">'
        f'<input type="hidden" name="PAYEE_NAME" value="{esc(site.brand)}">'
        '<input type="hidden" name="PAYMENT_ID" value="">'
        '<input type="text" name="PAYMENT_AMOUNT" value="10">'
        '<input type="hidden" name="PAYMENT_UNITS" value="USD">'
        f'<input type="hidden" name="STATUS_URL" value="{site.url("/perfectmoney/status")}">'
        f'<input type="hidden" name="PAYMENT_URL" value="{site.url(site.style.addfunds_path + "?success=1")}">'
        f'<input type="hidden" name="NOPAYMENT_URL" value="{site.url(site.style.addfunds_path)}">'
        '<input type="hidden" name="BAGGAGE_FIELDS" value="">'
        '<input type="submit" name="PAYMENT_METHOD" value="Pay with Perfect Money" class="btn btn-primary"></form>'
    )


def _stripe(site: PanelSite, p: Payment) -> str:
    return (
        '<div class="payment-form" data-method="stripe"><div id="card-element"></div>'
        '<button id="stripe-submit" class="btn btn-primary">Pay by card</button></div>'
        '<script src="https://js.stripe.com/v3/"></script>'
        f"<script>var stripe = Stripe('{p.identifier}');\nvar elements = stripe.elements();\n"
        "var card = elements.create('card');\ncard.mount('#card-element');</script>"
    )


def _paypal(site: PanelSite, p: Payment) -> str:
    return (
        '<div class="payment-form" data-method="paypal"><div id="paypal-button-container"></div></div>'
        f'<script src="https://www.paypal.com/sdk/js?client-id={p.identifier}&currency={site.currency}&intent=capture"></script>'
        "<script>paypal.Buttons({createOrder: function(data, actions) {return actions.order.create({purchase_units: "
        "[{amount: {value: document.getElementById('amount').value}}]});}}).render('#paypal-button-container');</script>"
    )


def _mastercard(site: PanelSite, p: Payment) -> str:
    return (
        '<div class="payment-form" data-method="card">'
        '<button class="btn btn-primary" onclick="Checkout.showPaymentPage();">Pay with Visa / Mastercard</button></div>'
        f'<script src="https://{p.host}/static/checkout/checkout.min.js" data-error="errorCallback" data-cancel="cancelCallback">'
        "</script>"
        f"<script>Checkout.configure({{\n  merchant: '{p.identifier}',\n"
        f"  order: {{ currency: '{site.currency}', description: 'Balance top-up' }},\n"
        f"  interaction: {{ merchant: {{ name: '{esc(site.brand)}' }}, displayControl: {{ billingAddress: 'HIDE' }} }}\n"
        "});</script>"
    )


def _coinpayments(site: PanelSite, p: Payment) -> str:
    return (
        '<form action="https://www.coinpayments.net/index.php" method="post" class="payment-form" data-method="coinpayments">'
        '<input type="hidden" name="cmd" value="_pay_simple"><input type="hidden" name="reset" value="1">'
        f'<input type="hidden" name="merchant" value="{p.identifier}">'
        f'<input type="hidden" name="item_name" value="{esc(site.brand)} balance">'
        '<input type="hidden" name="currency" value="USD"><input type="text" name="amountf" value="10.00">'
        '<input type="hidden" name="want_shipping" value="0">'
        f'<input type="hidden" name="success_url" value="{site.url(site.style.addfunds_path)}">'
        '<button type="submit" class="btn btn-primary">Pay with CoinPayments</button></form>'
    )


def _cryptomus(site: PanelSite, p: Payment) -> str:
    return (
        '<div class="payment-form" data-method="cryptomus">'
        f'<a class="btn btn-primary" href="https://pay.cryptomus.com/pay/{p.identifier}" target="_blank">Pay with Cryptomus</a>'
        "</div>"
    )


def _crypto(site: PanelSite, p: Payment) -> str:
    label, warning = _NETWORK_LABELS[p.network or "BTC"]
    return (
        f'<div class="crypto-wallet" data-network="{p.network}"><label>{label}</label>'
        f'<div class="input-group"><input type="text" class="form-control" readonly value="{p.identifier}">'
        '<span class="input-group-btn">'
        f'<button class="btn btn-default" data-clipboard-text="{p.identifier}">Copy</button></span></div>'
        f'<small class="text-muted">{warning}</small></div>'
    )


_RENDER = {
    "payeer": ("Payeer", _payeer),
    "perfectmoney": ("Perfect Money", _perfectmoney),
    "stripe": ("Credit card (Stripe)", _stripe),
    "paypal": ("PayPal", _paypal),
    "mastercard": ("Visa / Mastercard", _mastercard),
    "coinpayments": ("CoinPayments", _coinpayments),
    "cryptomus": ("Cryptomus", _cryptomus),
    "crypto": ("Crypto (manual)", _crypto),
}


def addfunds_body(site: PanelSite) -> str:
    processors = list(dict.fromkeys(p.processor for p in site.payments))
    options = "".join(f'<option value="{i + 1}">{_RENDER[name][0]}</option>' for i, name in enumerate(processors))
    sections = []
    for i, name in enumerate(processors):
        forms = "".join(_RENDER[name][1](site, p) for p in site.payments if p.processor == name)
        sections.append(f'<div class="method-panel" data-method-id="{i + 1}"><h4>{_RENDER[name][0]}</h4>{forms}</div>')
    return (
        '<div class="container addfunds"><div class="well">'
        f'<form method="post" action="{site.style.addfunds_path}"><input type="hidden" name="_csrf" value="{site.options.csrf}">'
        '<div class="form-group"><label for="method" class="control-label">Method</label>'
        f'<select class="form-control" id="method" name="AddFoundsForm[type]">{options}</select></div>'
        '<div class="form-group"><label for="amount" class="control-label">Amount</label>'
        '<input type="text" class="form-control" id="amount" name="AddFoundsForm[amount]" value=""></div></form>'
        f"{''.join(sections)}</div></div>"
    )


async def addfunds_page(site: PanelSite, request: HttpRequest) -> HttpResponse:
    signed_in = site.signed_in(request)
    if not (signed_in or site.options.addfunds_public):
        return redirect(site.style.signin_path)
    return site.html(site.style.layout(site, f"Add funds - {site.brand}", addfunds_body(site), signed_in=signed_in))
