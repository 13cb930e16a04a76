"""JSON API of the parallel-ops overview."""

from flask import Blueprint

from app.core.api import API_PREFIX, endpoint
from app.core.auth.roles import ADMIN, OPERATOR
from app.extensions import db
from app.ops import alerts, switches, thresholds
from app.ops.schemas import (
    AlertsOut,
    AlertsQuery,
    BreakerSwitchOut,
    IntakeOut,
    SummaryOut,
    SummaryQuery,
    SwitchBody,
    SwitchesOut,
    TrendsOut,
    TrendsQuery,
)
from app.ops.summary import summary
from app.ops.trends import trends

bp = Blueprint("ops_api", __name__, url_prefix=API_PREFIX)
# a wrong OPS_THRESHOLDS stops the app at start, naming the setting, instead of failing each request
bp.record_once(lambda state: thresholds.parse_config(state.app.config.get("OPS_THRESHOLDS")))


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


@endpoint(
    bp,
    "/parallel-ops/alerts",
    summary="What needs an operator now, critical first; every threshold can be overridden for the request",
    roles=OPERATOR,
    query=AlertsQuery,
    response=AlertsOut,
)
def get_alerts(query: AlertsQuery):
    values = thresholds.effective(query)
    return AlertsOut(
        window_days=query.window_days,
        thresholds=values,
        alerts=alerts.alerts(query.window_days, values, query.level),
    )


@endpoint(
    bp,
    "/parallel-ops/switches",
    summary="The ops switches: every job kind's intake (paused or not) and every outbound breaker",
    roles=OPERATOR,
    response=SwitchesOut,
)
def list_switches():
    return SwitchesOut(intake=switches.intake(), breakers=switches.breakers())


@endpoint(
    bp,
    "/parallel-ops/switches/intake/<kind>/pause",
    "POST",
    summary="Pause the intake of a job kind: new submissions get 503 `paused` (jobs already queued still run)",
    roles=ADMIN,
    body=SwitchBody,
    response=IntakeOut,
)
def pause_intake(kind: str, body: SwitchBody):
    out = switches.pause(kind, body.reason)
    db.session.commit()
    return IntakeOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/intake/<kind>/resume",
    "POST",
    summary="Resume the intake of a paused job kind",
    roles=ADMIN,
    response=IntakeOut,
)
def resume_intake(kind: str):
    out = switches.resume(kind)
    db.session.commit()
    return IntakeOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/sites/<int:site_id>/breaker/open",
    "POST",
    summary="Open a remote site's breaker by hand: calls to it pause until it is closed by hand",
    roles=ADMIN,
    body=SwitchBody,
    response=BreakerSwitchOut,
)
def open_site_breaker(site_id: int, body: SwitchBody):
    out = switches.switch_site(site_id, True, body.reason)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/sites/<int:site_id>/breaker/close",
    "POST",
    summary="Close a remote site's breaker by hand (held or opened by failures)",
    roles=ADMIN,
    response=BreakerSwitchOut,
)
def close_site_breaker(site_id: int):
    out = switches.switch_site(site_id, False)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/helpdesk/breaker/open",
    "POST",
    summary="Open the helpdesk endpoint's breaker by hand: sends pause until it is closed by hand",
    roles=ADMIN,
    body=SwitchBody,
    response=BreakerSwitchOut,
)
def open_helpdesk_breaker(body: SwitchBody):
    out = switches.switch_helpdesk(True, body.reason)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/helpdesk/breaker/close",
    "POST",
    summary="Close the helpdesk endpoint's breaker by hand",
    roles=ADMIN,
    response=BreakerSwitchOut,
)
def close_helpdesk_breaker():
    out = switches.switch_helpdesk(False)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)
