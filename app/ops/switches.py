"""Ops switches (issue 19 point 8): an admin pauses and resumes the intake of a job kind, and
opens or closes by hand the breaker of a remote site or of the helpdesk endpoint (through the
docsync and breakages services). Every switch is audited; the pauses are exported as the gauge
`ops_switch_paused{kind}`.

A pause refuses new submissions: core's `enqueue()` announces `job_enqueue` and the hook here
answers 503 `paused` while a request is being served (one primary-key read). Work the workers
enqueue themselves (the sweeper resuming a sync job, RQ's retries) is not a submission, so jobs
already accepted go on; jobs already queued run as usual."""

from typing import Any

from flask import has_request_context
from sqlalchemy import select

from app.breakages import helpdesk
from app.core import audit, breaker, metrics
from app.core.errors import Conflict, Unavailable
from app.core.validation import not_one_of
from app.docsync import sites
from app.extensions import db
from app.ops.models import IntakePause

# every kind passed to core.jobs.enqueue() in app/ (tests/ops/test_switches.py finds them all)
KINDS = (
    "bom_delta_export",
    "consumption_inbox",
    "demo",
    "doc-sync-pull",
    "doc-sync-push",
    "eco.activity_digest",
    "eco.bom_delta_report",
    "flow_run",
    "helpdesk_send",
    "optimization_chunk",
    "workorder_pack",
)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise not_one_of("kind", "Job kind", kind, KINDS)
    return kind


def _shown(pause: IntakePause | None, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "paused": pause is not None,
        "paused_by": pause.paused_by if pause else None,
        "paused_at": pause.paused_at if pause else None,
        "reason": pause.reason if pause else None,
    }


def on_job_enqueue(kind: str) -> None:
    """The `job_enqueue` hook: a submission of a paused kind is refused (503 `paused`)."""
    if not has_request_context():
        return
    pause = db.session.get(IntakePause, kind)
    if pause is not None:
        raise Unavailable(
            f"New {kind} jobs are paused since {pause.paused_at:%Y-%m-%d %H:%M} UTC by {pause.paused_by}: "
            f"{pause.reason}. Try again once an admin resumes them.",
            {
                "kind": kind,
                "paused_by": pause.paused_by,
                "paused_at": pause.paused_at.isoformat(),
                "reason": pause.reason,
            },
            code="paused",
        )


def intake() -> list[dict[str, Any]]:
    """Every known kind with its pause (if any), in KINDS order."""
    paused = {p.kind: p for p in db.session.scalars(select(IntakePause))}
    return [_shown(paused.get(kind), kind) for kind in KINDS]


def pause(kind: str, reason: str) -> dict[str, Any]:
    existing = db.session.get(IntakePause, _kind(kind))
    if existing is not None:
        raise Conflict(f"{kind} is paused already (by {existing.paused_by}).", {"kind": kind}, code="already_paused")
    row = IntakePause(kind=kind, paused_by=audit.current_actor(), reason=reason)
    db.session.add(row)
    db.session.flush()
    audit.record("ops_switch", kind, "pause", before={"paused": False}, after={"paused": True, "reason": reason})
    return _shown(row, kind)


def resume(kind: str) -> dict[str, Any]:
    row = db.session.get(IntakePause, _kind(kind))
    if row is None:
        raise Conflict(f"{kind} is not paused.", {"kind": kind}, code="not_paused")
    audit.record(
        "ops_switch",
        kind,
        "resume",
        before={"paused": True, "paused_by": row.paused_by, "reason": row.reason},
        after={"paused": False},
    )
    db.session.delete(row)
    db.session.flush()
    return _shown(None, kind)


def breakers() -> list[dict[str, Any]]:
    """The breaker of every remote site and of the helpdesk endpoint (when one is configured)."""
    found = [{"target": "site", "id": s.id, "name": s.name, **breaker.state(s)} for s in sites.all_sites()]
    if (endpoint := helpdesk.configured()) is not None:
        found.append({"target": "helpdesk", "id": endpoint.id, "name": endpoint.name, **breaker.state(endpoint)})
    return found


def switch_site(site_id: int, open_: bool, reason: str = "") -> dict[str, Any]:
    site = sites.switch_breaker(site_id, open_, reason)
    return {"target": "site", "id": site.id, "name": site.name, **breaker.state(site)}


def switch_helpdesk(open_: bool, reason: str = "") -> dict[str, Any]:
    endpoint = helpdesk.configured()
    if endpoint is None:
        raise Conflict("No helpdesk endpoint is configured.", code="no_endpoint")
    endpoint = helpdesk.switch_breaker(endpoint.id, open_, reason)
    return {"target": "helpdesk", "id": endpoint.id, "name": endpoint.name, **breaker.state(endpoint)}


@metrics.scrape_gauge("ops_switch_paused", "1 when new jobs of the kind are paused by an ops switch", ("kind",))
def paused_gauge() -> list[tuple[str, float]]:
    paused = set(db.session.scalars(select(IntakePause.kind)))
    return [(kind, 1.0 if kind in paused else 0.0) for kind in KINDS]  # one row per known kind: bounded
