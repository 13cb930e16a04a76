"""JSON API of the parallel-ops overview."""

from flask import Blueprint

from app.core.api import API_PREFIX, endpoint
from app.core.auth.roles import OPERATOR
from app.ops import gauges  # noqa: F401  (registers the ops_* scrape-time gauges)
from app.ops.schemas import SummaryOut, SummaryQuery
from app.ops.summary import summary

bp = Blueprint("ops_api", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/parallel-ops/summary",
    summary="Background work across the product over a window: one section per area",
    roles=OPERATOR,
    query=SummaryQuery,
    response=SummaryOut,
)
def get_summary(query: SummaryQuery):
    return SummaryOut.model_validate(summary(query.window_days))
