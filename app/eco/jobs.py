"""Background work of create_job rules, on the `actions` queue. Each job loads
its run, does the work, and records the outcome on the run (and the live
channel), so the ECO page and the runs browser follow it."""

from typing import Any

from rq import get_current_job

from app.core import live
from app.core.timeutil import utcnow
from app.eco import rules, service
from app.eco.models import OPEN_STATUSES, ActionRunStatus, Eco
from app.extensions import db


def bom_delta_report(eco: Eco) -> dict[str, Any]:
    """The BOM delta the ECO would apply, as counts per operation."""
    delta = service.bom_delta(eco)
    if delta is None:
        raise ValueError(f"{eco.number} proposes no BOM revision")
    return {"left": delta.left, "right": delta.right, **delta.summary}


def activity_digest(eco: Eco) -> dict[str, Any]:
    now = utcnow()
    open_ = [a for a in eco.activities if a.status in OPEN_STATUSES]
    return {
        "open": len(open_),
        "blocking_open": sum(a.blocking for a in open_),
        "overdue": sum(1 for a in open_ if a.due_at and a.due_at < now),
    }


JOBS = {"bom_delta_report": bom_delta_report, "activity_digest": activity_digest}


def run_rule_job(run_id: int) -> dict[str, Any]:
    run = rules.get_run(run_id)
    run.status, run.result_code = ActionRunStatus.running, "RUNNING"
    run.attempts += 1
    db.session.commit()
    job = get_current_job()
    try:
        result = JOBS[run.rule.params["job"]](run.eco)
    except Exception as exc:
        db.session.rollback()
        retrying = bool(job and job.retries_left)
        _finish(
            run_id,
            (ActionRunStatus.queued, "QUEUED") if retrying else (ActionRunStatus.failed, "JOB_FAILED"),
            error=f"{type(exc).__name__}: {exc}",
            done=not retrying,
        )
        raise
    _finish(run_id, (ActionRunStatus.completed, "OK"), result=result, done=True)
    return result


def _finish(
    run_id: int, outcome: tuple[str, str], *, error: str | None = None, result: dict[str, Any] | None = None, done: bool
) -> None:
    run = rules.get_run(run_id)
    run.status, run.result_code = outcome
    run.error = error
    if result is not None:
        run.result = {**(run.result or {}), **result}
    if done:
        run.finished_at = utcnow()
        rules.count_runs([run])
    db.session.commit()
    live.publish(f"eco:{run.eco_id}", "rule_run", {"run": run.id, "status": run.status, "code": run.result_code})
