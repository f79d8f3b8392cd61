"""Perfect Panel services pages: the classic themes and the "constructor" themes.

Every Perfect Panel theme (and the rental clones that copy its markup) keeps the
hooks its own search and category filter need: category header rows carry
`data-filter-table-category-id`, the id cell `data-filter-table-service-id`, the
name cell `data-filter-table-service-name`, and descriptions sit in hidden
`div#service-description-id-[<block>-]<id>`. Constructor themes add a
`data-label` to every cell ("ID", "Rate per 1000", "Min order"...), put the table
in a numbered block (`table#service-table-59`) and a "View" button carrying
`data-min`/`data-max`. This page object keys on those hooks and on the meaning
of titles and labels, never on one theme's layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .extract_table import (
    Column,
    Element,
    ServicesPage,
    cell_text,
    column_for_title,
    description_text,
    make_entry,
    map_columns,
    outer_tables,
    service_id_in,
)
from .items import CatalogueEntry
from .numbers import Currency, currency_in_text

_SERVICE_ID_ATTRIBUTE = "data-filter-table-service-id"
_CATEGORY_ATTRIBUTE = "data-filter-table-category-id"
_DESCRIPTION_PREFIX = "service-description-id-"


class PerfectPanelServicesPage(ServicesPage):
    kind = "perfect_panel"

    @classmethod
    def matches(cls, tree: Element) -> bool:
        # find() stops at the first hit: cheap even on pages of 5,000 rows.
        return (tree.find(f".//*[@{_SERVICE_ID_ATTRIBUTE}]") is not None
                or tree.find(".//tbody[@id='service-tbody']") is not None)

    @cached_property
    def services_tables(self) -> list[Element]:
        tables = []
        for table in outer_tables(self.tree):
            if (table.get("id", "").startswith("service-table")
                    or table.find("tbody[@id='service-tbody']") is not None
                    or table.find(f".//*[@{_SERVICE_ID_ATTRIBUTE}]") is not None):
                tables.append(table)
        return tables

    def to_entries(self) -> list[CatalogueEntry]:
        entries: list[CatalogueEntry] = []
        for table in self.services_tables:
            header = table.xpath("./thead/tr[th][last()] | ./tr[th][1]")
            titles = [cell_text(cell) for cell in header[0] if cell.tag in ("th", "td")] if header else []
            rate_title = next((title for title in titles if column_for_title(title) == Column.RATE), None)
            reader = _RowReader(map_columns(titles), (currency_in_text(rate_title), self.page_currency))
            for row in table.xpath("./tbody/tr | ./tr"):
                entry = reader.read(row)
                if entry is not None:
                    entries.append(entry)
        return entries


@dataclass(slots=True)
class _Layout:
    """Where a service row keeps what is read: child position of each column's
    cell and the path to the hidden description. Rows of one table share it, so
    all rows but the first skip looking at every cell and every <div>."""

    width: int
    columns: dict[str, int]
    description_path: tuple[int, ...] | None


class _RowReader:
    """Reads one table's rows in order, remembering the category headers seen."""

    def __init__(self, by_index: dict[str, int], currencies: tuple[Currency | None, ...]) -> None:
        self.by_position = {position: column for column, position in by_index.items()}
        self.currencies = currencies
        self.categories: dict[str, str] = {}  # data-filter-table-category-id -> title
        self.category: str | None = None
        self.label_columns: dict[str, str | None] = {}
        self.layout: _Layout | None = None

    def read(self, row: Element) -> CatalogueEntry | None:
        layout = self.layout
        if (layout is not None and len(row) == layout.width
                and row[layout.columns[Column.ID]].get(_SERVICE_ID_ATTRIBUTE) is not None):
            columns = {column: row[position] for column, position in layout.columns.items()}
            block = _follow(row, layout.description_path)
        else:
            if "service-description" in row.get("class", ""):
                return None  # the mobile copy of the description cell above it
            columns = self._columns(row)
            block = _description_block(row)
            if Column.ID in columns and columns[Column.ID].get(_SERVICE_ID_ATTRIBUTE) is not None:
                self.layout = _Layout(len(row), {column: row.index(cell) for column, cell in columns.items()},
                                      _path(row, block) if block is not None else None)
        id_cell = columns.get(Column.ID)
        service_id = None
        if id_cell is not None:
            service_id = id_cell.get(_SERVICE_ID_ATTRIBUTE) or service_id_in(cell_text(id_cell))
        if service_id is None:
            self._category_row(row)
            return None
        category_id = row.get(_CATEGORY_ATTRIBUTE)
        category = self.categories.get(category_id, self.category) if category_id else self.category
        min_text, max_text = cell_text(columns.get(Column.MIN)), cell_text(columns.get(Column.MAX))
        if min_text is None and max_text is None and Column.MIN_MAX not in columns:
            button = row.find(".//*[@data-min]")
            if button is not None:
                min_text, max_text = button.get("data-min"), button.get("data-max")
        return make_entry(
            service_id,
            cell_text(columns.get(Column.NAME)),
            cell_text(columns.get(Column.RATE)),
            context_currencies=self.currencies,
            category=category,
            min_text=min_text,
            max_text=max_text,
            min_max_text=cell_text(columns.get(Column.MIN_MAX)),
            average_text=cell_text(columns.get(Column.AVERAGE_TIME)),
            description=description_text(block if block is not None else columns.get(Column.DESCRIPTION)),
        )

    def _columns(self, row: Element) -> dict[str, Element]:
        """Column -> cell, by the cell's own hooks or data-label where the theme
        gives them, else by position under the header."""
        found: dict[str, Element] = {}
        cells = [cell for cell in row if cell.tag == "td" or cell.tag == "th"]
        for index, cell in enumerate(cells):
            if cell.get("data-filter-table-service-name") is not None:
                column = Column.NAME
            elif cell.get(_SERVICE_ID_ATTRIBUTE) is not None:
                column = Column.ID
            else:
                label = cell.get("data-label")
                if label:
                    if label not in self.label_columns:
                        self.label_columns[label] = column_for_title(label)
                    column = self.label_columns[label] or self.by_position.get(index)
                else:
                    column = self.by_position.get(index)
            if column is not None and column not in found:
                found[column] = cell
        return found

    def _category_row(self, row: Element) -> None:
        """Remember a category header: a row carrying a category id (or the
        category title class) with no service in it."""
        category_id = row.get(_CATEGORY_ATTRIBUTE)
        if category_id is None and "category" not in row.get("class", ""):
            return
        title = cell_text(row)
        if title:
            self.category = title
            if category_id is not None:
                self.categories[category_id] = title


def _description_block(row: Element) -> Element | None:
    """The row's hidden `div#service-description-id-...`, if the theme has one."""
    for div in row.iter("div"):
        if div.get("id", "").startswith(_DESCRIPTION_PREFIX):
            return div
    return None


def _path(row: Element, element: Element) -> tuple[int, ...]:
    """Child positions leading from `row` down to `element`."""
    steps = []
    while element is not row:
        parent = element.getparent()
        steps.append(parent.index(element))
        element = parent
    return tuple(reversed(steps))


def _follow(row: Element, path: tuple[int, ...] | None) -> Element | None:
    """The description block at `path` in `row`, checked by its id; else searched."""
    if path is None:
        return None
    element = row
    for position in path:
        if position >= len(element):
            return _description_block(row)
        element = element[position]
    if element.get("id", "").startswith(_DESCRIPTION_PREFIX):
        return element
    return _description_block(row)
