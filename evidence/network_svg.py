"""A picture of the network around one site, drawn as inline SVG from its Link rows.

Upstreams (who the site buys from) sit above it, resellers (who buy from it)
below, sites sharing infrastructure beside it. Arrows point from buyer to
seller, as money flows. No layout library: the picture is small and fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .facts import LinkFact

WIDTH = 900
ROW_HEIGHT = 110
PER_ROW = 6
MAX_RESELLERS = 30
MAX_SHARED = 4
NODE_W, NODE_H = 132, 34
COLOURS = {"site": "#1f4e79", "upstream": "#9c2f2f", "reseller": "#2f6f3e", "shared": "#6b6b6b"}


def _label(text: str) -> str:
    return escape(text if len(text) <= 22 else text[:21] + "…")


def _node(x: float, y: float, text: str, role: str) -> str:
    return (f'<g><rect x="{x - NODE_W / 2:.0f}" y="{y - NODE_H / 2:.0f}" width="{NODE_W}" height="{NODE_H}" '
            f'rx="6" fill="{COLOURS[role]}"/><text x="{x:.0f}" y="{y + 5:.0f}" text-anchor="middle" '
            f'font-size="12" fill="#fff">{_label(text)}</text><title>{escape(text)}</title></g>')


def _edge(x1: float, y1: float, x2: float, y2: float, role: str) -> str:
    dash = ' stroke-dasharray="5,4"' if role == "shared" else ""
    marker = "" if role == "shared" else ' marker-end="url(#arrow)"'
    return (f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="{COLOURS[role]}" '
            f'stroke-width="1.2" stroke-opacity="0.7"{dash}{marker}/>')


def _caption(x: float, y: float, text: str) -> str:
    """A link's caption, written beside the node at its far end so captions never pile up in the centre."""
    return f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="middle" font-size="10" fill="#333">{escape(text)}</text>'


def _row_positions(count: int, y: float) -> list[tuple[float, float]]:
    step = WIDTH / (min(count, PER_ROW) + 1)
    return [(step * (index % PER_ROW + 1), y + ROW_HEIGHT * (index // PER_ROW)) for index in range(count)]


def _describe(link: LinkFact) -> str:
    parts = [f"{link.confidence:.0%} sure"]
    if link.markup is not None:
        parts.append(f"markup x{link.markup:.2f}")
    return ", ".join(parts)


def network_svg(domain: str, links: Sequence[LinkFact]) -> str:
    """The SVG markup (an `<svg>` element) for `domain` and its links."""
    upstreams = [link for link in links if link.direction == "upstream"]
    resellers = [link for link in links if link.direction == "reseller"]
    shared = [link for link in links if link.direction == "shared"][:MAX_SHARED]
    shown = resellers[:MAX_RESELLERS]
    top = 50
    centre_y = top + (ROW_HEIGHT * ((len(upstreams) - 1) // PER_ROW + 1) if upstreams else 0) + 20
    reseller_y = centre_y + ROW_HEIGHT
    reseller_rows = (len(shown) - 1) // PER_ROW + 1 if shown else 0
    height = reseller_y + ROW_HEIGHT * reseller_rows + (30 if len(resellers) > len(shown) else 0) + 40
    centre_x = WIDTH / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" '
        f'role="img" aria-label="Network around {escape(domain)}" font-family="sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>',
    ]
    edges, nodes = [], []  # edges first, so that no line crosses over a node's label
    for (x, y), link in zip(_row_positions(len(upstreams), top), upstreams, strict=True):
        edges.append(_edge(centre_x, centre_y - NODE_H / 2, x, y + NODE_H / 2, "upstream"))
        nodes += [_node(x, y, link.other, "upstream"), _caption(x, y + NODE_H / 2 + 12, _describe(link))]
    for (x, y), link in zip(_row_positions(len(shown), reseller_y), shown, strict=True):
        edges.append(_edge(x, y - NODE_H / 2, centre_x, centre_y + NODE_H / 2, "reseller"))
        nodes += [_node(x, y, link.other, "reseller"), _caption(x, y + NODE_H / 2 + 12, _describe(link))]
    side_x = [centre_x - 260, centre_x + 260, centre_x - 400, centre_x + 400]
    for x, link in zip(side_x[:len(shared)], shared, strict=True):
        edges.append(_edge(centre_x, centre_y, x, centre_y, "shared"))
        nodes += [_node(x, centre_y, link.other, "shared"),
                  _caption(x, centre_y + NODE_H / 2 + 12, link.kind.replace("shares_", "same "))]
    parts += edges + nodes
    parts.append(_node(centre_x, centre_y, domain, "site"))
    if len(resellers) > len(shown):
        parts.append(f'<text x="{centre_x:.0f}" y="{height - 50:.0f}" text-anchor="middle" font-size="12">'
                     f'and {len(resellers) - len(shown)} more resellers (see the table)</text>')
    legend = [("site", "this site"), ("upstream", "sells to it (upstream)"), ("reseller", "buys from it (reseller)"),
              ("shared", "shares infrastructure")]
    for index, (role, text) in enumerate(legend):
        x = 20 + index * 220
        parts.append(f'<rect x="{x}" y="{height - 22}" width="12" height="12" fill="{COLOURS[role]}"/>'
                     f'<text x="{x + 18}" y="{height - 12}" font-size="11">{text}</text>')
    if not links:
        parts.append(f'<text x="{centre_x:.0f}" y="{centre_y + 45:.0f}" text-anchor="middle" font-size="12">'
                     'no links computed for this site</text>')
    parts.append("</svg>")
    return "".join(parts)
