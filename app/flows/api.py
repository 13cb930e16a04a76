from flask import Blueprint

from app.core.api import API_PREFIX, JobId, endpoint, page_out, read
from app.core.auth.roles import ENGINEER, OPERATOR
from app.core.errors import NotFound
from app.extensions import db
from app.flows import service
from app.flows.schemas import (
    BreakpointIn,
    BreakpointOut,
    FeedIn,
    FlowIn,
    FlowList,
    FlowOut,
    FlowSummary,
    MetricsOut,
    MonitoringOut,
    PagingQuery,
    QueuesOut,
    RoutineInfo,
    RoutineQueuesOut,
    RoutinesStatusOut,
    RunIn,
    RunList,
    RunOut,
    StateOut,
    TraceOut,
    TraceQuery,
    ValidationOut,
)

bp = Blueprint("flows_api", __name__, url_prefix=API_PREFIX)


def _flow_out(flow) -> FlowOut:
    described = service.describe(flow)
    entries = described["entries"]
    routines = [{**r, "entry": r["id"] in entries} for r in described["routines"]]
    return read(FlowOut, flow, routines=routines, connections=described["connections"], entries=entries)


@endpoint(bp, "/flows", summary="Flows, by name, paged", query=PagingQuery, response=FlowList)
def list_flows(query: PagingQuery):
    page = service.list_flows(query.page, query.per_page)
    return page_out(FlowList, page, FlowSummary.model_validate)


@endpoint(
    bp,
    "/flows",
    "POST",
    summary="Create a flow from its YAML or JSON document",
    roles=ENGINEER,
    body=FlowIn,
    response=FlowOut,
    status=201,
)
def create_flow(body: FlowIn):
    flow = service.create_flow(body.document)
    db.session.commit()
    return _flow_out(flow)


@endpoint(
    bp,
    "/flows/validate",
    "POST",
    summary="Check a flow document; 422 lists each problem with field and line",
    body=FlowIn,
    response=ValidationOut,
)
def validate_flow(body: FlowIn):
    flow = service.check_document(body.document)
    return ValidationOut(valid=True, name=flow.name, routines=len(flow.routines), connections=len(flow.connections))


@endpoint(bp, "/flows/<flow_id>", summary="One flow: document, routines with policies, connections", response=FlowOut)
def get_flow(flow_id: str):
    return _flow_out(service.get_flow(flow_id))


@endpoint(bp, "/flows/<flow_id>", "DELETE", summary="Delete a flow and its ended runs", roles=ENGINEER, status=204)
def delete_flow(flow_id: str):
    service.delete_flow(flow_id)
    db.session.commit()
    return "", 204


@endpoint(
    bp,
    "/flows/<flow_id>/routines/<routine_id>/info",
    summary="A routine's type, config, activation policy, error handler, slots and events",
    response=RoutineInfo,
)
def routine_info(flow_id: str, routine_id: str):
    return RoutineInfo.model_validate(service.routine_info(flow_id, routine_id))


@endpoint(
    bp,
    "/flows/<flow_id>/runs",
    "POST",
    summary="Start a run on the `flows` queue",
    roles=OPERATOR,
    body=RunIn,
    response=RunOut,
    status=202,
)
def start_run(flow_id: str, body: RunIn):
    run = service.start_run(flow_id, body.wait_for_input)
    db.session.commit()
    return RunOut.model_validate(run)


@endpoint(bp, "/flows/<flow_id>/runs", summary="The flow's runs, newest first", response=RunList)
def list_runs(flow_id: str):
    return RunList(runs=[RunOut.model_validate(r) for r in service.get_flow(flow_id).runs])


def _reconciled(job_id: JobId) -> str:
    """Before a read: a run whose job died unreported is closed, an explicit write committed here."""
    if service.reconcile(service.get_run(job_id)):
        db.session.commit()
    return job_id


@endpoint(bp, "/flow-runs/<job_id>", summary="One run by its job id", response=RunOut)
def get_run(job_id: JobId):
    return RunOut.model_validate(service.get_run(_reconciled(job_id)))


