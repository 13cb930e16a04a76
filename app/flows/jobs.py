"""The flow run job: builds the flow, runs it with the Runtime, listens for
commands (pause, resume, cancel, feed) on a Redis list, lets the monitor
publish and snapshot, and persists the final state."""

import json
import logging
import threading

from app.core import metrics
from app.core.timeutil import utcnow
from app.engine import RunStatus, Runtime
from app.engine.runtime import FINAL
from app.extensions import db, redis_client
from app.flows import document
from app.flows.models import FlowRun
from app.flows.monitor import redis_monitor
from app.flows.service import control_key

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
        if action in ("pause", "resume", "cancel"):
            getattr(self.runtime, action)()
        elif action == "feed":
            try:
                self.runtime.feed(command["routine"], command["slot"], command["items"])
            except Exception as exc:  # SlotQueueFull/closed: the runtime already reports it
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


def run_flow(run_id: int) -> dict:
    run = db.session.get(FlowRun, run_id)
    if run is None or run.is_final:
        return {"skipped": True}
    run.status, run.started_at = "running", utcnow()
    db.session.commit()
    flow = document.build(run.flow.document)
    connection = redis_client()
    monitor = redis_monitor(run.job_id, connection)
    runtime = Runtime(flow, on_event=monitor.hook)
    listener = CommandListener(connection, control_key(run.job_id), runtime)
    monitor.attach(runtime)
    listener.start()
    try:
        runtime.start()
        drive(runtime, run.wait_for_input)
        status = runtime.finish()
    finally:
        if runtime.status not in FINAL:  # the job itself is being torn down
            runtime.cancel()
        listener.done.set()
        listener.join()
        monitor.close()
        connection.delete(control_key(run.job_id))
    _persist(run, runtime)
    if status is RunStatus.FAILED:
        raise FlowRunFailed(runtime.error)
    return {"status": status.value, "executions": sum(s["executions"] for s in run.state["routines"].values())}


def _persist(run: FlowRun, runtime: Runtime) -> None:
    db.session.rollback()
    run = db.session.get(FlowRun, run.id)
    run.status, run.error, run.ended_at = runtime.status.value, runtime.error, utcnow()
    run.state = json.loads(json.dumps(runtime.snapshot(trace_limit=FINAL_TRACE), default=str))
    db.session.commit()
    flow = run.flow.name
    metrics.FLOW_RUNS.labels(run.status).inc()
    for routine, stats in run.state["routines"].items():
        ok = stats["executions"] - stats["errors"]
        if ok:
            metrics.ROUTINE_EXECUTIONS.labels(flow, routine, "ok").inc(ok)
        if stats["errors"]:
            metrics.ROUTINE_EXECUTIONS.labels(flow, routine, "error").inc(stats["errors"])
    if run.state["backpressure_waits"]:
        metrics.SLOT_BACKPRESSURE_WAITS.labels(flow).inc(run.state["backpressure_waits"])
