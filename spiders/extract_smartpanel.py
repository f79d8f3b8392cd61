"""SmartPanel services pages.

SmartPanel (a PHP/CodeIgniter script operators buy) lists services, when the
operator makes the list public, as one card per category: the card title is the
category, the table's header is "ID", "Name", "Rate per 1000(<symbol>)",
"Min / Max order", "Description", each row is `tr.tr_<id>`, the rate a bare
number (the currency symbol sits in the column title), and the description
hides in a modal inside the row behind a "View" button.
"""

from __future__ import annotations

from collections.abc import Mapping

from .extract_table import Element, TablePage, cell_text, description_text


class SmartPanelServicesPage(TablePage):
    kind = "smartpanel"

    @classmethod
    def matches(cls, tree: Element) -> bool:
        return bool(tree.xpath(
            "boolean(//*[contains(concat(' ', @class, ' '), ' card ')]"
            "[.//*[contains(@class, 'card-title')]]//table//tr[starts-with(@class, 'tr_')])"
        ))

    def table_category(self, table: Element) -> str | None:
        title = table.xpath("ancestor::*[contains(concat(' ', @class, ' '), ' card ')][1]"
                            "//*[contains(@class, 'card-title')][1]")
        return cell_text(title[0]) if title else None

    def row_id(self, row: Element, cells: list[Element], mapping: Mapping[str, int]) -> str | None:
        for name in row.get("class", "").split():
            if name.startswith("tr_") and name[3:].isdecimal():
                return name[3:]
        return super().row_id(row, cells, mapping)

    def row_description(self, row: Element, cells: list[Element],
                        mapping: Mapping[str, int]) -> str | None:
        body = row.xpath(".//*[contains(@class, 'modal-body')]")
        return description_text(body[0]) if body else None
