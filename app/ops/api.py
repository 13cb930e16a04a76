"""JSON API of the parallel-ops overview."""

from flask import Blueprint

from app.core.api import API_PREFIX, endpoint
from app.core.auth.roles import OPERATOR
from app.ops.schemas import SummaryOut, SummaryQuery, TrendsOut, TrendsQuery
from app.ops.summary import summary
from app.ops.trends import trends

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


@endpoint(
    bp,
    "/parallel-ops/trends",
    summary="Per time bucket of a window, the totals and failures of each area",
    roles=OPERATOR,
    query=TrendsQuery,
    response=TrendsOut,
)
def get_trends(query: TrendsQuery):
    return TrendsOut.model_validate(trends(query.window_days, query.bucket_days))
