"""The network as one JSON-ready graph: the stable contract every export and view reads.

    {"generation": "2024-06-15T12:00:00Z",
     "nodes": [{"id": "turboboost-hq.co", "kind": "site", "role": "reseller", ...},
               {"id": "unknown-upstream-1edb04c5", "kind": "unknown_upstream", "members": [...]},
               {"id": "asn:1f0c...", "kind": "pivot_value", "pivot": "shares_asn", "value": "AS13335"}],
     "edges": [{"source": "turboboost-hq.co", "target": "justanotherpanel.com", "kind": "resells",
                "confidence": 1.0, "markup": "3", "matched_services": 785, "evidence": {...}}, ...]}

`resells` edges go from reseller to upstream; pivot edges (`shares_ip`, `shares_ns`, ...)
join two sites, or a site and a value node when many sites share the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from panelmap.output import plain


def _role(upstream: bool, reseller: bool) -> str:
    if upstream and reseller:
        return "intermediary"
    return "upstream" if upstream else "reseller" if reseller else "independent"


def build_graph(links: list[Mapping[str, Any]], facts: Mapping[str, Mapping[str, Any]],
                generation: Any = None) -> dict[str, Any]:
    """The graph of one generation of links (`store.current_links`) over the known sites."""
    nodes: dict[str, dict[str, Any]] = {domain: {"id": domain, "kind": "site", **dict(fact)}
                                        for domain, fact in facts.items()}
    upstreams = {link["target"] for link in links if link["kind"] == "resells"}
    resellers = {link["source"] for link in links if link["kind"] == "resells"}
    edges = []
    for link in links:
        target = link["target"]
        if not link["target_is_site"] and target not in nodes:
            if link["kind"] == "resells":
                cluster = link["evidence"].get("cluster", {})
                nodes[target] = {"id": target, "kind": "unknown_upstream", "members": cluster.get("members", []),
                                 "markups": cluster.get("markups", {})}
            else:
                nodes[target] = {"id": target, "kind": "pivot_value", "pivot": link["kind"], "value": link["value"],
                                 "pivot_count": link["pivot_count"], "weak": link["weak"]}
        edges.append({
            "source": link["source"], "target": target, "kind": link["kind"], "confidence": link["confidence"],
            "markup": link["markup"], "matched_services": link["matched_services"], "value": link["value"],
            "pivot_count": link["pivot_count"], "weak": link["weak"], "evidence": link["evidence"],
        })
    for domain, node in nodes.items():
        if node["kind"] == "site":
            node["role"] = _role(domain in upstreams, domain in resellers)
    return plain({"generation": generation, "nodes": sorted(nodes.values(), key=lambda node: node["id"]),
                  "edges": edges})


def upstream_trees(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each root (an upstream that resells nobody's services, or an unknown upstream) with its
    resellers nested under it: [{"id", "kind", "markup", "confidence", "children": [...]}]."""
    children: dict[str, list[Mapping[str, Any]]] = {}
    buying = set()
    for edge in graph["edges"]:
        if edge["kind"] == "resells":
            children.setdefault(edge["target"], []).append(edge)
            buying.add(edge["source"])
    kinds = {node["id"]: node["kind"] for node in graph["nodes"]}

    def subtree(node_id: str, edge: Mapping[str, Any] | None, seen: frozenset[str]) -> dict[str, Any]:
        below = [subtree(child["source"], child, seen | {node_id})
                 for child in sorted(children.get(node_id, []), key=lambda e: e["source"]) if child["source"] not in seen]
        return {"id": node_id, "kind": kinds.get(node_id, "site"),
                "markup": edge["markup"] if edge else None, "confidence": edge["confidence"] if edge else None,
                "matched_services": edge["matched_services"] if edge else None, "children": below}

    roots = sorted(node for node in children if node not in buying)
    return [subtree(root, None, frozenset()) for root in roots]
