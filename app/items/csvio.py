"""BOM lines as CSV: export, and import checked row by row before anything is written."""

import csv
import io

from sqlalchemy import select

from app.core.csvrows import ImportCheck, ImportRow, read_rows
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


def check_import(bom: Bom, text: str) -> ImportCheck:
    """Validate every row (and the structure they make) without writing anything."""
    result = _read_rows(text)
    if result.error:
        return result
    _check_values(result.rows)
    _check_structure(bom, result.rows)
    return result


def _read_rows(text: str) -> ImportCheck:
    return read_rows(text, COLUMNS, REQUIRED, MAX_ROWS, MAX_BYTES)


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
