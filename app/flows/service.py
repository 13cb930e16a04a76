"""Flows and runs: documents checked and stored, runs enqueued on the `flows`
queue, controlled through a Redis command list the running job listens to,
and monitored from the snapshot the job keeps in Redis (the final state in
the database once it has ended)."""

import json
import os
import re
import uuid
from typing import Any

from flask import current_app
from flask_login import current_user
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import audit, jobs, metrics, rediskeys
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.jobs import history, sweeper
from app.core.jobs.models import JobState
from app.core.paging import Page, paginate
from app.core.records import id_from_text
from app.core.timeutil import utcnow
from app.core.validation import invalid
from app.engine import Flow, RunStatus
from app.engine.breakpoints import Breakpoint
from app.engine.builtins import ROUTINE_TYPES, register_class
from app.engine.expressions import ExpressionError
from app.engine.runtime import FINAL, RoutineStatus
from app.extensions import db, redis_client
from app.flows import document
from app.flows.models import FlowDefinition, FlowRun
from app.flows.monitor import snapshot_key
from app.queues.service import JOB_ID

CONTROL_ACTIONS = ("pause", "resume", "step", "cancel")


def _controls(status: RunStatus) -> tuple[str, ...]:
    if status in FINAL:
        return ()
    if status == RunStatus.PENDING:
        return ("cancel",)
    pointless = "pause" if status == RunStatus.PAUSED else "resume"
    return tuple(action for action in CONTROL_ACTIONS if action != pointless)


# what a run's page offers at each status: nothing once it has ended, only cancel before it starts
CONTROLS = {status: _controls(status) for status in RunStatus}
MAX_FEED_ITEMS = 10_000
MAX_WAIT_FOR_INPUT = 3600
BREAKPOINT_ID = re.compile(r"[0-9a-f]{8}")


def control_key(job_id: str) -> str:
    return rediskeys.key("flow-run", job_id, "control")


def _actor() -> str:
    return current_user.username if current_user and current_user.is_authenticated else "system"


# -- flows -------------------------------------------------------------------


def build_flow(text: str) -> Flow:
    """document.build, with the routine classes named in FLOW_ROUTINE_CLASSES
    ("module:Class, ...", config or environment) registered first."""
    names = current_app.config.get("FLOW_ROUTINE_CLASSES") or os.environ.get("FLOW_ROUTINE_CLASSES", "")
    for path in filter(None, (name.strip() for name in names.split(","))):
        if path not in ROUTINE_TYPES:
            register_class(path)
    return document.build(text)


def check_document(text: str) -> Flow:
    """The built flow, or InvalidInput listing every problem with its field and line."""
    try:
        return build_flow(text)
    except document.DocumentInvalid as exc:
        raise InvalidInput(f"The flow document has {len(exc.errors)} problem(s).", {"errors": exc.errors}) from None


def list_flows(page: int = 1, per_page: int = 25) -> Page:
    return paginate(select(FlowDefinition).order_by(FlowDefinition.name), page, per_page)


def get_flow(flow_id: int | str) -> FlowDefinition:
    """By id; API paths hand the id over as text, and text that is no id finds nothing."""
    ident = id_from_text(str(flow_id))
    flow = db.session.get(FlowDefinition, ident) if ident is not None else None
    if flow is None:
        raise NotFound(f"No flow {flow_id}.")
    return flow


def create_flow(text: str, actor: str | None = None) -> FlowDefinition:
    built = check_document(text)
    parsed, _ = document.parse(text)
    if db.session.scalar(select(FlowDefinition.id).where(FlowDefinition.name == built.name)):
        raise Conflict(f"A flow named {built.name!r} exists already.")
    flow = FlowDefinition(name=built.name, description=parsed.description, document=text, created_by=actor or _actor())
    db.session.add(flow)
    try:
        db.session.flush()
    except IntegrityError:  # created by someone else meanwhile
        db.session.rollback()
        raise Conflict(f"A flow named {built.name!r} exists already.") from None
    audit.record("flow", flow.id, "create", after={"name": flow.name, "routines": len(built.routines)}, actor=actor)
    return flow


def delete_flow(flow_id: int | str) -> None:
    flow = get_flow(flow_id)
    if any(not run.is_final for run in flow.runs):
        raise Conflict("The flow has runs that have not ended; cancel them first.")
    audit.record("flow", flow.id, "delete", before={"name": flow.name, "runs": len(flow.runs)})
    db.session.delete(flow)


def describe(flow: FlowDefinition) -> dict[str, Any]:
    """Routines (type, policy, config, slots, events) and connections, as the engine builds them."""
    return check_document(flow.document).describe()


def routine_info(flow_id: int | str, routine_id: str) -> dict[str, Any]:
    description = describe(get_flow(flow_id))
    for routine in description["routines"]:
        if routine["id"] == routine_id:
            return {**routine, "entry": routine_id in description["entries"]}
    raise NotFound(f"Flow {flow_id} has no routine {routine_id!r}.")


# -- runs --------------------------------------------------------------------


