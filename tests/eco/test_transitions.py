"""Stage moves and apply: gates, rules before and after under each fail strategy,
one transaction (a block leaves zero changed rows and enqueues nothing), jobs of
create_job rules on real Redis, concurrent moves; SQLite and PostgreSQL."""

import json
import threading

import pytest
from prometheus_client import REGISTRY
from rq import Queue
from sqlalchemy import func, select

from app.core import rollup
from app.core.errors import Conflict, DomainError, InvalidInput, settle
from app.core.jobs.models import JobRecord
from app.core.live import channel
from app.eco import rules, service, transitions
from app.eco.models import Eco, WorkflowRun
from app.extensions import db
from app.items.models import Bom
from tests.conftest import run_worker
from tests.eco import factory

pytestmark = pytest.mark.config(WORKFLOW_RETRY_BACKOFF=0)

# A rule that fails on an urgent ECO, the way a real one does: it refuses to lower the priority.
FAILING = {"action": "set_eco_priority", "params": {"priority": "low", "never_lower": True}}


def owned(transition, *args, **kwargs) -> transitions.Outcome:
    """As the view and the API endpoint do: the transition, then the commit (settle() on a refusal)."""
    try:
        outcome = transition(*args, **kwargs)
    except DomainError as exc:
        settle(exc)
        raise
    db.session.commit()
    return outcome


def move(*args, **kwargs) -> transitions.Outcome:
    return owned(transitions.move, *args, **kwargs)


def apply(*args, **kwargs) -> transitions.Outcome:
    return owned(transitions.apply, *args, **kwargs)


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def snapshot() -> dict:
    """Row counts of every table (the rollups apart: their rows are the others' counts), and every
    ECO and BOM row as it is."""
    db.session.expire_all()
    rollups = {table for spec in rollup.REGISTRY for table in spec.tables.values()}
    counts = {
        t.name: db.session.scalar(select(func.count()).select_from(t))
        for t in db.metadata.sorted_tables
        if t not in rollups
    }
    ecos = [(e.stage, e.priority, e.version, e.applied_at) for e in db.session.scalars(select(Eco))]
    boms = [(b.revision, b.state) for b in db.session.scalars(select(Bom).order_by(Bom.id))]
    return {"counts": counts, "ecos": ecos, "boms": boms}


def runs(eco) -> list[tuple]:
    return [
        (r.rule.name, r.phase, r.status, r.result_code, r.attempts)
        for r in db.session.scalars(select(WorkflowRun).where(WorkflowRun.eco_id == eco.id).order_by(WorkflowRun.id))
    ]


def test_a_move_changes_the_stage_records_an_event_and_counts(app):
    eco = factory.eco()
    moved = counter("eco_transitions_total", result="moved")
    outcome = move(eco.id, "review", reason="ready")
    db.session.expire_all()
    eco = service.get_eco(eco.id)
    assert (outcome.from_stage, eco.stage, eco.version) == ("draft", "review", 2)
    event = service.events(eco.id).items[0]
    assert (event.kind, event.from_value, event.to_value, event.reason) == ("stage", "draft", "review", "ready")
    assert counter("eco_transitions_total", result="moved") == moved + 1


def test_gates_refuse_leaving_or_skipping_a_stage_with_open_blocking_activities(app):
    eco = factory.eco()
    factory.activity(eco, "FYI", "draft", blocking=False)
    review = factory.activity(eco, "Design review", "review")
    move(eco.id, "review")
    before, blocked = snapshot(), counter("eco_transitions_total", result="blocked")
    for target in ("approved", "implementation"):
        with pytest.raises(Conflict) as error:
            move(eco.id, target)
        assert error.value.code == "gate_blocked"
        assert error.value.details["blockers"] == [
            {
                "activity_id": review.id,
                "name": "Design review",
                "stage": "review",
                "status": "pending",
                "assignee": "",
                "reason": "blocking activity of stage 'review' is pending",
            }
        ]
    assert snapshot() == before
    assert counter("eco_transitions_total", result="blocked") == blocked + 2
    move(eco.id, "draft")  # backward: always allowed
    move(eco.id, "canceled")  # so is canceling
    with pytest.raises(Conflict, match="reopened to 'draft'"):
        move(eco.id, "review")
    move(eco.id, "draft")
    service.transition_activity(review.id, "completed")
    db.session.commit()
    move(eco.id, "implementation")  # skipping is fine once the gates are clear
    assert service.get_eco(eco.id).stage == "implementation"


