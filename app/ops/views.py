"""Pages of the parallel-ops overview: the summary as cards per area (window in the URL)."""

from flask import Blueprint, render_template, request

from app.core.api import parse
from app.core.auth.roles import OPERATOR
from app.core.errors import InvalidInput
from app.core.pages import page_roles
from app.ops.schemas import SummaryQuery
from app.ops.summary import WINDOWS, summary

bp = Blueprint("ops", __name__, url_prefix="/parallel-ops")


@bp.get("/")
@page_roles(OPERATOR)
def index():
    try:
        query = parse(SummaryQuery, {k: v for k, v in request.args.items() if v != ""})
    except InvalidInput:
        query = SummaryQuery()
    return render_template("ops/index.html", figures=summary(query.window_days), query=query, windows=WINDOWS)
