"""Actuals from CSV: every row checked (and written) in one transaction; any bad row, reported by
its line, and nothing is saved."""

from app.consumption import service
from app.core.csvrows import ImportCheck, read_rows
from app.core.errors import DomainError

COLUMNS = service.RECORD_FIELDS
REQUIRED = ("plan_id", "quantity")
MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024


def import_records(text: str, actor: str | None = None) -> tuple[ImportCheck, int]:
    """Check every row and write them all; (check, actuals written). When `check.ok` is false the
    caller rolls back: some rows may have been added to the session before a later one failed."""
    check = read_rows(text, COLUMNS, REQUIRED, MAX_ROWS, MAX_BYTES)
    if check.error:
        return check, 0
    keys: dict[str, int] = {}
    for row in check.rows:
        if row.error:
            continue
        key = row.data.get("idempotency_key") or ""
        if key and key in keys:
            row.error = f"Idempotency key {key!r} is used on line {keys[key]} already."
            continue
        keys[key] = row.number
        try:
            service.check_record(row.data)
        except DomainError as exc:
            row.error = exc.message
    if not check.ok:
        return check, 0
    written = 0
    for row in check.rows:
        try:
            _, created = service.create_record(row.data, actor)
        except DomainError as exc:
            row.error = exc.message
            return check, 0
        written += created
    return check, written
