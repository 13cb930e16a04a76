"""Pages of the parallel-ops overview: the summary as cards per area with sparklines and the
trend charts (window and bucket in the URL), and the partial of both the page re-reads live."""

from flask import Blueprint, render_template, request

from app.core.api import parse
from app.core.auth.roles import OPERATOR
from app.core.errors import InvalidInput
from app.core.pages import page_roles
from app.ops import charts
from app.ops.schemas import TrendsQuery
from app.ops.summary import DEFAULT_WINDOW, WINDOWS, summary
from app.ops.trends import BUCKETS, trends

bp = Blueprint("ops", __name__, url_prefix="/parallel-ops")


def _query() -> TrendsQuery:
    """The window and bucket of the URL; a bad one falls back to its default (the window is kept
    when only the bucket is wrong, e.g. longer than the window)."""
    given = {k: v for k, v in request.args.items() if v != "" and k in TrendsQuery.model_fields}
    for attempt in (given, {"window_days": given.get("window_days", DEFAULT_WINDOW)}):
        try:
            return parse(TrendsQuery, attempt)
        except InvalidInput:
            continue
    return TrendsQuery()


def _context() -> dict:
    query = _query()
    trend = trends(query.window_days, query.bucket_days)
    return {"figures": summary(query.window_days), "charts": charts.charts(trend), "query": query}


@bp.get("/")
@page_roles(OPERATOR)
def index():
    return render_template("ops/index.html", windows=WINDOWS, buckets=BUCKETS, **_context())


@bp.get("/partials/live")
@page_roles(OPERATOR)
def live_partial():
    return render_template("ops/_live.html", **_context())