@endpoint(
    bp,
    "/flow-runs/<job_id>/<action>",
    "POST",
    summary="action: pause, resume, step (one activation, then pause) or cancel a run",
    roles=OPERATOR,
    response=RunOut,
    status=202,
)
def control_run(job_id: JobId, action: str):
    run = service.control(job_id, action)
    db.session.commit()
    return RunOut.model_validate(run)


@endpoint(
    bp,
    "/flow-runs/<job_id>/feed",
    "POST",
    summary="Feed items into a routine's slot of a running run",
    roles=OPERATOR,
    body=FeedIn,
    response=RunOut,
    status=202,
)
def feed_run(job_id: JobId, body: FeedIn):
    run = service.feed(job_id, body.routine, body.slot, body.items)
    db.session.commit()
    return RunOut.model_validate(run)


@endpoint(
    bp,
    "/flow-runs/<job_id>/breakpoints",
    "POST",
    summary="Pause the run when a routine runs on, a slot receives or a connection carries matching data",
    roles=OPERATOR,
    body=BreakpointIn,
    response=BreakpointOut,
    status=201,
)
def add_breakpoint(job_id: JobId, body: BreakpointIn):
    info = service.add_breakpoint(job_id, body.kind, body.target, body.condition)
    db.session.commit()
    return BreakpointOut.model_validate(info)


@endpoint(
    bp,
    "/flow-runs/<job_id>/breakpoints/<breakpoint_id>",
    "DELETE",
    summary="Remove a breakpoint",
    roles=OPERATOR,
    status=204,
)
def remove_breakpoint(job_id: JobId, breakpoint_id: str):
    service.remove_breakpoint(job_id, breakpoint_id)
    db.session.commit()
    return "", 204


# -- monitoring, answered from the run's snapshot wherever the run executes ---


@endpoint(bp, "/jobs/<job_id>/monitoring", summary="Everything about a flow run at once", response=MonitoringOut)
def monitoring(job_id: JobId):
    return MonitoringOut.model_validate(service.monitoring(_reconciled(job_id)))


@endpoint(bp, "/jobs/<job_id>/state", summary="A flow run's status and the routines executing now", response=StateOut)
def run_state(job_id: JobId):
    return StateOut.model_validate(service.monitoring(_reconciled(job_id)))


@endpoint(
    bp, "/jobs/<job_id>/metrics", summary="Per routine: executions, errors, retries, durations", response=MetricsOut
)
def run_metrics(job_id: JobId):
    return MetricsOut.model_validate(service.monitoring(_reconciled(job_id)))


@endpoint(
    bp,
    "/jobs/<job_id>/trace",
    summary="The latest executions of a flow run, oldest first",
    query=TraceQuery,
    response=TraceOut,
)
def run_trace(job_id: JobId, query: TraceQuery):
    state = service.monitoring(_reconciled(job_id))
    return TraceOut.model_validate({**state, "trace": state["trace"][-query.limit :]})


@endpoint(bp, "/jobs/<job_id>/queues/status", summary="Queue status of every slot of a flow run", response=QueuesOut)
def run_queues(job_id: JobId):
    return QueuesOut.model_validate(service.monitoring(_reconciled(job_id)))


@endpoint(
    bp,
    "/jobs/<job_id>/routines/<routine_id>/queue-status",
    summary="Queue status of one routine's slots",
    response=RoutineQueuesOut,
)
def routine_queues(job_id: JobId, routine_id: str):
    state = service.monitoring(_reconciled(job_id))
    if routine_id not in state["queues"]:
        raise NotFound(f"The run has no routine {routine_id!r}.")
    return RoutineQueuesOut.model_validate({**state, "routine": routine_id, "slots": state["queues"][routine_id]})


@endpoint(
    bp,
    "/jobs/<job_id>/routines/status",
    summary="Each routine's status and whether it is executing now",
    response=RoutinesStatusOut,
)
def routines_status(job_id: JobId):
    return RoutinesStatusOut.model_validate(service.monitoring(_reconciled(job_id)))