@pytest.mark.parametrize("target, code", [("draft", "same_stage"), ("done", "apply_required")])
def test_moves_that_make_no_sense_are_conflicts(app, target, code):
    eco = factory.eco()
    failed = counter("eco_transitions_total", result="failed")
    with pytest.raises(Conflict) as error:
        move(eco.id, target)
    assert error.value.code == code
    with pytest.raises(InvalidInput):
        move(eco.id, "nowhere")
    assert counter("eco_transitions_total", result="failed") == failed + 2


def test_apply_releases_the_target_bom_and_closes_the_eco(app):
    eco = factory.eco()
    gate = factory.activity(eco, "Approve", "approved")
    move(eco.id, "approved")
    with pytest.raises(Conflict) as error:
        apply(eco.id)
    assert error.value.code == "gate_blocked"
    assert db.session.get(Bom, eco.target_bom_id).state == "draft"
    service.transition_activity(gate.id, "completed")
    db.session.commit()
    apply(eco.id, reason="go")
    db.session.expire_all()
    eco = service.get_eco(eco.id)
    assert (eco.stage, eco.target_bom.state, eco.item.revision) == ("done", "released", "B")
    assert eco.applied_at is not None
    assert [b.state for b in eco.item.boms] == ["superseded", "released"]
    assert (service.bom_delta(eco).left, service.bom_delta(eco).summary["total"]) == ("PCA-1@A", 2)  # still shown
    assert [(e.kind, e.to_value) for e in service.events(eco.id).items[:2]] == [("apply", "PCA-1@B"), ("stage", "done")]
    with pytest.raises(Conflict) as error:
        move(eco.id, "draft")
    assert error.value.code == "closed"
    plain = factory.eco("No BOM", with_bom=False, number="PCA-2")
    with pytest.raises(Conflict) as error:
        apply(plain.id)
    assert error.value.code == "nothing_to_apply"
    move(plain.id, "done")  # without a BOM change an ECO simply moves to done


@pytest.mark.dialects
@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_failing_block_rule_rolls_everything_back_and_leaves_only_its_run(app, phase, redis_server):
    eco = factory.eco(priority="urgent")
    factory.rule("Escalate", "set_eco_priority", "before", priority=1, params={"priority": "urgent"})
    factory.rule("Notify", "emit_event", "before", priority=2)
    factory.rule("Report", "create_job", "after", priority=3, params={"job": "bom_delta_report"})
    factory.rule(
        "Raise priority",
        phase=phase,
        priority=10,
        fail_strategy="block",
        from_stage="draft",
        to_stage="review",
        **FAILING,
    )
    before = snapshot()
    with pytest.raises(Conflict) as error:
        move(eco.id, "review")
    assert error.value.code == "rule_blocked"
    assert error.value.message == (
        f"Rule 'Raise priority' blocked the move: {eco.number} is urgent; this rule never lowers it to low"
    )
    assert error.value.details["phase"] == phase and error.value.details["rule"] == "Raise priority"
    after = snapshot()
    assert after["counts"].pop("workflow_runs") == before["counts"].pop("workflow_runs") + 1
    assert after == before  # stage, priority, events, audit, other runs, job history: untouched
    assert runs(eco) == [("Raise priority", phase, "failed", "BLOCK", 1)]
    assert Queue("actions", connection=app.extensions["redis"]).count == 0  # nothing enqueued


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_failing_warn_rule_records_a_warning_and_the_move_goes_on(app, phase):
    eco = factory.eco(priority="urgent")
    factory.rule("Lower", phase=phase, fail_strategy="warn", **FAILING)
    warnings = counter("workflow_action_runs_total", action="set_eco_priority", status="warning")
    move(eco.id, "review")
    assert service.get_eco(eco.id).stage == "review"
    assert runs(eco) == [("Lower", phase, "warning", "WARN", 1)]
    run = db.session.scalars(select(WorkflowRun)).one()
    assert "never lowers" in run.error and run.finished_at is not None
    assert counter("workflow_action_runs_total", action="set_eco_priority", status="warning") == warnings + 1


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_retry_rule_retries_then_records_exhaustion_and_the_move_goes_on(app, phase):
    eco = factory.eco(priority="urgent")
    factory.rule("Lower", phase=phase, fail_strategy="retry", max_retries=3, **FAILING)
    move(eco.id, "review")
    assert service.get_eco(eco.id).stage == "review"
    assert runs(eco) == [("Lower", phase, "failed", "RETRY_EXHAUSTED", 4)]


