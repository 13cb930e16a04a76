"""BOM lines as CSV: export, and import checked row by row before anything is written."""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.core.errors import DomainError, InvalidInput
from app.extensions import db
from app.items.models import Bom, Item
from app.items.service import line_values, replace_lines
from app.items.structure import check_no_cycle, quantity_text

COLUMNS = ("child", "quantity", "unit", "find_number", "refdes", "note")
REQUIRED = ("child", "quantity")
MAX_ROWS = 20000
MAX_BYTES = 5 * 1024 * 1024


def bom_csv(bom: Bom) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in bom.lines:
        writer.writerow(
            [
                line.child.number,
                quantity_text(line.quantity),
                line.unit,
                "" if line.find_number is None else line.find_number,
                line.refdes,
                line.note,
            ]
        )
    return out.getvalue().encode()


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

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.rows) and not any(r.error for r in self.rows)

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.rows if r.error) + (1 if self.error else 0)


def check_import(bom: Bom, text: str) -> ImportCheck:
    """Validate every row (and the structure they make) without writing anything."""
    result = _read_rows(text)
    if result.error:
        return result
    _check_values(result.rows)
    _check_structure(bom, result.rows)
    return result


def _read_rows(text: str) -> ImportCheck:
    """The file's rows, with the file's own error (size, header, row count) or a
    row's (too many fields); the values are not looked at yet."""
    if len(text.encode()) > MAX_BYTES:
        return ImportCheck(error=f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    error = _header_error(header)
    if error:
        return ImportCheck(error=error)
    reader.fieldnames = header
    result = ImportCheck()
    for raw in reader:
        if len(result.rows) >= MAX_ROWS:
            return ImportCheck(error=f"More than {MAX_ROWS} rows.")
        data = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            result.rows.append(ImportRow(reader.line_num, data, error="More fields than the header names."))
            continue
        result.rows.append(ImportRow(reader.line_num, data))
    if not result.rows:
        result.error = "The file has no rows."
    return result


def _header_error(header: list[str]) -> str | None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return f"The header must name {', '.join(COLUMNS)}; missing: {', '.join(missing)}."
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        return f"Unknown column(s): {', '.join(unknown)}. Known: {', '.join(COLUMNS)}."
    return None


def _check_values(rows: list[ImportRow]) -> None:
    """Each good row's line values (its child looked up among all the file names at once), or its error."""
    numbers = {r.data.get("child", "") for r in rows}
    items = {i.number: i for i in db.session.scalars(select(Item).where(Item.number.in_(numbers)))}
    for row in rows:
        if row.error:
            continue
        try:
            row.values = line_values(row.data, items=items)
        except InvalidInput as exc:
            row.error = exc.message


def _check_structure(bom: Bom, rows: list[ImportRow]) -> None:
    """A child that would make the structure a loop: the error goes on its row."""
    children = {r.values["child"].number: r for r in rows if r.values}
    try:
        check_no_cycle(bom.item, [r.values["child"] for r in children.values()])
    except InvalidInput as exc:
        children[exc.details["loop"][1]].error = exc.message


def commit_import(bom: Bom, text: str) -> tuple[ImportCheck, Bom | None]:
    """Check again and, only when every row is good, replace the lines (a new
    draft revision when `bom` is released)."""
    check = check_import(bom, text)
    if not check.ok:
        return check, None
    try:
        return check, replace_lines(bom.id, [r.values for r in check.rows])
    except DomainError as exc:
        db.session.rollback()
        check.error = exc.message
        return check, None
