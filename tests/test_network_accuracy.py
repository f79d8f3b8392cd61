"""Accuracy of the linker, measured: on a real crawl of the sandbox world against its ground
truth, and on the real price lists of data/smmpanels."""

from __future__ import annotations

from shared_data import SMMPANELS, require

from panelmap.network.compute import network_graph
from panelmap.network.importer import import_price_lists
from panelmap.network.linker import link_catalogues
from panelmap.network.store import load_catalogues
from panelmap.storage import Database

REAL_PRICE_LISTS = SMMPANELS / "raw"


def expected_links(ground_truth: dict, crawled: set[str]) -> set[tuple[str, str]]:
    hidden = set(ground_truth["hidden_upstreams"])
    return {(domain, "UNKNOWN" if upstream["domain"] in hidden else upstream["domain"])
            for domain, site in ground_truth["sites"].items() if domain in crawled
            for upstream in site["upstreams"]}


def test_resale_links_on_the_sandbox_crawl(sandbox_crawl, ground_truth) -> None:
    database = Database.open(sandbox_crawl["db"])
    with database.session() as session:
        catalogues = load_catalogues(session)
    database.dispose()
    result = link_catalogues(catalogues)
    truth = expected_links(ground_truth, {catalogue.site for catalogue in catalogues})
    found = {(link.reseller, "UNKNOWN" if link.cluster else link.upstream) for link in result.links}
    hits = len(found & truth)
    precision, recall = hits / len(found), hits / len(truth)
    print(f"\nsandbox resale links: {len(found)} found, {len(truth)} true, precision {precision:.3f}, "
          f"recall {recall:.3f}; unknown upstreams: {[c.members for c in result.clusters]}")
    assert precision >= 0.95 and recall >= 0.90, (precision, recall, found ^ truth)
    (group,) = ground_truth["unknown_upstream_groups"]
    assert [cluster.members for cluster in result.clusters] == [sorted(group["members"])]


def test_real_price_lists_show_the_known_resellers(tmp_path) -> None:
    require(REAL_PRICE_LISTS)
    database = Database.open(f"sqlite:///{tmp_path / 'real.db'}")
    database.upgrade()
    files = [REAL_PRICE_LISTS / panel / "2020_07_16.csv" for panel in ("JustAnotherPanel", "BoostSmmPanel", "SocialPanel24")]
    import_price_lists(database, files, sites={"JustAnotherPanel": "justanotherpanel.com"})
    graph, _ = network_graph(database)
    links = {edge["source"]: edge for edge in graph["edges"] if edge["kind"] == "resells"
             and edge["target"] == "justanotherpanel.com"}
    print("\n" + "\n".join(f"{edge['source']} -> {edge['target']} x{edge['markup']} "
                            f"({edge['matched_services']} services)" for edge in links.values()))
    assert float(links["boostsmmpanel.csv"]["markup"]) == 3.0 and links["boostsmmpanel.csv"]["matched_services"] > 700
    assert 1.05 <= float(links["socialpanel24.csv"]["markup"]) <= 1.09
    assert links["socialpanel24.csv"]["matched_services"] > 500
