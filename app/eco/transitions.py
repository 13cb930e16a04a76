"""Stage moves and apply, each in ONE database transaction:

    claim the ECO (compare-and-set on its version) → check the activity gates →
    run "before" rules → change the stage (apply: release the target BOM) →
    run "after" rules → commit.

A `block` rule that fails (before or after) rolls all of it back: stage,
priority, events, audit rows, other rule runs, and the jobs create_job rules
asked for (app.core.jobs pushes jobs to Redis only on commit). Only the
failed/BLOCK run is then written, in a transaction of its own, so the runs
page shows why the move was refused. Two concurrent moves of one ECO: the
version update makes the second wait (PostgreSQL row lock, SQLite write lock)
and then find the version changed, so exactly one wins.
"""

from dataclasses import dataclass, field

from sqlalchemy import update

from app.core import audit, metrics
from app.core.audit.service import current_actor
from app.core.errors import Conflict, InvalidInput
from app.core.timeutil import utcnow
from app.eco import rules, service, stages
from app.eco.actions import Context
from app.eco.models import Eco, WorkflowRun
from app.extensions import db
from app.items import service as items


@dataclass
class Outcome:
    eco: Eco
    from_stage: str
    runs: list[WorkflowRun] = field(default_factory=list)


def move(eco_id: int, to_stage: str, reason: str = "") -> Outcome:
    return _transition(eco_id, to_stage, reason, applying=False)


def apply(eco_id: int, reason: str = "") -> Outcome:
    """Release the target BOM revision and move the ECO to its final stage."""
    return _transition(eco_id, None, reason, applying=True)


def _claim(eco_id: int) -> Eco:
    eco = service.get_eco(eco_id)
    claimed = db.session.execute(
        update(Eco)
        .where(Eco.id == eco.id, Eco.version == eco.version)
        .values(version=Eco.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Conflict(
            f"{eco.number} was changed by someone else meanwhile; reload and try again.", code="concurrent_change"
        )
    db.session.refresh(eco)
    return eco


def _check_target(eco: Eco, to_stage: str, applying: bool) -> None:
    chain = stages.chain(eco.eco_type)
    final = chain[-1]
    if eco.stage == final:
        raise Conflict(f"{eco.number} is {final}; it no longer moves.", {"stage": eco.stage}, code="closed")
    if to_stage == eco.stage:
        raise Conflict(f"{eco.number} is already {to_stage}.", {"stage": eco.stage}, code="same_stage")
    if to_stage not in (*chain, stages.CANCELED):
        raise InvalidInput(
            f"{to_stage!r} is not a stage of a {eco.eco_type} ECO.",
            {"field": "to_stage", "allowed": [*chain, stages.CANCELED]},
        )
    if eco.stage == stages.CANCELED and to_stage != chain[0]:
        raise Conflict(f"A canceled ECO is reopened to {chain[0]!r} first.", {"stage": eco.stage}, code="invalid_move")
    if applying and eco.target_bom_id is None:
        raise Conflict(
            f"{eco.number} proposes no BOM revision to apply; move it to {final!r} instead.", code="nothing_to_apply"
        )
    if to_stage == final and not applying and eco.target_bom_id is not None:
        raise Conflict(f"{eco.number} changes a BOM: apply it to reach {final!r}.", code="apply_required")


def _transition(eco_id: int, to_stage: str | None, reason: str, *, applying: bool) -> Outcome:
    result = "failed"
    try:
        eco = _claim(eco_id)
        to_stage = stages.final_stage(eco.eco_type) if applying else to_stage
        _check_target(eco, to_stage, applying)
        blockers = service.gate_blockers(eco, to_stage)
        if blockers:
            result = "blocked"
            raise Conflict(
                f"{eco.number} cannot leave {eco.stage!r}: {len(blockers)} blocking activit"
                f"{'y is' if len(blockers) == 1 else 'ies are'} open.",
                {"blockers": blockers},
                code="gate_blocked",
            )
        outcome = Outcome(eco=eco, from_stage=eco.stage)
        ctx = Context(
            eco=eco, from_stage=eco.stage, to_stage=to_stage, actor=current_actor(), actor_role=service.current_role()
        )
        outcome.runs += rules.run_phase("before", ctx)
        eco.stage = to_stage
        service.record_event(eco, "stage", ctx.from_stage, to_stage, reason)
        audit.record(
            "eco", eco.id, "apply" if applying else "move", before={"stage": ctx.from_stage}, after={"stage": to_stage}
        )
        if applying:
            bom = items.release_bom_revision(eco.target_bom_id)
            eco.applied_at = utcnow()
            service.record_event(eco, "apply", None, bom.ref, f"released {bom.ref}")
        outcome.runs += rules.run_phase("after", ctx)
        db.session.commit()
    except rules.RuleBlocked as blocked:
        db.session.rollback()
        run = rules.record_blocked(blocked)
        metrics.ECO_TRANSITIONS.labels("blocked").inc()
        raise Conflict(
            f"Rule {blocked.rule_name!r} blocked the move: {run.error}",
            {
                "rule": blocked.rule_name,
                "rule_id": run.rule_id,
                "phase": run.phase,
                "run_id": run.id,
                "error": run.error,
            },
            code="rule_blocked",
        ) from None
    except Exception:
        db.session.rollback()
        metrics.ECO_TRANSITIONS.labels(result).inc()
        raise
    metrics.ECO_TRANSITIONS.labels("moved").inc()
    rules.count_runs(outcome.runs)
    return outcome
