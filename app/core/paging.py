"""Offset paging over a SQLAlchemy select, the same for pages and API."""

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_

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

    @property
    def first(self) -> int:
        """1-based position of the page's first row (its rows are first .. first + len(items) - 1)."""
        return (self.page - 1) * self.per_page + 1

    def meta(self) -> dict[str, int]:
        return {"page": self.page, "per_page": self.per_page, "total": self.total, "pages": self.pages}


def paginate(query: Select, page: int, per_page: int, rows: bool = False) -> Page:
    """`rows`: the items are whole result rows (an aggregate's columns), not the first column's values."""
    page = min(max(1, page), MAX_PAGE)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    paged = query.limit(per_page).offset((page - 1) * per_page)
    items = list(db.session.execute(paged) if rows else db.session.scalars(paged))
    return Page(items=items, page=page, per_page=per_page, total=total)


def paginate_list(items: list[Any], page: int, per_page: int) -> Page:
    """The same Page over a list already in memory (e.g. ids read from an RQ registry)."""
    page, per_page = min(max(1, page), MAX_PAGE), min(max(1, per_page), MAX_PER_PAGE)
    start = (page - 1) * per_page
    return Page(items=items[start : start + per_page], page=page, per_page=per_page, total=len(items))


@dataclass
class KeysetPage:
    """One page of a list read newest first by a unique sort key (a time, then the id), with the
    ids of the rows that bound the pages around it: `older` is the `before=` id of the next older
    page and `newer` the `after=` id of the next newer one (None at either end). Unlike offset
    paging it reads only the rows it shows plus one, and counts nothing: with an index on the
    sort key the thousandth page of a million rows costs what the first one does."""

    items: list[Any]
    per_page: int
    newer: int | None
    older: int | None


def keyset(
    query: Select, model: Any, order: tuple[str, ...], *, before: int | None, after: int | None, per_page: int
) -> KeysetPage:
    """The page of `query` (rows of `model`, no ORDER BY of its own), newest first by the columns
    `order` (unique together: the last one is the id), just older than the row with id `before`,
    or just newer than the row with id `after`, or the newest one. An id of no row reads as none."""
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    columns = [getattr(model, name) for name in order]
    key = tuple_(*columns)
    query = query.order_by(None)

    def sort_key(row: Any) -> tuple:
        return tuple(getattr(row, name) for name in order)

    def cursor(ident: int | None) -> tuple | None:
        row = db.session.get(model, ident) if ident is not None else None
        return sort_key(row) if row is not None else None

    def read(where: Select, newest_first: bool) -> tuple[list[Any], bool]:
        ordered = where.order_by(*(column.desc() if newest_first else column.asc() for column in columns))
        rows = list(db.session.scalars(ordered.limit(per_page + 1)))
        return rows[:per_page], len(rows) > per_page

    if (bound := cursor(after)) is not None:
        items, more_newer = read(query.where(key > bound), newest_first=False)
        items.reverse()
        older_than = sort_key(items[-1]) if items else bound
        return KeysetPage(
            items=items,
            per_page=per_page,
            newer=items[0].id if more_newer else None,
            older=(items[-1].id if items else after) if _exists(query.where(key < older_than)) else None,
        )
    bound = cursor(before)
    items, more_older = read(query if bound is None else query.where(key < bound), newest_first=True)
    newer = None
    if bound is not None:
        newer_than = sort_key(items[0]) if items else bound
        newer = (items[0].id if items else before) if _exists(query.where(key > newer_than)) else None
    return KeysetPage(items=items, per_page=per_page, newer=newer, older=items[-1].id if more_older else None)


def _exists(query: Select) -> bool:
    return db.session.scalar(select(query.limit(1).exists())) or False


def requested_page() -> int:
    """`?page=` of the current request (1 when absent or not a number); paginate() bounds it."""
    return request.args.get("page", 1, type=int) or 1


def paginate_request(query: Select, per_page: int) -> Page:
    """paginate() at the page the request asks for: what every list page and htmx "more" partial calls."""
    return paginate(query, requested_page(), per_page)


def distinct_values(column: Any, *where: Any) -> list[Any]:
    """The distinct values of an indexed column (of the rows matching `where`), ascending, for a
    filter's drop-down: a loose index scan (a recursive CTE, one index seek per value) where
    DISTINCT reads every index entry on PostgreSQL (1,000,000 job-history rows with 20 kinds:
    90-120 ms that way)."""
    found = select(func.min(column).label("value")).where(*where).cte("found", recursive=True)
    after = select(func.min(column)).where(column > found.c.value, *where).scalar_subquery()
    found = found.union_all(select(after).where(found.c.value.is_not(None)))
    return list(db.session.scalars(select(found.c.value).where(found.c.value.is_not(None)).order_by(found.c.value)))


def containing(text: str, *columns: Any) -> ColumnElement[bool]:
    """Rows where any of `columns` contains `text`, case-folded by the database on both sides,
    `%`, `_` and the escape character taken literally (a search for "50%" is not "50 and
    anything"): every list's search box filters through this."""
    return or_(*(column.icontains(text, autoescape=True) for column in columns))