def test_a_retry_rule_that_succeeds_on_a_later_attempt_completes(app, monkeypatch):
    eco = factory.eco()
    factory.rule(
        "Tell the page",
        "emit_event",
        fail_strategy="retry",
        max_retries=2,
        params={"event": "eco_notice", "message": "moving"},
    )
    real, calls = app.extensions["redis"].__class__.publish, []

    def flaky(self, channel, message):
        calls.append(message)
        if len(calls) == 1:
            import redis

            raise redis.ConnectionError("connection reset")
        return real(self, channel, message)

    monkeypatch.setattr(app.extensions["redis"].__class__, "publish", flaky)
    move(eco.id, "review")
    assert runs(eco) == [("Tell the page", "before", "completed", "OK", 2)]


def test_emit_event_publishes_on_the_ecos_topic(app):
    eco = factory.eco()
    factory.rule("Tell the page", "emit_event", "after", params={"event": "eco_notice", "message": "hello"})
    pubsub = app.extensions["redis"].pubsub()
    pubsub.subscribe(channel())
    pubsub.get_message(timeout=1)
    move(eco.id, "review")
    events = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            events.append(json.loads(message["data"]))
    pubsub.close()
    assert [(e["topic"], e["type"]) for e in events] == [
        (f"eco:{eco.id}", "eco_notice"),
        (f"eco:{eco.id}", "eco_event"),
    ]
    assert events[1]["data"] == {
        "eco": eco.number,
        "kind": "stage",
        "from": "draft",
        "to": "review",
        "activity": None,
    }  # published once the move committed
    assert events[0]["data"] == {
        "eco": eco.number,
        "rule": "Tell the page",
        "message": "hello",
        "from": "draft",
        "to": "review",
    }


def test_set_eco_priority_changes_the_priority_in_the_transition(app):
    eco = factory.eco()
    factory.rule("Escalate on review", "set_eco_priority", to_stage="review", params={"priority": "high"})
    move(eco.id, "review")
    eco = service.get_eco(eco.id)
    assert eco.priority == "high"
    assert [(e.kind, e.from_value, e.to_value) for e in service.events(eco.id).items[:2]] == [
        ("stage", "draft", "review"),
        ("priority", "normal", "high"),
    ]


def test_an_action_slower_than_its_timeout_fails_and_its_writes_are_undone(app):
    eco = factory.eco()
    factory.rule("Escalate", "set_eco_priority", params={"priority": "high"}, timeout_seconds=1e-9)
    move(eco.id, "review")
    eco = service.get_eco(eco.id)
    assert (eco.stage, eco.priority) == ("review", "normal")
    assert runs(eco) == [("Escalate", "before", "warning", "WARN", 1)]
    assert db.session.scalars(select(WorkflowRun)).one().error.startswith("timed out")


def test_rules_run_by_priority_and_only_when_they_match(app):
    eco = factory.eco(priority="high")
    emit = {"action": "emit_event"}
    factory.rule("second", priority=20, **emit)
    factory.rule("first", priority=5, **emit)
    factory.rule("other stage", priority=1, from_stage="review", **emit)
    factory.rule("to review", priority=30, to_stage="review", **emit)
    factory.rule("fast track only", match={"eco_types": ["fast_track"]}, **emit)
    factory.rule("high or urgent", priority=40, match={"priorities": ["high", "urgent"]}, **emit)
    factory.rule("low only", match={"priorities": ["low"]}, **emit)
    factory.rule("other item", match={"item_ids": [eco.item_id + 1000]}, **emit)
    factory.rule("admins", match={"actor_roles": ["admin"]}, **emit)
    factory.rule("system", priority=50, match={"actor_roles": ["system"]}, **emit)
    factory.rule("disabled", enabled=False, **emit)
    factory.rule("after", "emit_event", "after", priority=0)
    move(eco.id, "review")
    assert [r[:2] for r in runs(eco)] == [
        ("first", "before"),
        ("second", "before"),
        ("to review", "before"),
        ("high or urgent", "before"),
        ("system", "before"),
        ("after", "after"),
    ]