def start_run(flow_id: int | str, wait_for_input: int = 0) -> FlowRun:
    flow = get_flow(flow_id)
    if not 0 <= wait_for_input <= MAX_WAIT_FOR_INPUT:
        raise invalid(
            "wait_for_input", f"Wait for input must be a whole number of seconds from 0 to {MAX_WAIT_FOR_INPUT:,}."
        )
    check_document(flow.document)
    run = FlowRun(flow=flow, wait_for_input=wait_for_input, actor=_actor())
    db.session.add(run)
    db.session.flush()
    record = jobs.enqueue(
        "flow_run",
        "app.flows.jobs.run_flow",
        run.id,
        queue="flows",
        link=("flow_run", run.id),
        timeout=6 * 3600,
        description=f"flow {flow.name} run {run.id}",
    )
    run.job_id = record.id
    audit.record(
        "flow_run", run.id, "start", after={"flow": flow.name, "job_id": record.id, "wait_for_input": wait_for_input}
    )
    return run


def get_run(job_id: str) -> FlowRun:
    """The run as stored (read-only); callers that show or act on it call `reconcile()` first."""
    run = db.session.scalar(select(FlowRun).where(FlowRun.job_id == job_id)) if JOB_ID.fullmatch(job_id) else None
    if run is None:
        raise NotFound(f"No flow run with job id {job_id!r}.")
    return run


def reconcile(run: FlowRun) -> bool:
    """A write the caller commits: a run whose job ended without reporting (work horse
    killed, stopped or canceled from the queues page) is closed after its job history
    row. True when it changed the run."""
    if run.is_final:
        return False
    record = history.get(run.job_id)
    if record is None or not record.is_final:
        return False
    status = RunStatus.CANCELED if record.status == JobState.canceled else RunStatus.FAILED
    audit.record(
        "flow_run", run.id, "reconcile", before={"status": run.status}, after={"status": status}, actor="system"
    )
    run.status, run.ended_at = status, record.ended_at or utcnow()
    run.error = run.error or f"its job ended as {record.status} without reporting: {record.error or 'no error'}"
    return True


def sweep() -> int:
    """The sweeper's hook: close the runs whose job ended without reporting."""
    stalled = sweeper.stalled(select(FlowRun).where(FlowRun.status.not_in(FINAL)), FlowRun.job_id)
    return sum(reconcile(run) for run, _ in stalled)


def why_not_requeued(run_id: str) -> str | None:
    """Asked before a failed flow-run job is requeued: a run that has ended stays as it ended
    (its job would only fail again, see jobs.RunEnded); one that has not (its job failed
    before the run was closed) runs again."""
    ident = id_from_text(run_id)
    run = db.session.get(FlowRun, ident) if ident is not None else None
    if run is None:
        return f"its flow run {run_id} no longer exists"
    if run.is_final:
        return (
            f"flow run #{run.id} of {run.flow.name!r} has ended ({run.status}) and a run runs once; "
            "start a new run of the flow instead"
        )
    return None


def _reconciled_run(job_id: str) -> FlowRun:
    """For the writes below: the run, closed first if its job died unreported."""
    run = get_run(job_id)
    reconcile(run)
    return run


def recent_runs(limit: int = 20) -> list[FlowRun]:
    return list(db.session.scalars(select(FlowRun).order_by(FlowRun.id.desc()).limit(limit)))


def _command(run: FlowRun, command: dict[str, Any]) -> None:
    redis_client().rpush(control_key(run.job_id), json.dumps(command))


def control(job_id: str, action: str) -> FlowRun:
    if action not in CONTROL_ACTIONS:
        raise NotFound(f"Unknown action {action!r}.", {"allowed": list(CONTROL_ACTIONS)})
    run = _reconciled_run(job_id)
    if run.is_final:
        raise Conflict(f"The run has ended ({run.status}).", {"status": run.status})
    if run.status == RunStatus.PENDING and action != "cancel":
        raise Conflict("The run has not started yet; only cancel applies.", {"status": run.status})
    audit.record("flow_run", run.id, action, before={"status": run.status})
    if run.status == RunStatus.PENDING:
        _cancel_queued(run)
    else:
        _command(run, {"action": action})
    return run


def _cancel_queued(run: FlowRun) -> None:
    try:
        Job.fetch(run.job_id, connection=redis_client()).cancel()
    except NoSuchJobError:
        pass
    history.set_status(run.job_id, JobState.canceled)
    run.status, run.ended_at = RunStatus.CANCELED, utcnow()


def feed(job_id: str, routine: str, slot: str, items: list[Any]) -> FlowRun:
    run = _reconciled_run(job_id)
    if run.is_final:
        raise Conflict(f"The run has ended ({run.status}).", {"status": run.status})
    if not items or len(items) > MAX_FEED_ITEMS:
        raise invalid("items", f"Items: give 1 to {MAX_FEED_ITEMS:,}, one a line.")
    info = routine_info(run.flow_id, routine)
    if slot not in {s["name"] for s in info["slots"]}:
        raise InvalidInput(f"Routine {routine!r} has no slot {slot!r}.", {"slots": [s["name"] for s in info["slots"]]})
    _command(run, {"action": "feed", "routine": routine, "slot": slot, "items": items})
    audit.record("flow_run", run.id, "feed", after={"routine": routine, "slot": slot, "items": len(items)})
    return run


