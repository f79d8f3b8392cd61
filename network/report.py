"""The network for people in a terminal: upstream trees, one site's surroundings, and the
summary `panelmap demo` ends with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from panelmap.storage import Database

from .compute import network_graph
from .graph import upstream_trees
from .html_map import render_html


def _label(node: Mapping[str, Any]) -> str:
    text = f"[bold]{node['id']}[/]"
    if node["kind"] == "unknown_upstream":
        text = f"[bold orange3]{node['id']}[/] (never crawled)"
    if node.get("markup") is not None:
        text += f"  x{node['markup']}"
    if node.get("matched_services") is not None:
        text += f"  {node['matched_services']} services"
    if node.get("confidence") is not None:
        text += f"  confidence {node['confidence']}"
    return text


def trees(graph: Mapping[str, Any]) -> list[Tree]:
    """Rich trees, one per root upstream, resellers nested under what they buy from."""
    def grow(tree: Tree, node: Mapping[str, Any]) -> None:
        for child in node["children"]:
            grow(tree.add(_label(child)), child)

    out = []
    for root in upstream_trees(graph):
        tree = Tree(_label(root))
        grow(tree, root)
        out.append(tree)
    return out


def print_network(console: Console, graph: Mapping[str, Any]) -> None:
    """Upstream trees, then the pivot edges, strongest (fewest sites sharing) first."""
    found = trees(graph)
    if not found:
        console.print("No resale links found.")
    for tree in found:
        console.print(tree)
    pivots = sorted((edge for edge in graph["edges"] if edge["kind"] != "resells"),
                    key=lambda edge: (edge["weak"], edge["pivot_count"], edge["kind"], edge["source"]))
    if pivots:
        table = Table(title="Infrastructure pivots")
        for column in ("kind", "value", "sites", "site", "shares with"):
            table.add_column(column)
        for edge in pivots:
            style = "dim" if edge["weak"] else None
            table.add_row(edge["kind"].removeprefix("shares_"), str(edge["value"]),
                          f"{edge['pivot_count']}{' (weak)' if edge['weak'] else ''}", edge["source"], edge["target"],
                          style=style)
        console.print(table)


def subgraph(graph: Mapping[str, Any], domain: str) -> dict[str, Any]:
    """The part of the graph around one site: its upstream chain, its resellers (all levels)
    and its pivot neighbours."""
    resells = [edge for edge in graph["edges"] if edge["kind"] == "resells"]
    keep = {domain}
    for direction, other in (("source", "target"), ("target", "source")):
        frontier = [domain]
        while frontier:
            current = frontier.pop()
            for edge in resells:
                if edge[direction] == current and edge[other] not in keep:
                    keep.add(edge[other])
                    frontier.append(edge[other])
    edges = [edge for edge in resells if edge["source"] in keep and edge["target"] in keep]
    for edge in graph["edges"]:
        if edge["kind"] != "resells" and domain in (edge["source"], edge["target"]):
            edges.append(edge)
            keep |= {edge["source"], edge["target"]}
    nodes = [node for node in graph["nodes"] if node["id"] in keep]
    return {"generation": graph["generation"], "nodes": nodes, "edges": edges}


def print_site(console: Console, graph: Mapping[str, Any], domain: str) -> None:
    """One site: what it buys from (up the chain), who resells it, its strongest pivots."""
    node = next(node for node in graph["nodes"] if node["id"] == domain)
    console.print(f"[bold]{domain}[/]  {node.get('role', node['kind'])}"
                  f"{', ' + node['software'] if node.get('software') else ''}"
                  f"{', tenant ' + node['tenant_code'] if node.get('tenant_code') else ''}")
    resells = [edge for edge in graph["edges"] if edge["kind"] == "resells"]
    chain = Tree("[bold]Buys from[/]")

    def up(tree: Tree, site: str, seen: frozenset[str]) -> None:
        for edge in resells:
            if edge["source"] == site and edge["target"] not in seen:
                up(tree.add(_label({"id": edge["target"], "kind": "site", **edge})), edge["target"], seen | {site})

    up(chain, domain, frozenset())
    console.print(chain if chain.children else "Buys from: no upstream found")
    below = Tree("[bold]Resellers[/]")

    def down(tree: Tree, site: str, seen: frozenset[str]) -> None:
        for edge in resells:
            if edge["target"] == site and edge["source"] not in seen:
                down(tree.add(_label({"id": edge["source"], "kind": "site", **edge})), edge["source"], seen | {site})

    down(below, domain, frozenset())
    console.print(below if below.children else "Resellers: none found")
    pivots = sorted((edge for edge in graph["edges"] if edge["kind"] != "resells" and domain in (edge["source"], edge["target"])),
                    key=lambda edge: (edge["weak"], edge["pivot_count"]))
    table = Table(title="Infrastructure and pivots (fewest sites sharing first)")
    for column in ("kind", "value", "shared by", "with"):
        table.add_column(column)
    for edge in pivots:
        other = edge["target"] if edge["source"] == domain else edge["source"]
        table.add_row(edge["kind"].removeprefix("shares_"), str(edge["value"]),
                      f"{edge['pivot_count']} sites{' (weak)' if edge['weak'] else ''}", other,
                      style="dim" if edge["weak"] else None)
    console.print(table if pivots else "Pivots: no value shared with another site")


def summarise(database: Database, workdir: Path, console: Console | None = None) -> Path:
    """Compute the network of `database`, print its upstream trees and write the HTML map to
    `workdir/network.html`; returns the map's path. What `panelmap demo` ends with."""
    console = console or Console()
    graph, _ = network_graph(database, force=True)
    console.print("\n[bold]Upstream trees[/] (reseller under the panel it buys from, with its markup)")
    found = trees(graph)
    for tree in found:
        console.print(tree)
    if not found:
        console.print("No resale links found.")
    path = Path(workdir) / "network.html"
    path.write_text(render_html(graph), encoding="utf-8")
    console.print(f"Network map (open in a browser, works offline): {path}")
    return path
