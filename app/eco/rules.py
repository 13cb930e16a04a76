"""Custom-action rules: what they are, which ones match a transition, and how
one runs under its fail strategy (block / warn / retry) and timeout.

A rule's action runs inside a SAVEPOINT of the transition's transaction, so a
failed attempt leaves nothing behind; `block` raises RuleBlocked, which makes
the transition roll everything back (see app/eco/transitions.py).
"""

import time
from typing import Any, Literal

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from app.core import audit, txn
from app.core.api import Id, Text, parse
from app.core.auth.roles import ACTOR_ROLES
from app.core.jobs import sweeper
from app.core.paging import Page, paginate
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.core.validation import invalid, not_one_of
from app.eco import actions, metrics, stages
from app.eco.actions import ActionFailed, Context
from app.eco.models import (
    ACTIONS,
    ANY_STAGE,
    FAIL_STRATEGIES,
    PHASES,
    PRIORITIES,
    ActionRunStatus,
    WorkflowRule,
    WorkflowRun,
)
from app.extensions import db

MAX_TIMEOUT = 300.0
ERROR_LENGTH = 2000


class RuleMatch(BaseModel):
    """Optional conditions; an empty list matches everything."""

    model_config = ConfigDict(extra="forbid")

    eco_types: list[Text] = Field(default_factory=list, max_length=20)
    priorities: list[Literal[PRIORITIES]] = Field(default_factory=list, max_length=4)
    item_ids: list[Id] = Field(default_factory=list, max_length=100)
    actor_roles: list[Literal[ACTOR_ROLES]] = Field(default_factory=list, max_length=5)

    def matches(self, ctx: Context) -> bool:
        eco = ctx.eco
        return all(
            not allowed or value in allowed
            for allowed, value in (
                (self.eco_types, eco.eco_type),
                (self.priorities, eco.priority),
                (self.item_ids, eco.item_id),
                (self.actor_roles, ctx.actor_role),
            )
        )


