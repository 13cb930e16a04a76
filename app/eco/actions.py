"""The whitelist of custom actions a workflow rule may run, each with its
pydantic parameter model (checked when a rule is saved)."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field
from rq import Retry

from app.core import jobs, live
from app.eco.models import PRIORITIES, Eco, WorkflowRule, WorkflowRun
from app.eco.service import record_event

JOB_KINDS = ("bom_delta_report", "activity_digest")


class ActionFailed(Exception):
    """An action could not do its work; the rule's fail strategy decides what follows."""


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmitEventParams(_Params):
    event: str = Field("eco_notice", pattern=r"^[a-z][a-z0-9_]{0,39}$", description="event type on eco:<id>")
    message: str = Field("", max_length=500)


class CreateJobParams(_Params):
    job: Literal[JOB_KINDS] = Field(description="what the background job does")


class SetPriorityParams(_Params):
    priority: Literal[PRIORITIES]
    never_lower: bool = Field(False, description="fail instead of lowering a higher priority")


PARAMS: dict[str, type[_Params]] = {
    "emit_event": EmitEventParams,
    "create_job": CreateJobParams,
    "set_eco_priority": SetPriorityParams,
}


@dataclass
class Context:
    """What a rule sees of the transition it runs in."""

    eco: Eco
    from_stage: str
    to_stage: str
    actor: str
    actor_role: str


def _emit_event(params: EmitEventParams, rule: WorkflowRule, run: WorkflowRun, ctx: Context) -> dict[str, Any]:
    data = {
        "eco": ctx.eco.number,
        "rule": rule.name,
        "message": params.message,
        "from": ctx.from_stage,
        "to": ctx.to_stage,
    }
    try:
        live.publish(f"eco:{ctx.eco.id}", params.event, data, strict=True)
    except Exception as exc:
        raise ActionFailed(f"could not publish {params.event}: {exc}") from exc
    return {"topic": f"eco:{ctx.eco.id}", "event": params.event}


def _create_job(params: CreateJobParams, rule: WorkflowRule, run: WorkflowRun, ctx: Context) -> dict[str, Any]:
    retry = None
    if rule.fail_strategy == "retry" and rule.max_retries:  # RQ's Retry, backing off as in-transaction retries do
        backoff = current_app.config["WORKFLOW_RETRY_BACKOFF"]
        retry = Retry(max=rule.max_retries, interval=[math.ceil(backoff * 2**i) for i in range(rule.max_retries)])
    record = jobs.enqueue(
        f"eco.{params.job}",
        "app.eco.jobs.run_rule_job",
        run.id,
        queue="actions",
        link=("workflow_run", run.id),
        timeout=max(1, int(rule.timeout_seconds)),
        retry=retry,
        description=f"{params.job} for {ctx.eco.number} (rule {rule.name})",
    )
    return {"job_id": record.id, "job": params.job}


def _set_priority(params: SetPriorityParams, rule: WorkflowRule, run: WorkflowRun, ctx: Context) -> dict[str, Any]:
    eco, before = ctx.eco, ctx.eco.priority
    if params.never_lower and PRIORITIES.index(params.priority) < PRIORITIES.index(before):
        raise ActionFailed(f"{eco.number} is {before}; this rule never lowers it to {params.priority}")
    if before != params.priority:
        eco.priority = params.priority
        record_event(eco, "priority", before, params.priority, f"rule {rule.name}", actor=ctx.actor)
    return {"before": before, "after": params.priority}


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "emit_event": _emit_event,
    "create_job": _create_job,
    "set_eco_priority": _set_priority,
}


def execute(rule: WorkflowRule, run: WorkflowRun, ctx: Context) -> dict[str, Any]:
    params = PARAMS[rule.action].model_validate(rule.params)
    return RUNNERS[rule.action](params, rule, run, ctx)
