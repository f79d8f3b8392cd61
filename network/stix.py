"""The network as a STIX 2.1 bundle, for threat-intelligence platforms (OpenCTI, MISP).

Each site is an `infrastructure` object of the custom type "engagement-seller" (STIX's
infrastructure-type vocabulary is open and has nothing for sellers of fake engagement),
made of its `domain-name` and the observables its pivots name (`ipv4-addr`/`ipv6-addr`,
its /24, `autonomous-system`, name servers as `domain-name`, `x509-certificate`). What
STIX has no property for (role, markup, pivot counts, the observation ids behind a claim)
travels in a property extension whose definition is in the bundle.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

import stix2
from stix2.properties import BooleanProperty, IntegerProperty, ListProperty, StringProperty

PRODUCER_ID = "identity--0b1f7c52-3f64-4f6a-9a44-3a3c4f4d7a10"
EXTENSION_ID = "extension-definition--5d1c4f0e-8c59-4a47-8f53-2f5b6f4f1c2e"
ENGAGEMENT_SELLER = "engagement-seller"
_CREATED = "2024-06-01T00:00:00.000Z"

PRODUCER = stix2.Identity(id=PRODUCER_ID, name="panelmap", identity_class="system", created=_CREATED,
                          modified=_CREATED)
EXTENSION = stix2.ExtensionDefinition(
    id=EXTENSION_ID, created_by_ref=PRODUCER_ID, created=_CREATED, modified=_CREATED,
    name="panelmap engagement seller",
    description="Properties of SMM panels selling fake engagement and of the links between them: the site's "
                "role in the resale network, a resale markup, how many sites share a pivot value, and the ids "
                "of the panelmap observations behind each claim.",
    schema="https://github.com/panelmap/panelmap/blob/main/network/stix.py", version="1.0",
    extension_types=["property-extension"],
)


@stix2.CustomExtension(EXTENSION_ID, [
    ("role", StringProperty()),  # upstream / reseller / intermediary / independent / unknown-upstream
    ("software", StringProperty()),
    ("link_kind", StringProperty()),  # resells / shares_ip / shares_ns / ...
    ("markup", StringProperty()),
    ("matched_services", IntegerProperty()),
    ("pivot_value", StringProperty()),
    ("pivot_count", IntegerProperty()),
    ("weak", BooleanProperty()),
    ("members", ListProperty(StringProperty)),
    ("evidence", StringProperty()),  # JSON: observation ids, tiers, signals
])
class EngagementSeller:
    extension_type = "property-extension"


def _extension(**values: Any) -> dict[str, Any]:
    return {EXTENSION_ID: EngagementSeller(**{key: value for key, value in values.items() if value is not None})}


def _observable(kind: str, value: str) -> Any:
    """The STIX observable a pivot value names, or None when STIX has no object for it."""
    if kind in ("shares_ip", "shares_ip24"):
        version = ipaddress.ip_network(value, strict=False).version
        return stix2.IPv4Address(value=value) if version == 4 else stix2.IPv6Address(value=value)
    if kind == "shares_asn":
        return stix2.AutonomousSystem(number=int(value.removeprefix("AS")))
    if kind == "shares_ns":
        return stix2.DomainName(value=value)
    if kind == "shares_cert":
        return stix2.X509Certificate(hashes={"SHA-256": value})
    return None


def to_stix(graph: Mapping[str, Any]) -> stix2.Bundle:
    """A bundle of the graph: infrastructure per site and unknown upstream, relationships per edge."""
    objects: dict[str, Any] = {PRODUCER.id: PRODUCER, EXTENSION.id: EXTENSION}
    infrastructure: dict[str, str] = {}
    for node in graph["nodes"]:
        if node["kind"] == "pivot_value":
            continue
        cluster = node["kind"] == "unknown_upstream"
        infra = stix2.Infrastructure(
            name=node["id"], created_by_ref=PRODUCER_ID, infrastructure_types=[ENGAGEMENT_SELLER],
            description=("A source no crawl reached, inferred from resellers agreeing at constant price ratios."
                         if cluster else f"SMM panel {node['id']}"),
            extensions=_extension(role="unknown-upstream" if cluster else node.get("role"),
                                  software=node.get("software"), members=node.get("members") or None),
        )
        objects[infra.id] = infra
        infrastructure[node["id"]] = infra.id
        if not cluster:
            domain = stix2.DomainName(value=node["id"])
            objects[domain.id] = domain
            relation = stix2.Relationship(infra.id, "consists-of", domain.id, created_by_ref=PRODUCER_ID)
            objects[relation.id] = relation
    hubs = {node["id"]: node for node in graph["nodes"] if node["kind"] == "pivot_value"}
    for edge in graph["edges"]:
        source = infrastructure[edge["source"]]
        evidence = json.dumps(edge["evidence"], ensure_ascii=False)
        if edge["kind"] == "resells":
            relation = stix2.Relationship(
                source, "resells-from", infrastructure[edge["target"]], created_by_ref=PRODUCER_ID,
                confidence=round(100 * edge["confidence"]),
                description=f"{edge['source']} resells services of {edge['target']} at x{edge['markup']}",
                extensions=_extension(link_kind="resells", markup=edge["markup"],
                                      matched_services=edge["matched_services"], evidence=evidence))
            objects[relation.id] = relation
            continue
        value = edge["value"] or hubs.get(edge["target"], {}).get("value")
        observable = _observable(edge["kind"], value) if value else None
        targets = [edge["source"]] + ([edge["target"]] if edge["target"] in infrastructure else [])
        if observable is not None:
            objects[observable.id] = observable
            for site in targets:
                relation = stix2.Relationship(infrastructure[site], "consists-of", observable.id,
                                              created_by_ref=PRODUCER_ID)
                objects.setdefault(f"{site}|{observable.id}", relation)
        if len(targets) == 2:
            relation = stix2.Relationship(
                source, "related-to", infrastructure[edge["target"]], created_by_ref=PRODUCER_ID,
                description=f"both show {edge['kind'].removeprefix('shares_')} {value}",
                confidence=round(100 * edge["confidence"]),
                extensions=_extension(link_kind=edge["kind"], pivot_value=value, pivot_count=edge["pivot_count"],
                                      weak=edge["weak"], evidence=evidence))
            objects[relation.id] = relation
    return stix2.Bundle(objects=list(objects.values()))