BAD_RULES = [
    ({"action": "set_eco_priority", "params": {"priority": "extreme"}}, "^Params: Priority must be 'low', 'normal'"),
    ({"action": "emit_event", "params": {"event": "Bad Name"}}, r"^Params: Event must match \^\[a-z\]"),
    (
        {"action": "create_job", "params": {"job": "rm -rf"}},
        "^Params: Job must be .bom_delta_report. or .activity_digest.",
    ),
    ({"action": "emit_event", "params": {"surprise": 1}}, r"^Params: surprise is not a known field \(allowed: "),
    ({"action": "emit_event", "from_stage": "limbo"}, "^From stage must be one of any, draft, .*; 'limbo' is not"),
    (
        {"action": "emit_event", "match": {"eco_types": ["nope"]}},
        "^ECO types must be among standard, .*; unknown: nope",
    ),
]


def test_rule_params_and_stages_are_validated(app):
    for fields, message in BAD_RULES:
        with pytest.raises(InvalidInput, match=message):
            factory.rule("bad", **fields)


def test_retry_needs_one_to_five_retries(app):
    with pytest.raises(ValueError, match="max_retries"):
        rules.RuleSpec(name="r", phase="before", action="emit_event", fail_strategy="retry")
    with pytest.raises(ValueError):
        rules.RuleSpec(name="r", phase="before", action="emit_event", fail_strategy="retry", max_retries=6)
    rule = factory.rule("r", fail_strategy="retry", max_retries=2)
    with pytest.raises(InvalidInput):
        rules.update_rule(rule.id, {"priority": 1001})
    assert rules.update_rule(rule.id, {"fail_strategy": "warn"}).max_retries == 0


def test_create_job_runs_on_the_actions_queue_after_commit_and_updates_its_run(app):
    eco = factory.eco()
    plain = factory.eco("No BOM", with_bom=False, number="PCA-2")
    factory.rule("Report", "create_job", "after", params={"job": "bom_delta_report"})
    move(eco.id, "review")
    move(plain.id, "review")
    queued = db.session.scalars(select(WorkflowRun).order_by(WorkflowRun.id)).all()
    assert [(r.status, r.result_code, r.attempts) for r in queued] == [("queued", "QUEUED", 0)] * 2
    assert Queue("actions", connection=app.extensions["redis"]).count == 2
    assert db.session.get(JobRecord, queued[0].job_id).queue == "actions"
    run_worker(app, ["actions"])
    db.session.expire_all()
    done, failed = db.session.scalars(select(WorkflowRun).order_by(WorkflowRun.id)).all()
    assert (done.status, done.result_code, done.attempts) == ("completed", "OK", 1)
    assert done.result == {
        "job_id": done.job_id,
        "job": "bom_delta_report",
        "left": "PCA-1@A",
        "right": "PCA-1@B",
        "add": 1,
        "remove": 0,
        "update": 1,
        "total": 2,
    }
    assert (failed.status, failed.result_code) == ("failed", "JOB_FAILED")
    assert "proposes no BOM revision" in failed.error and failed.finished_at is not None


def test_a_create_job_rule_with_retry_runs_its_job_again_then_records_the_failure(app):
    plain = factory.eco("No BOM", with_bom=False)
    factory.rule(
        "Report", "create_job", "after", params={"job": "bom_delta_report"}, fail_strategy="retry", max_retries=2
    )
    move(plain.id, "review")
    run_worker(app, ["actions"])
    db.session.expire_all()
    run = db.session.scalars(select(WorkflowRun)).one()
    assert (run.status, run.result_code, run.attempts) == ("failed", "JOB_FAILED", 3)
    assert db.session.get(JobRecord, run.job_id).status == "failed"


@pytest.mark.dialects
def test_concurrent_moves_of_one_eco_exactly_one_wins(app, monkeypatch):
    eco_id = factory.eco().id
    contenders = 6
    barrier, outcomes = threading.Barrier(contenders), []
    read_all, get_eco = threading.Barrier(contenders), service.get_eco

    def get_then_wait(eco_id: int):
        # every contender holds version 1 before any claims it, as when six people press Move at
        # once: only the compare-and-set decides (without this, a thread the OS runs late would
        # read the first winner's result and make a second, legitimate, move)
        eco = get_eco(eco_id)
        read_all.wait(10)
        return eco

    monkeypatch.setattr(service, "get_eco", get_then_wait)

    def contend(target: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                move(eco_id, target)
                outcomes.append("moved")
            except Conflict as exc:
                outcomes.append(exc.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=contend, args=("review" if i % 2 else "canceled",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("moved") == 1, outcomes
    assert set(outcomes) - {"moved"} == {"concurrent_change"}
    monkeypatch.undo()
    db.session.expire_all()
    eco = service.get_eco(eco_id)
    assert eco.version == 2
    assert [e.kind for e in service.events(eco.id).items] == ["stage", "created"]
