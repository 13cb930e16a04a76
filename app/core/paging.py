"""Offset paging over a SQLAlchemy select, the same for pages and API."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db

MAX_PER_PAGE = 200
MAX_PAGE = 2**31 - 1  # `?page=` beyond it is that page (empty): no OFFSET overflows a 64-bit integer


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def meta(self) -> dict[str, int]:
        return {"page": self.page, "per_page": self.per_page, "total": self.total, "pages": self.pages}


def paginate(query: Select, page: int, per_page: int) -> Page:
    page = min(max(1, page), MAX_PAGE)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)


def paginate_list(items: list[Any], page: int, per_page: int) -> Page:
    """The same Page over a list already in memory (e.g. ids read from an RQ registry)."""
    page, per_page = min(max(1, page), MAX_PAGE), min(max(1, per_page), MAX_PER_PAGE)
    start = (page - 1) * per_page
    return Page(items=items[start : start + per_page], page=page, per_page=per_page, total=len(items))


@dataclass
class KeysetPage:
    """One page of a list read newest first by a unique, increasing key (an id). `older` is the
    `before=` value of the next older page and `newer` the `after=` value of the next newer one
    (None at either end). Unlike offset paging it reads only the rows it shows plus one, and
    counts nothing: the thousandth page of a million rows costs what the first one does."""

    items: list[Any]
    per_page: int
    newer: int | None
    older: int | None


def keyset(query: Select, key: Any, *, before: int | None, after: int | None, per_page: int) -> KeysetPage:
    """The page of `query` (no ORDER BY of its own) just older than key `before`, or just newer
    than key `after`, or the newest one; `key` is the column (e.g. `Model.id`)."""
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    query = query.order_by(None)
    if after is not None:
        rows = list(db.session.scalars(query.where(key > after).order_by(key.asc()).limit(per_page + 1)))
        items = rows[:per_page][::-1]
        newer = _key(items[0], key) if len(rows) > per_page else None
        older_than = _key(items[-1], key) if items else after + 1
        older = older_than if _exists(query.where(key < older_than)) else None
        return KeysetPage(items=items, per_page=per_page, newer=newer, older=older)
    if before is not None:
        query_older = query.where(key < before)
    else:
        query_older = query
    rows = list(db.session.scalars(query_older.order_by(key.desc()).limit(per_page + 1)))
    items = rows[:per_page]
    older = _key(items[-1], key) if len(rows) > per_page else None
    newer = None
    if before is not None:
        newer_than = _key(items[0], key) if items else before - 1
        newer = newer_than if _exists(query.where(key > newer_than)) else None
    return KeysetPage(items=items, per_page=per_page, newer=newer, older=older)


def _key(row: Any, key: Any) -> int:
    return getattr(row, key.key)


def _exists(query: Select) -> bool:
    return db.session.scalar(select(query.limit(1).exists())) or False
