"""A self-contained interactive HTML map of the network: one file, every script inside it
(the vendored Cytoscape.js, MIT licence, `static/cytoscape.LICENSE`), no request to any
other host, so it opens offline and can travel with an evidence pack."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

# Observation ids shown per edge: the map is for looking; the full lists are in the JSON export.
_OBSERVATIONS_SHOWN = 50


def _for_map(graph: Mapping[str, Any]) -> dict[str, Any]:
    edges = []
    for edge in graph["edges"]:
        evidence = dict(edge.get("evidence") or {})
        if isinstance(evidence.get("observations"), list):
            evidence["observations"] = evidence["observations"][:_OBSERVATIONS_SHOWN]
        edges.append({**edge, "evidence": evidence})
    return {**graph, "edges": edges}


def _script_safe(text: str) -> str:
    """JSON that cannot close its <script> element early."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(graph: Mapping[str, Any]) -> str:
    static = files("panelmap.network") / "static"
    template = (static / "map.html").read_text(encoding="utf-8")
    library = (static / "cytoscape.min.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    data = _script_safe(json.dumps(_for_map(graph), ensure_ascii=False))
    head, rest = template.split("/*CYTOSCAPE*/", 1)
    middle, tail = rest.split("/*GRAPH*/", 1)
    return head + library + middle + data + tail
