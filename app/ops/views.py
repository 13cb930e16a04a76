"""Pages of the parallel-ops overview: the alerts, the ops switches and the summary as cards per
area (window in the URL); the switch forms (admins)."""

from flask import Blueprint, render_template, request, url_for

from app.core.api import parse
from app.core.auth.roles import ADMIN, OPERATOR
from app.core.errors import InvalidInput
from app.core.pages import form_action, page_roles
from app.ops import alerts, switches, thresholds
from app.ops.schemas import SummaryQuery, SwitchBody
from app.ops.summary import WINDOWS, summary

bp = Blueprint("ops", __name__, url_prefix="/parallel-ops")


def _query() -> SummaryQuery:
    try:
        return parse(SummaryQuery, {k: v for k, v in request.args.items() if v != ""})
    except InvalidInput:
        return SummaryQuery()


def _alerts(query: SummaryQuery) -> list[dict]:
    return alerts.alerts(query.window_days, thresholds.configured())


@bp.get("/")
@page_roles(OPERATOR)
def index():
    query = _query()
    return render_template(
        "ops/index.html",
        figures=summary(query.window_days),
        query=query,
        windows=WINDOWS,
        alerts=_alerts(query),
        intake=switches.intake(),
        breakers=switches.breakers(),
    )


@bp.get("/panel/alerts")
@page_roles(OPERATOR)
def alerts_panel():
    """The alert list alone, for a live or polling refresh of the page's list."""
    return render_template("ops/_alerts.html", alerts=_alerts(_query()))


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
