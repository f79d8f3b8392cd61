"""Where a site's two catalogues disagree: the page a visitor sees, and its API.

The API is authoritative for ids and rates; the HTML for what is shown. Both
are stored; this says where they differ, for the site's run record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from panelmap.spiders.items import CatalogueEntry

MAX_EXAMPLES = 50


def reconcile(html: Mapping[str, CatalogueEntry], api: Mapping[str, CatalogueEntry]) -> dict[str, Any]:
    """Counts of services only one side lists, and the rate, min and max that differ
    (compared only where both sides are in one currency), with examples."""
    differences = []
    for service_id in sorted(html.keys() & api.keys()):
        shown, served = html[service_id], api[service_id]
        for name in ("rate", "min_quantity", "max_quantity"):
            if getattr(shown, name) != getattr(served, name) and shown.currency == served.currency:
                differences.append({"service_id": service_id, "field": name,
                                    "html": str(getattr(shown, name)), "api": str(getattr(served, name))})
    return {
        "only_in_html": len(html.keys() - api.keys()),
        "only_in_api": len(api.keys() - html.keys()),
        "disagreements": len(differences),
        "examples": differences[:MAX_EXAMPLES],
    }
