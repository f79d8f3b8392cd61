"""Listings in the three formats every listing command offers: table, json, csv.

JSON and CSV are contracts for other programs: keys are stable, values are
plain (numbers that must stay exact, such as rates, are strings).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

import click
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")

format_option = click.option(
    "--format", type=click.Choice(FORMATS), default="table", show_default=True,
    help="Output format: a table for people, json or csv for programs.",
)


def plain(value: Any) -> Any:
    """A JSON-ready form: Decimals as exact strings, times as ISO 8601 UTC."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], format: str, *,
         title: str | None = None, stream: TextIO | None = None) -> None:
    """Write `rows` (dicts with at least `columns`) in `format` (table, json or csv)."""
    stream = stream or sys.stdout
    if format == "json":
        json.dump([plain(dict(row)) for row in rows], stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    elif format == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
    else:
        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row.get(column)) for column in columns))
        Console(file=stream, soft_wrap=False).print(table)
