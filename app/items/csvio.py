"""BOM lines and items as CSV: export, and imports checked row by row before anything is written
(a BOM import also creates the part items it names that do not exist yet)."""

import csv
import io

from sqlalchemy import select

from app.core.csvrows import ImportCheck, ImportRow, read_rows
from app.core.errors import DomainError, InvalidInput
from app.extensions import db
from app.items.models import Bom, Item
from app.items.service import NUMBER, create_items, item_values, line_values, replace_lines
from app.items.structure import check_no_cycle, quantity_text

COLUMNS = ("child", "quantity", "unit", "find_number", "refdes", "note")
REQUIRED = ("child", "quantity")
# `name` is read only for a child that does not exist yet: the part item the import creates
BOM_IMPORT_COLUMNS = (*COLUMNS, "name")
ITEM_COLUMNS = ("number", "name", "item_type", "uom", "revision", "lifecycle", "description")
ITEM_REQUIRED = ("number", "name")
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
    result = _read_rows(text, BOM_IMPORT_COLUMNS, REQUIRED)
    if result.error:
        return result
    _check_values(result)
    _check_structure(bom, result.rows)
    return result


def _read_rows(text: str, columns: tuple[str, ...], required: tuple[str, ...]) -> ImportCheck:
    return read_rows(text, columns, required, MAX_ROWS, MAX_BYTES)


def _existing(numbers: set[str]) -> dict[str, Item]:
    """The items of these numbers, one query per chunk of numbers (whatever the file's size)."""
    found: dict[str, Item] = {}
    listed = sorted(numbers)
    for start in range(0, len(listed), 2000):
        chunk = listed[start : start + 2000]
        found.update((i.number, i) for i in db.session.scalars(select(Item).where(Item.number.in_(chunk))))
    return found


def _check_values(check: ImportCheck) -> None:
    """Each good row's line values (its child looked up among all the file names at once), or its
    error; a child that does not exist yet is a part item to create (check.new_items)."""
    items = _existing({r.data.get("child", "") for r in check.rows})
    for row in check.rows:
        if row.error:
            continue
        number = row.data.get("child", "")
        if number and number not in items and NUMBER.fullmatch(number):
            named = {"number": number, "name": row.data.get("name") or number, "uom": row.data.get("unit")}
            try:
                values = item_values({**named, "item_type": "part"})
            except InvalidInput as exc:
                row.error = exc.message
                continue
            items[number] = Item(**values)  # transient: never added to the session
            check.new_items.append(values)
        try:
            row.values = line_values(row.data, items=items)
        except InvalidInput as exc:
            row.error = exc.message


def _check_structure(bom: Bom, rows: list[ImportRow]) -> None:
    """A child that would make the structure a loop: the error goes on its row."""
    children = {r.values["child"].number: r for r in rows if r.values and r.values["child"].id is not None}
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
        if check.new_items:  # created first, then the rows are read again against them
            planned = check.new_items
            create_items(planned)
            check = check_import(bom, text)
            check.new_items = planned
            if not check.ok:  # the caller rolls the new items back with the rest
                return check, None
        return check, replace_lines(bom.id, [r.values for r in check.rows])
    except DomainError as exc:
        db.session.rollback()
        check.error = exc.message
        return check, None


def check_items_import(text: str) -> ImportCheck:
    """Validate every row of an items CSV (numbers free, none twice) without writing anything."""
    result = _read_rows(text, ITEM_COLUMNS, ITEM_REQUIRED)
    if result.error:
        return result
    taken = _existing({r.data.get("number", "") for r in result.rows})
    first_line: dict[str, int] = {}
    for row in result.rows:
        if row.error:
            continue
        try:
            values = item_values(row.data)
        except InvalidInput as exc:
            row.error = exc.message
            continue
        number = values["number"]
        if number in taken:
            row.error = f"Item number {number!r} is already used."
        elif number in first_line:
            row.error = f"Item number {number!r} is also on line {first_line[number]}."
        else:
            first_line[number] = row.number
            row.values = values
    return result


def commit_items_import(text: str) -> ImportCheck:
    """Check again and, only when every row is good, create every item (one INSERT, audited)."""
    check = check_items_import(text)
    if check.ok:
        try:
            create_items([r.values for r in check.rows])
        except DomainError as exc:
            check.error = exc.message
    return check
