"""Looking up one row by id, the same way in every capability."""

from typing import Any, TypeVar

from app.core.errors import NotFound
from app.extensions import db

Row = TypeVar("Row")


def get_or_404(model: type[Row], ident: Any, what: str, details: dict[str, Any] | None = None) -> Row:
    """The row of `model` with primary key `ident`, or NotFound naming `what` ("item", "ECO")."""
    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(f"No {what} with id {ident}.", details)
    return row
