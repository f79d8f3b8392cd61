"""Every export parses back with its own reader; the HTML map works offline in Chromium."""

from __future__ import annotations

import csv
import io
import json

import networkx as nx
import pytest
import stix2
from test_network_store import store_world

from panelmap.browser import CHROMIUM_ARGS, find_chromium
from panelmap.network.compute import network_graph
from panelmap.network.exports import to_csv, to_gexf, to_graphml, to_json
from panelmap.network.html_map import render_html
from panelmap.network.stix import ENGAGEMENT_SELLER, EXTENSION_ID, to_stix
from panelmap.storage import Database


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> dict:
    database = Database.open(f"sqlite:///{tmp_path_factory.mktemp('exports') / 'panelmap.db'}")
    database.upgrade()
    store_world(database)
    found, _ = network_graph(database)
    database.dispose()
    return found


def _resells(graph: dict) -> set[tuple[str, str]]:
    return {(edge["source"], edge["target"]) for edge in graph["edges"] if edge["kind"] == "resells"}


def test_json_and_csv(graph) -> None:
    assert json.loads(to_json(graph)) == graph
    rows = list(csv.DictReader(io.StringIO(to_csv(graph))))
    assert len(rows) == len(graph["edges"])
    assert {(row["source"], row["target"]) for row in rows if row["kind"] == "resells"} == _resells(graph)


@pytest.mark.parametrize("write, read", [(to_gexf, nx.read_gexf), (to_graphml, nx.read_graphml)])
def test_graph_formats_read_back_with_networkx(graph, write, read, tmp_path) -> None:
    path = tmp_path / "network.xml"
    path.write_text(write(graph), encoding="utf-8")
    loaded = read(path)
    assert set(loaded.nodes) == {node["id"] for node in graph["nodes"]}
    assert loaded.number_of_edges() == len(graph["edges"])
    resells = {(u, v) for u, v, data in loaded.edges(data=True) if data["kind"] == "resells"}
    assert resells == _resells(graph)
    edge = next(data for _, _, data in loaded.edges(data=True) if data["kind"] == "resells")
    assert json.loads(edge["evidence"])["observations"]


def test_stix_bundle_parses_back(graph) -> None:
    bundle = stix2.parse(to_stix(graph).serialize(), allow_custom=False)
    by_type: dict[str, list] = {}
    for item in bundle.objects:
        by_type.setdefault(item.type, []).append(item)
    assert {"identity", "extension-definition", "infrastructure", "domain-name", "relationship", "ipv4-addr",
            "autonomous-system", "x509-certificate"} <= set(by_type)
    infrastructure = {item.name: item for item in by_type["infrastructure"]}
    assert all(item.infrastructure_types == [ENGAGEMENT_SELLER] for item in infrastructure.values())
    assert infrastructure["root.test"].extensions[EXTENSION_ID].role == "upstream"
    names = {item.id: item.name for item in by_type["infrastructure"]}
    resells = {(names[rel.source_ref], names[rel.target_ref]) for rel in by_type["relationship"]
               if rel.relationship_type == "resells-from"}
    assert resells == _resells(graph)


def test_html_map_loads_offline_and_shows_the_nodes(graph, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    path = tmp_path / "network.html"
    path.write_text(render_html(graph), encoding="utf-8")
    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page()

        def route(request_route) -> None:
            if request_route.request.url.startswith("file://"):
                request_route.continue_()
            else:
                outside.append(request_route.request.url)
                request_route.abort()

        page.route("**/*", route)
        page.goto(path.as_uri())
        page.wait_for_function("window.panelmapReady === true", timeout=15000)
        shown = page.evaluate("cy.nodes(':visible').map(n => n.id())")
        page.evaluate("cy.$id('r1.test').emit('tap')")
        details = page.inner_text("#details")
        browser.close()
    assert outside == []
    assert {"root.test", "r1.test", "r3.test"} <= set(shown)
    assert len(shown) >= len([node for node in graph["nodes"] if node["kind"] != "pivot_value"])
    assert "root.test" in details and "r3.test" in details
