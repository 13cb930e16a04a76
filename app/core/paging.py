"""Offset paging over a SQLAlchemy select, the same for pages and API."""

from dataclasses import dataclass
from typing import Any

from flask import request
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

    @property
    def first(self) -> int:
        """1-based position of the page's first row (its rows are first .. first + len(items) - 1)."""
        return (self.page - 1) * self.per_page + 1

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


def requested_page() -> int:
    """`?page=` of the current request (1 when absent or not a number); paginate() bounds it."""
    return request.args.get("page", 1, type=int) or 1


def paginate_request(query: Select, per_page: int) -> Page:
    """paginate() at the page the request asks for: what every list page and htmx "more" partial calls."""
    return paginate(query, requested_page(), per_page)
