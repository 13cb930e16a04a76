"""Looking up one row by id, the same way in every capability."""

import re
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from app.core.errors import Conflict, NotFound
from app.extensions import db

Row = TypeVar("Row")

MAX_ID = 2**31 - 1  # PostgreSQL `integer`, the type of every id column


def id_from_text(text: str) -> int | None:
    """The id written in `text` (a URL part, a form field): ASCII digits within the bounds of an id, or None.
    Not str.isdigit(), which takes '²' that int() refuses."""
    if not re.fullmatch(r"[0-9]{1,10}", text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def get_or_404(model: type[Row], ident: Any, what: str, details: dict[str, Any] | None = None) -> Row:
    """The row of `model` with primary key `ident`, or NotFound naming `what` ("item", "ECO")."""
    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(f"No {what} with id {ident}.", details)
    return row


def flush_unique(message: str, details: dict[str, Any] | None = None, *, code: str | None = None) -> None:
    """Flush in a savepoint: a unique key taken meanwhile by a concurrent request is a 409, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(message, details, code=code) from None
