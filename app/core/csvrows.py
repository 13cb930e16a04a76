"""Reading an uploaded CSV into rows checked one by one before anything is written: the file's
own error (size, header, row count) or each row's, by its line in the file. Capabilities check
the values (items' BOM lines, consumption actuals) and write only when every row is good."""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

PREVIEW_ROWS = 100  # rows a preview lists (every bad one first); the file is checked whole


@dataclass
class ImportRow:
    number: int  # the row's line in the file (the header is line 1)
    data: dict[str, str]
    values: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class ImportCheck:
    rows: list[ImportRow] = field(default_factory=list)
    error: str | None = None  # about the file as a whole
    new_items: list[dict[str, Any]] = field(default_factory=list)  # what the import creates besides its rows

    @property
    def shown(self) -> list[ImportRow]:
        """What a preview lists: the bad rows first, then the others, PREVIEW_ROWS at most."""
        bad = [r for r in self.rows if r.error]
        return (bad + [r for r in self.rows if not r.error])[:PREVIEW_ROWS]

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.rows) and not any(r.error for r in self.rows)

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.rows if r.error) + (1 if self.error else 0)


def read_rows(
    text: str, columns: tuple[str, ...], required: tuple[str, ...], max_rows: int, max_bytes: int
) -> ImportCheck:
    """The file's rows, with the file's own error or a row's (too many fields); the values are not looked at yet."""
    if len(text.encode()) > max_bytes:
        return ImportCheck(error=f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    # newline="": the csv module splits lines itself, so a lone CR (old Mac files) ends a line
    # instead of raising "new-line character seen in unquoted field"
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [h.strip() for h in reader.fieldnames or []]
        error = _header_error(header, columns, required)
        if error:
            return ImportCheck(error=error)
        reader.fieldnames = header
        result = ImportCheck()
        for raw in reader:
            if len(result.rows) >= max_rows:
                return ImportCheck(error=f"More than {max_rows} rows.")
            data = {k: (v or "").strip() for k, v in raw.items() if k is not None}
            if None in raw:
                result.rows.append(ImportRow(reader.line_num, data, error="More fields than the header names."))
                continue
            result.rows.append(ImportRow(reader.line_num, data))
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        return ImportCheck(error=f"Line {reader.reader.line_num} cannot be read as CSV: {exc}.")
    if not result.rows:
        result.error = "The file has no rows."
    return result


def _header_error(header: list[str], columns: tuple[str, ...], required: tuple[str, ...]) -> str | None:
    missing = [c for c in required if c not in header]
    if missing:
        return f"The header must name {', '.join(required)}; missing: {', '.join(missing)}."
    unknown = [h for h in header if h not in columns]
    if unknown:
        return f"Unknown column(s): {', '.join(unknown)}. Known: {', '.join(columns)}."
    return None
