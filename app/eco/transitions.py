"""Stage moves and apply, each all or nothing:

    claim the ECO (compare-and-set on its version) → check the activity gates →
    run "before" rules → change the stage (apply: release the target BOM) →
    run "after" rules; the caller commits.

The caller owns the transaction and commits it. The move runs in a savepoint:
a `block` rule that fails (before or after) rolls all of it back (stage,
priority, events, audit rows, other rule runs, and the jobs create_job rules
asked for: app.core.txn drops their push with the savepoint), then the
failed/BLOCK run is added in the caller's transaction and the Conflict says it
was `recorded`, so the caller commits that one row (see app.core.txn.settle) and
the runs page shows why the move was refused. Two concurrent moves of one ECO: the
version update makes the second wait (PostgreSQL row lock, SQLite write lock)
and then find the version changed, so exactly one wins.
"""

from dataclasses import dataclass, field

from sqlalchemy import update

from app.core import audit, capability, txn
from app.core.audit.service import current_actor
from app.core.errors import Conflict, InvalidInput
from app.core.timeutil import utcnow
from app.eco import metrics, rules, service, stages
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


def _claim(eco: Eco) -> Eco:
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
    try:
        # read before the savepoint: on SQLite a read inside it would pin a snapshot that a
        # concurrent move's commit makes impossible to write from ("database is locked" at once)
        eco = service.get_eco(eco_id)
        with db.session.begin_nested():  # a refusal undoes the move, not the trace of why it was refused
            outcome = _move(eco, to_stage, reason, applying)
    except rules.RuleBlocked as blocked:
        metrics.ECO_TRANSITIONS.labels("blocked").inc()
        raise _refused(blocked, rules.record_blocked(blocked)) from None
    except Exception as exc:
        metrics.ECO_TRANSITIONS.labels("blocked" if getattr(exc, "code", None) == "gate_blocked" else "failed").inc()
        raise
    rules.count_runs(outcome.runs)
    txn.on_commit(metrics.ECO_TRANSITIONS.labels("moved").inc)
    return outcome


def _move(eco: Eco, to_stage: str | None, reason: str, applying: bool) -> Outcome:
    eco = _claim(eco)
    to_stage = stages.final_stage(eco.eco_type) if applying else to_stage
    _check_target(eco, to_stage, applying)
    blockers = service.gate_blockers(eco, to_stage)
    if blockers:
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
        capability.notify("eco_applied", eco)  # other capabilities' after-apply hooks, in this savepoint
    outcome.runs += rules.run_phase("after", ctx)
    return outcome


def _refused(blocked: rules.RuleBlocked, run: WorkflowRun) -> Conflict:
    return Conflict(
        f"Rule {blocked.rule_name!r} blocked the move: {run.error}",
        {"rule": blocked.rule_name, "rule_id": run.rule_id, "phase": run.phase, "run_id": run.id, "error": run.error},
        code="rule_blocked",
        recorded=True,
    )
