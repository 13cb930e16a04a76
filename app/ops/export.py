"""The summary and the trends as files: each flattened once into rows, and those rows written as
JSON, CSV or Markdown, so the formats cannot disagree on a figure (docs/ops.md "Exports")."""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from app.core.textrows import to_csv, to_markdown

SUMMARY_COLUMNS = ("area", "figure", "key", "value")
TRENDS_COLUMNS = ("bucket_start", "area", "figure", "key", "value")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}

Row = tuple[Any, ...]


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _join(first: str, second: str, sep: str) -> str:
    return f"{first}{sep}{second}" if first else second


def _walk(value: Any, figure: str = "", key: str = "") -> Iterator[tuple[str, str, Any]]:
    """(figure, key, value) of every number in a nested figure: nested names join into the
    figure (`bom_delta.failed_rate`); the entries of a `by_*` count are keys of it (`by_status`,
    key `failed`), and so is the first field of a list's entries, which names it (a site, a queue)."""
    if isinstance(value, dict):
        last = figure.rsplit(".", 1)[-1]
        keyed = last.startswith("by_") or "_by_" in last
        for name, inner in value.items():
            if keyed:
                yield from _walk(inner, figure, _join(key, str(name), "/"))
            else:
                yield from _walk(inner, _join(figure, name, "."), key)
    elif isinstance(value, list):
        for entry in value:
            (ident, name), *_ = entry.items()
            rest = {field: inner for field, inner in entry.items() if field != ident}
            yield from _walk(rest, figure, _join(key, str(name), "/"))
    else:
        yield figure, key, _value(value)


def summary_rows(summary: dict[str, Any]) -> list[Row]:
    """The summary as (area, figure, key, value) rows, its window first (area `window`)."""
    return [(area, figure, key, value) for area, section in summary.items() for figure, key, value in _walk(section)]


def trends_rows(trends: dict[str, Any]) -> list[Row]:
    """The trends as (bucket start, area, figure, key, value) rows, bucket by bucket."""
    return [
        (_value(bucket["start"]), area, figure, key, value)
        for bucket in trends["buckets"]
        for area, figures in bucket.items()
        if area not in ("start", "end")
        for figure, key, value in _walk(figures)
    ]


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return json.dumps(value)  # true / false, as JSON spells them
    return "" if value is None else str(value)  # str(float) reads back as the same float


def render(columns: tuple[str, ...], rows: list[Row], export_format: str) -> str:
    """The rows as a file: JSON (a list of objects; a missing value is null), CSV or Markdown
    (a missing value is an empty cell)."""
    if export_format == "json":
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=1) + "\n"
    text_rows = [[_cell(value) for value in row] for row in rows]
    return (to_csv if export_format == "csv" else to_markdown)(list(columns), text_rows)
