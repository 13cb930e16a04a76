"""Pages of the parallel-ops overview: the summary as cards per area (window in the URL), and
the failure tables (filters in the URL, the table swapped by htmx)."""

from flask import Blueprint, render_template, request

from app.core.api import parse
from app.core.auth.roles import OPERATOR
from app.core.errors import InvalidInput
from app.core.pages import page_roles
from app.ops import failures
from app.ops.schemas import (
    DocSyncFailuresQuery,
    ExportFailuresQuery,
    HelpdeskFailuresQuery,
    SummaryQuery,
    WorkflowFailuresQuery,
)
from app.ops.summary import DEFAULT_WINDOW, WINDOWS, summary

bp = Blueprint("ops", __name__, url_prefix="/parallel-ops")


@bp.get("/")
@page_roles(OPERATOR)
def index():
    try:
        query = parse(SummaryQuery, {k: v for k, v in request.args.items() if v != ""})
    except InvalidInput:
        query = SummaryQuery()
    return render_template("ops/index.html", figures=summary(query.window_days), query=query, windows=WINDOWS)


# --- failure tables ------------------------------------------------------------------------------

QUERIES = {
    "doc-sync": DocSyncFailuresQuery,
    "workflow": WorkflowFailuresQuery,
    "helpdesk": HelpdeskFailuresQuery,
    "exports": ExportFailuresQuery,
}
TITLES = {
    "doc-sync": "Document sync jobs that failed",
    "workflow": "Workflow action runs that failed",
    "helpdesk": "Helpdesk sends that failed",
    "exports": "Exports that failed",
}


def _filters(area: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The selects of an area's table: (parameter, label, [(value, shown)]); "" is "all"."""
    if area == "doc-sync":
        return [
            ("site", "Site", [(name, name) for name in failures.site_names()]),
            ("direction", "Direction", [("push", "push"), ("pull", "pull")]),
            ("dead_letter", "Replayed", [("true", "not replayed yet (dead letters)")]),
        ]
    if area == "workflow":
        return [
            ("rule", "Rule", [(str(rule_id), name) for rule_id, name in failures.rules()]),
            ("phase", "Phase", [("before", "before"), ("after", "after")]),
        ]
    if area == "helpdesk":
        return [("status", "Status", [("failed", "failed (refused)"), ("dead", "dead (retries spent)")])]
    return [("kind", "Kind", [("bom_delta", "BOM delta"), ("workorder_pack", "work-order pack")])]


@bp.get("/<any('doc-sync', workflow, helpdesk, exports):area>/failures")
@page_roles(OPERATOR)
def failures_page(area: str):
    args = {k: v for k, v in request.args.items() if v != "" and k != "page"}  # kept in every link
    query, page, error = None, None, None
    try:
        query = parse(QUERIES[area], {**args, "page": request.args.get("page") or 1})
        page = failures.read(area, query.window_days, query.page, query.per_page, query.filters())
    except InvalidInput as exc:  # not from the selects: a hand-made URL, or a site deleted meanwhile
        error = exc
    context = {
        "area": area,
        "args": args,
        "page": page,
        "error": error,
        "window_days": query.window_days if query else DEFAULT_WINDOW,
        "filtered": any(name not in ("window_days", "per_page") for name in args),
        "key": failures.key,
        "links": failures.links,
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        body = render_template("ops/_failures_table.html", **context)
    else:
        page_context = {"title": TITLES[area], "filters": _filters(area), "windows": WINDOWS}
        body = render_template("ops/failures.html", **page_context, **context)
    # one URL, two answers (the table alone for htmx): a cache must not hand one for the other
    return body, 422 if error else 200, {"Vary": "HX-Request"}
