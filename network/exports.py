"""The graph in the formats other tools read: JSON, a CSV edge list, GEXF (Gephi) and GraphML.

Graph formats hold scalar attributes only, so lists and dicts (evidence, cluster members)
travel as JSON strings and missing values are left out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

import networkx as nx

EDGE_COLUMNS = ["source", "target", "kind", "confidence", "markup", "matched_services", "pivot_count", "weak", "value"]


def to_json(graph: Mapping[str, Any]) -> str:
    return json.dumps(graph, ensure_ascii=False, indent=2) + "\n"


def to_csv(graph: Mapping[str, Any]) -> str:
    """One edge per row; evidence stays in the JSON and the database."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EDGE_COLUMNS)
    for edge in graph["edges"]:
        writer.writerow(["" if edge.get(column) is None else edge[column] for column in EDGE_COLUMNS])
    return out.getvalue()


def _scalars(attributes: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attributes.items():
        if value is None:
            continue
        out[key] = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
    return out


def to_networkx(graph: Mapping[str, Any]) -> nx.MultiDiGraph:
    """A networkx multigraph (two sites may share several pivots): node and edge attributes as scalars."""
    result = nx.MultiDiGraph()
    for node in graph["nodes"]:
        result.add_node(node["id"], **_scalars({key: value for key, value in node.items() if key != "id"}))
    for number, edge in enumerate(graph["edges"]):
        attributes = _scalars({key: value for key, value in edge.items() if key not in ("source", "target")})
        result.add_edge(edge["source"], edge["target"], key=number, **attributes)
    return result


def to_gexf(graph: Mapping[str, Any]) -> str:
    return "\n".join(nx.generate_gexf(to_networkx(graph))) + "\n"


def to_graphml(graph: Mapping[str, Any]) -> str:
    return "\n".join(nx.generate_graphml(to_networkx(graph))) + "\n"