class RuleSpec(BaseModel):
    """A rule as people and the API write it."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=120)
    phase: Literal[PHASES]
    from_stage: Text = Field(ANY_STAGE, max_length=40)
    to_stage: Text = Field(ANY_STAGE, max_length=40)
    action: Literal[ACTIONS]
    params: dict[Text, Any] = Field(default_factory=dict)
    match: RuleMatch = Field(default_factory=RuleMatch)
    fail_strategy: Literal[FAIL_STRATEGIES] = "warn"
    max_retries: int = Field(0, ge=0, le=5, description="1-5 with the retry strategy")
    priority: int = Field(100, ge=0, le=1000, description="lower runs first")
    timeout_seconds: float = Field(5.0, gt=0, le=MAX_TIMEOUT)
    enabled: bool = True

    @model_validator(mode="after")
    def _retries(self):
        if self.fail_strategy == "retry" and not 1 <= self.max_retries <= 5:
            raise ValueError("the retry strategy needs max_retries between 1 and 5")
        if self.fail_strategy != "retry":
            self.max_retries = 0
        return self


def _check_spec(spec: RuleSpec) -> dict[str, Any]:
    known = stages.all_stages()
    for field in ("from_stage", "to_stage"):
        value = getattr(spec, field)
        if value != ANY_STAGE and value not in known:
            raise not_one_of(field, field.replace("_", " ").capitalize(), value, [ANY_STAGE, *known])
    unknown = set(spec.match.eco_types) - set(stages.types())
    if unknown:
        raise invalid(
            "match.eco_types",
            f"ECO types must be among {', '.join(stages.types())}; unknown: {', '.join(sorted(unknown))}.",
        )
    params = parse(actions.PARAMS[spec.action], spec.params, at="params")
    return {
        **spec.model_dump(exclude={"params", "match"}),
        "params": params.model_dump(mode="json"),
        "match": spec.match.model_dump(mode="json"),
    }


def rule_snapshot(rule: WorkflowRule) -> dict[str, Any]:
    return {f: getattr(rule, f) for f in RuleSpec.model_fields}


def create_rule(spec: RuleSpec) -> WorkflowRule:
    rule = WorkflowRule(**_check_spec(spec))
    db.session.add(rule)
    db.session.flush()
    audit.record("workflow_rule", rule.id, "create", after=rule_snapshot(rule))
    return rule


def update_rule(rule_id: int, changes: dict[str, Any]) -> WorkflowRule:
    """Changes are merged into the rule and the whole is validated again."""
    rule = get_rule(rule_id)
    before = rule_snapshot(rule)
    spec = parse(RuleSpec, {**before, **changes})
    for key, value in _check_spec(spec).items():
        setattr(rule, key, value)
    db.session.flush()
    audit.record("workflow_rule", rule.id, "update", before=before, after=rule_snapshot(rule))
    return rule


def get_rule(rule_id: int) -> WorkflowRule:
    return get_or_404(WorkflowRule, rule_id, "workflow rule")


def list_rules(*, phase: str | None = None, enabled: bool | None = None, page: int = 1, per_page: int = 50) -> Page:
    query = select(WorkflowRule).order_by(WorkflowRule.phase, WorkflowRule.priority, WorkflowRule.id)
    if phase:
        query = query.where(WorkflowRule.phase == phase)
    if enabled is not None:
        query = query.where(WorkflowRule.enabled == enabled)
    return paginate(query, page, per_page)


def list_runs(
    *,
    eco_id: int | None = None,
    rule_id: int | None = None,
    status: str | None = None,
    result_code: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    query = select(WorkflowRun).order_by(WorkflowRun.id.desc())
    for column, value in (
        (WorkflowRun.eco_id, eco_id),
        (WorkflowRun.rule_id, rule_id),
        (WorkflowRun.status, status),
        (WorkflowRun.result_code, result_code),
    ):
        if value is not None and value != "":
            query = query.where(column == value)
    return paginate(query, page, per_page)


def get_run(run_id: int) -> WorkflowRun:
    return get_or_404(WorkflowRun, run_id, "workflow run")


# ---- running -------------------------------------------------------------------


class RuleBlocked(Exception):
    """A `block` rule failed: the transition must roll back. `run` holds the
    values of the failed/BLOCK run, to be recorded after the rollback."""

    def __init__(self, rule: WorkflowRule, run: dict[str, Any]) -> None:
        super().__init__(run["error"])
        self.rule_name = rule.name
        self.run = run


def matching_rules(phase: str, ctx: Context) -> list[WorkflowRule]:
    rules = db.session.scalars(
        select(WorkflowRule)
        .where(
            WorkflowRule.enabled.is_(True),
            WorkflowRule.phase == phase,
            WorkflowRule.from_stage.in_((ctx.from_stage, ANY_STAGE)),
            WorkflowRule.to_stage.in_((ctx.to_stage, ANY_STAGE)),
        )
        .order_by(WorkflowRule.priority, WorkflowRule.id)
    )
    return [rule for rule in rules if RuleMatch.model_validate(rule.match).matches(ctx)]


def run_phase(phase: str, ctx: Context) -> list[WorkflowRun]:
    return [run_rule(rule, phase, ctx) for rule in matching_rules(phase, ctx)]


def _attempt(rule: WorkflowRule, run: WorkflowRun, ctx: Context) -> dict[str, Any]:
    """One try in a savepoint; an action slower than the rule's timeout counts as failed
    (and its writes are undone). create_job hands the timeout to RQ as the job's timeout."""
    started = time.monotonic()
    with db.session.begin_nested():
        result = actions.execute(rule, run, ctx)
        elapsed = time.monotonic() - started
        if elapsed > rule.timeout_seconds:  # raised inside: the savepoint rolls back
            raise ActionFailed(f"timed out: took {elapsed:.2f} s, the limit is {rule.timeout_seconds:g} s")
    return result


BLOCKED_COLUMNS = (
    "rule_id",
    "eco_id",
    "phase",
    "action",
    "from_stage",
    "to_stage",
    "attempts",
    "error",
    "actor",
    "started_at",
)


