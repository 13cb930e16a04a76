"""Pages of the parallel-ops overview: the alerts, the ops switches, the summary as cards per area
with sparklines and the trend charts (window and bucket in the URL); the partial of alerts, cards
and charts the page re-reads live; the switch forms (admins); the failure tables (filters in the
URL, the table swapped by htmx)."""

from flask import Blueprint, render_template, request, url_for

from app.core.api import parse
from app.core.auth.roles import ADMIN, OPERATOR
from app.core.errors import InvalidInput
from app.core.pages import form_action, page_roles
from app.ops import alerts, charts, failures, switches, thresholds
from app.ops.schemas import (
    DocSyncFailuresQuery,
    ExportFailuresQuery,
    HelpdeskFailuresQuery,
    SwitchBody,
    TrendsQuery,
    WorkflowFailuresQuery,
)
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
    figures = summary(query.window_days)
    return {
        "figures": figures,
        "charts": charts.charts(trend),
        "alerts": alerts.alerts(query.window_days, thresholds.configured(), figures=figures),
        "query": query,
    }


@bp.get("/")
@page_roles(OPERATOR)
def index():
    return render_template(
        "ops/index.html",
        windows=WINDOWS,
        buckets=BUCKETS,
        intake=switches.intake(),
        breakers=switches.breakers(),
        **_context(),
    )


@bp.get("/partials/live")
@page_roles(OPERATOR)
def live_partial():
    return render_template("ops/_live.html", **_context())


def _reason() -> str:
    return parse(SwitchBody, {"reason": request.form.get("reason", "")}).reason


@bp.post("/switches/intake/<kind>/<any(pause, resume):action>")
@page_roles(ADMIN)
def switch_intake(kind: str, action: str):
    def act() -> str:
        if action == "pause":
            switches.pause(kind, _reason())
            return f"New {kind} jobs are paused."
        switches.resume(kind)
        return f"New {kind} jobs are taken again."

    return form_action(act, url_for("ops.index") + "#switches")


@bp.post("/switches/sites/<int:site_id>/breaker/<any(open, close):action>")
@page_roles(ADMIN)
def switch_site(site_id: int, action: str):
    def act() -> str:
        site = switches.switch_site(site_id, action == "open", _reason() if action == "open" else "")
        return f"The breaker of site {site['name']} is {'open' if site['open'] else 'closed'}."

    return form_action(act, url_for("ops.index") + "#switches")


@bp.post("/switches/helpdesk/breaker/<any(open, close):action>")
@page_roles(ADMIN)
def switch_helpdesk(action: str):
    def act() -> str:
        endpoint = switches.switch_helpdesk(action == "open", _reason() if action == "open" else "")
        return f"The helpdesk's breaker is {'open' if endpoint['open'] else 'closed'}."

    return form_action(act, url_for("ops.index") + "#switches")


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
