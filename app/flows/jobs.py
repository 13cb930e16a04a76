"""The flow run job: builds the flow, runs it with the Runtime, listens for
commands (pause, resume, cancel, feed) on a Redis list, lets the monitor
publish and snapshot, and persists the final state."""

import json
import logging
import threading

from app.core.timeutil import utcnow
from app.engine import RunStatus, Runtime
from app.engine.breakpoints import Breakpoint
from app.engine.heap import long_lived_objects_frozen
from app.engine.runtime import FINAL
from app.extensions import db, redis_client
from app.flows import document, metrics
from app.flows.models import FlowRun
from app.flows.monitor import redis_monitor
from app.flows.service import build_flow, control_key

log = logging.getLogger(__name__)
COMMAND_WAIT = 1.0  # seconds a BLPOP blocks; also how soon the listener notices the run ended
FINAL_TRACE = 1000


class FlowRunFailed(RuntimeError):
    """Raised after the state is saved, so RQ marks the job failed too."""


class CommandListener(threading.Thread):
    def __init__(self, connection, key: str, runtime: Runtime) -> None:
        super().__init__(name="flow-commands", daemon=True)
        self.connection, self.key, self.runtime = connection, key, runtime
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                item = self.connection.blpop([self.key], timeout=COMMAND_WAIT)
            except Exception:  # Redis gone for a moment: the run goes on without commands
                log.warning("flow run: command list unreadable", exc_info=True)
                self.done.wait(COMMAND_WAIT)
                continue
            if item is not None:
                self.apply(json.loads(item[1]))

    def apply(self, command: dict) -> None:
        action = command.get("action")
        if action in ("pause", "resume", "step", "cancel"):
            getattr(self.runtime, action)()
        elif action == "breakpoint":
            self.runtime.add_breakpoint(
                Breakpoint(command["id"], command["kind"], command["target"], command.get("condition"))
            )
        elif action == "unbreak":
            self.runtime.remove_breakpoint(command["id"])
        elif action == "feed":
            try:
                self.runtime.feed(command["routine"], command["slot"], command["items"])
            except Exception as exc:  # noqa: BLE001 (SlotQueueFull/closed, bad command): the listener lives on
                log.warning("flow run: feed failed: %s", exc)


def drive(runtime: Runtime, wait_for_input: float) -> None:
    """Until the run ends: an idle run waits `wait_for_input` s for fed input, a paused one for resume."""
    while True:
        runtime.wait_idle()
        if runtime.status in FINAL:
            return
        if runtime.status is RunStatus.PAUSED:
            runtime.wait_status({RunStatus.RUNNING, RunStatus.IDLE, *FINAL})
            continue
        woke = runtime.wait_status({RunStatus.RUNNING, RunStatus.PAUSED, *FINAL}, timeout=wait_for_input)
        if not woke and runtime.status is RunStatus.IDLE:
            return


class RunEnded(Exception):
    """The job of a run that has ended ran again (requeued from the queues page): it cannot
    restart the run, and must not report "finished" as if it had."""


def run_flow(run_id: int) -> dict:
    run = db.session.get(FlowRun, run_id)
    if run is None:
        raise RunEnded(f"flow run {run_id} no longer exists")
    if run.is_final:
        raise RunEnded(f"flow run {run_id} has ended ({run.status}); start a new run instead of requeuing its job")
    run.status, run.started_at = RunStatus.RUNNING, utcnow()
    db.session.commit()
    job_id, wait_for_input = run.job_id, run.wait_for_input
    try:
        flow = build_flow(run.flow.document)
    except document.DocumentInvalid as exc:  # e.g. a routine class this worker cannot import
        _persist(run_id, RunStatus.FAILED, f"the flow does not build here: {exc}", None)
        raise
    connection = redis_client()
    monitor = redis_monitor(job_id, connection)
    runtime = Runtime(flow, on_event=monitor.hook)
    listener = CommandListener(connection, control_key(job_id), runtime)
    monitor.attach(runtime)
    listener.start()
    try:
        with long_lived_objects_frozen():
            runtime.start()
            drive(runtime, wait_for_input)
            runtime.finish()
    finally:  # also when RQ's timeout interrupts the job: the state is kept either way
        if runtime.status not in FINAL:
            runtime.cancel()
        listener.done.set()
        listener.join()
        connection.delete(control_key(job_id))
        state = _persist(run_id, runtime.status.value, runtime.error, runtime.snapshot(trace_limit=FINAL_TRACE))
        monitor.close()  # job_completed goes out now: a page reloading on it finds the run ended
    if runtime.status is RunStatus.FAILED:
        raise FlowRunFailed(runtime.error)
    return {"status": runtime.status.value, "executions": sum(s["executions"] for s in state["routines"].values())}


def _persist(run_id: int, status: str, error: str | None, snapshot: dict | None) -> dict | None:
    db.session.rollback()
    run = db.session.get(FlowRun, run_id)
    state = json.loads(json.dumps(snapshot, default=str)) if snapshot is not None else None
    run.status, run.error, run.ended_at, run.state = status, error, utcnow(), state
    db.session.commit()
    flow = run.flow.name
    metrics.FLOW_RUNS.labels(status).inc()
    for routine, stats in (state or {}).get("routines", {}).items():
        ok = stats["executions"] - stats["errors"]
        if ok:
            metrics.ROUTINE_EXECUTIONS.labels(flow, routine, "ok").inc(ok)
        if stats["errors"]:
            metrics.ROUTINE_EXECUTIONS.labels(flow, routine, "error").inc(stats["errors"])
    if state and state["backpressure_waits"]:
        metrics.SLOT_BACKPRESSURE_WAITS.labels(flow).inc(state["backpressure_waits"])
    return state