def breakpoint_targets(run: FlowRun) -> dict[str, set[str]]:
    described = describe(run.flow)
    return {
        "routine": {r["id"] for r in described["routines"]},
        "slot": {f"{r['id']}.{s['name']}" for r in described["routines"] for s in r["slots"]},
        "connection": {f"{c['source']}.{c['event']}->{c['target']}.{c['slot']}" for c in described["connections"]},
    }


def add_breakpoint(job_id: str, kind: str, target: str, condition: str | None) -> dict[str, Any]:
    """Pauses the run when it holds; the worker gets it through the command list."""
    run = _reconciled_run(job_id)
    if run.is_final:
        raise Conflict(f"The run has ended ({run.status}).", {"status": run.status})
    targets = breakpoint_targets(run)
    if target not in targets.get(kind, ()):
        raise InvalidInput(
            f"The flow has no {kind} {target!r}.", {"field": "target", "allowed": sorted(targets.get(kind, ()))}
        )
    try:
        breakpoint = Breakpoint(uuid.uuid4().hex[:8], kind, target, condition or None)
    except ExpressionError as exc:
        raise InvalidInput(str(exc), {"field": "condition"}) from None
    info = breakpoint.info()
    _command(run, {"action": "breakpoint", **info})
    audit.record("flow_run", run.id, "breakpoint_add", after=info)
    return info


def remove_breakpoint(job_id: str, breakpoint_id: str) -> None:
    run = _reconciled_run(job_id)
    if not BREAKPOINT_ID.fullmatch(breakpoint_id):
        raise NotFound(f"No breakpoint {breakpoint_id!r}.")
    if run.is_final:
        raise Conflict(f"The run has ended ({run.status}).", {"status": run.status})
    _command(run, {"action": "unbreak", "id": breakpoint_id})
    audit.record("flow_run", run.id, "breakpoint_remove", before={"id": breakpoint_id})


# -- monitoring --------------------------------------------------------------


def _empty_state(run: FlowRun) -> dict[str, Any]:
    described = describe(run.flow)
    return {
        "status": run.status,
        "error": run.error,
        "started_at": None,
        "ended_at": None,
        "active_routines": [],
        "backpressure_waits": 0,
        "trace": [],
        "breakpoints": [],
        "held": None,
        "stepping": False,
        "routines": {
            r["id"]: {
                "status": RoutineStatus.IDLE,
                "executions": 0,
                "errors": 0,
                "retries": 0,
                "items_in": 0,
                "discarded": 0,
                "active": False,
                "last_execution": None,
                "last_error": None,
                "total_duration": 0.0,
                "max_duration": 0.0,
                "avg_duration": None,
            }
            for r in described["routines"]
        },
        "queues": {
            r["id"]: {
                s["name"]: {
                    "unconsumed_count": 0,
                    "total_count": 0,
                    "max_length": s["max_queue_length"],
                    "watermark_threshold": int(s["max_queue_length"] * s["watermark"]),
                    "usage_percentage": 0.0,
                    "pressure_level": "low",
                    "is_full": False,
                    "is_near_full": False,
                }
                for s in r["slots"]
            }
            for r in described["routines"]
        },
    }


def monitoring(job_id: str) -> dict[str, Any]:
    """The run's whole state: live from Redis while it runs, from the database once ended."""
    run = get_run(job_id)
    state = None
    if run.is_final:
        state = run.state
    else:
        raw = redis_client().get(snapshot_key(job_id))
        state = json.loads(raw) if raw else None
    if state is None:
        state = _empty_state(run)
    state = {**state, "status": run.status if run.is_final or run.status == RunStatus.PENDING else state["status"]}
    return {"job_id": job_id, "run_id": run.id, "flow_id": run.flow_id, "flow": run.flow.name, **state}


@metrics.scrape_gauge(
    "slot_queue_usage_ratio", "Fill of each slot of the flows running now (0..1)", ("flow", "routine", "slot")
)
def queue_usage() -> list[tuple[str, str, str, float]]:
    """(flow, routine, slot, usage) for every slot of the runs going on now; the highest per slot."""
    usage: dict[tuple[str, str, str], float] = {}
    runs = db.session.execute(
        select(FlowRun.job_id, FlowDefinition.name).join(FlowRun.flow).where(FlowRun.status == RunStatus.RUNNING)
    ).all()
    snapshots = redis_client().mget([snapshot_key(job_id) for job_id, _ in runs]) if runs else []
    for (_, flow), raw in zip(runs, snapshots, strict=True):  # one query, one round trip per scrape
        if not raw:
            continue
        for routine, slots in json.loads(raw).get("queues", {}).items():
            for slot, status in slots.items():
                key = (flow, routine, slot)
                usage[key] = max(usage.get(key, 0.0), status["usage_percentage"])
    return [(*key, value) for key, value in sorted(usage.items())]