def run_rule(rule: WorkflowRule, phase: str, ctx: Context) -> WorkflowRun:
    run = _start_run(rule, phase, ctx)
    error = _attempt_all(rule, run, ctx)
    run.error = error[:ERROR_LENGTH] if error else None
    _record_outcome(rule, run, error)
    if run.status != ActionRunStatus.queued:
        run.finished_at = utcnow()
    db.session.flush()
    return run


def _start_run(rule: WorkflowRule, phase: str, ctx: Context) -> WorkflowRun:
    run = WorkflowRun(
        rule=rule,
        eco=ctx.eco,
        phase=phase,
        action=rule.action,
        from_stage=ctx.from_stage,
        to_stage=ctx.to_stage,
        status=ActionRunStatus.running,
        result_code="RUNNING",
        attempts=0,
        actor=ctx.actor,
        started_at=utcnow(),
    )
    db.session.add(run)
    db.session.flush()  # the id a create_job job is given
    return run


def _attempt_all(rule: WorkflowRule, run: WorkflowRun, ctx: Context) -> str | None:
    """The action, retried with backoff under the retry strategy; the last
    attempt's error, None once an attempt succeeds."""
    tries = 1 + (rule.max_retries if rule.fail_strategy == "retry" else 0)
    backoff = current_app.config["WORKFLOW_RETRY_BACKOFF"]
    error = None
    for attempt in range(1, tries + 1):
        run.attempts = attempt
        try:
            run.result = _attempt(rule, run, ctx)
            error = None
            break
        except Exception as exc:  # noqa: BLE001 - whatever the action raised is its failure
            error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ActionFailed) else str(exc)
            if attempt < tries:
                time.sleep(backoff * 2 ** (attempt - 1))
    return error


def _record_outcome(rule: WorkflowRule, run: WorkflowRun, error: str | None) -> None:
    """Status and result code from the error and the fail strategy; a blocking
    failure raises RuleBlocked with the values of the run to record after the rollback."""
    if error is None and rule.action == "create_job":  # from here on, attempts count the job's executions
        run.status, run.result_code, run.attempts = ActionRunStatus.queued, "QUEUED", 0
        run.job_id = run.result["job_id"]
    elif error is None:
        run.status, run.result_code = ActionRunStatus.completed, "OK"
    elif rule.fail_strategy == "block":
        values = {c: getattr(run, c) for c in BLOCKED_COLUMNS}
        raise RuleBlocked(
            rule, {**values, "status": ActionRunStatus.failed, "result_code": "BLOCK", "finished_at": utcnow()}
        )
    elif rule.fail_strategy == "retry":
        run.status, run.result_code = ActionRunStatus.failed, "RETRY_EXHAUSTED"
    else:
        run.status, run.result_code = ActionRunStatus.warning, "WARN"


def record_blocked(blocked: RuleBlocked) -> WorkflowRun:
    """After the rollback: the failed/BLOCK run is the one trace a blocked transition leaves."""
    run = WorkflowRun(**blocked.run)
    db.session.add(run)
    db.session.flush()
    count_runs([run])
    return run


def count_runs(runs: list[WorkflowRun]) -> None:
    """workflow_action_runs_total, once the runs are committed, by outcome (a queued
    create_job run counts when its job ends). The labels are read now: after the
    commit the rows are expired and the hook may not load them."""
    ended = [(run.action, str(run.status)) for run in runs if run.finished_at is not None]

    def count() -> None:
        for action, status in ended:
            metrics.WORKFLOW_ACTION_RUNS.labels(action, status).inc()

    txn.on_commit(count)


def sweep() -> int:
    """The sweeper's hook: a create_job run whose job ended without reporting fails (JOB_LOST)."""
    waiting = (ActionRunStatus.queued, ActionRunStatus.running)
    stalled = sweeper.stalled(select(WorkflowRun).where(WorkflowRun.status.in_(waiting)), WorkflowRun.job_id)
    for run, record in stalled:
        run.status, run.result_code, run.finished_at = ActionRunStatus.failed, "JOB_LOST", utcnow()
        run.error = sweeper.why(record)[:ERROR_LENGTH]
    count_runs([run for run, _ in stalled])
    return len(stalled)
