"""Hand-made rows of each area with known answers (see the figures in test_summary.py). Rows
whose own capability has no cheap way to back-date them are written as the models hold them."""

import uuid
from datetime import timedelta

from app.breakages import service as breakages
from app.consumption.models import (
    ConsumptionPlan,
    ConsumptionRecord,
    ConsumptionTemplate,
    InboxBatch,
    InboxEvent,
)
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.docsync.models import RemoteSite, SyncItem, SyncJob
from app.eco.models import WorkflowRun
from app.extensions import db, redis_client
from app.flows.models import FlowDefinition, FlowRun
from app.items.models import BomExport
from app.optimization import datasets
from app.optimization import service as optimization_service
from app.optimization.models import Optimization
from app.overlays import cache
from app.workorders.models import Pack
from tests.breakages import factory as breakage_factory
from tests.eco import factory as eco_factory
from tests.items import factory as items_factory
from tests.workorders import factory as workorder_factory


def sync_job(site, days_ago: float, status: str, direction: str, attempts=(), replay_of=None) -> SyncJob:
    job = SyncJob(
        site=site,
        direction=direction,
        idempotency_key=uuid.uuid4().hex,
        payload_sha256="0" * 64,
        selection={"numbers": []},
        status=status,
        replay_of_id=replay_of.id if replay_of else None,
        created_at=utcnow() - timedelta(days=days_ago),
    )
    db.session.add(job)
    db.session.flush()
    for i, n in enumerate(attempts):
        db.session.add(SyncItem(job_id=job.id, number=f"DWG-{i}", outcome="transferred", attempts=n))
    return job


def doc_sync() -> None:
    alpha = RemoteSite(name="alpha", base_url="https://alpha.example")
    beta = RemoteSite(name="beta", base_url="https://beta.example")
    db.session.add_all([alpha, beta])
    db.session.flush()
    sync_job(alpha, 1, "finished", "push", (1, 1))
    sync_job(alpha, 2, "failed", "push", (3,))  # a dead letter: never replayed
    replayed = sync_job(beta, 3, "failed", "pull")
    sync_job(beta, 0.5, "finished", "pull", (2,), replay_of=replayed)
    sync_job(beta, 4, "queued", "push")
    sync_job(alpha, 10, "failed", "push")  # in 14 days, not in 7: a dead letter too
    db.session.commit()


def workflow_runs() -> None:
    eco = eco_factory.eco()
    rule = eco_factory.rule("Notify")
    outcomes = [("completed", "OK")] * 3 + [("warning", "WARN"), ("failed", "BLOCK"), ("failed", "RETRY_EXHAUSTED")]
    for days_ago, (status, code) in [(i + 0.5, o) for i, o in enumerate(outcomes)] + [(20, ("failed", "BLOCK"))]:
        db.session.add(
            WorkflowRun(
                rule_id=rule.id,
                eco_id=eco.id,
                phase="before",
                action="emit_event",
                from_stage="draft",
                to_stage="review",
                status=status,
                result_code=code,
                actor="tester",
                started_at=utcnow() - timedelta(days=days_ago),
            )
        )
    db.session.commit()


def incidents() -> None:
    bom = breakage_factory.product()
    first = breakage_factory.incident(bom, days_ago=2, component="C-9")
    again = breakage_factory.incident(bom, days_ago=1, component="C-9")  # repeats `first`
    resolved = breakage_factory.incident(bom, days_ago=4, component="R-9")
    breakage_factory.resolve(resolved)
    later = breakage_factory.incident(bom, days_ago=3, component="R-9")  # repeats `resolved`
    canceled = breakage_factory.incident(bom, days_ago=1, component="R-9")
    breakages.move(canceled.id, "canceled")
    breakage_factory.incident(bom, days_ago=30, component=None, description="Old one")  # outside 7 days
    for made, status in ((first, "sent"), (again, "failed"), (resolved, "dead"), (canceled, "queued")):
        made.helpdesk_status = status
    assert later.helpdesk_status == "not_sent"
    db.session.commit()


def job_history() -> None:
    now = utcnow()
    statuses = ["failed", "failed", "stopped", "canceled"] + ["finished"] * 16
    for i, status in enumerate(statuses):
        db.session.add(
            JobRecord(
                id=f"sync-{i}",
                queue="sync",
                kind="doc_sync",
                status=status,
                enqueued_at=now - timedelta(days=1),
                duration=float(20 - i),  # 20 .. 1 seconds, in no order the query could lean on
                wait=(20 - i) / 10,
            )
        )
    db.session.add(
        JobRecord(
            id="old",
            queue="sync",
            kind="doc_sync",
            status="failed",
            enqueued_at=now - timedelta(days=30),
            duration=99.0,
        )
    )
    db.session.add(
        JobRecord(
            id="waiting", queue="exports", kind="bom_delta", status="queued", enqueued_at=now - timedelta(hours=1)
        )
    )
    db.session.commit()


def _ago(days: float):
    return utcnow() - timedelta(days=days)


def flow_runs() -> None:
    flow = FlowDefinition(name="ops-flow", document="{}", created_by="tester")
    db.session.add(flow)
    db.session.flush()
    for days, status in ((0.5, "completed"), (2, "failed"), (3, "running"), (20, "failed")):
        db.session.add(FlowRun(flow_id=flow.id, status=status, actor="tester", created_at=_ago(days)))
    db.session.commit()


def optimizations(owner) -> None:
    dataset = optimization_service.create_dataset("ops", datasets.to_csv(datasets.demo_series(50)), owner.username)
    for days, status in ((1, "succeeded"), (2, "early-stopped"), (3, "failed"), (4, "failed"), (40, "canceled")):
        db.session.add(
            Optimization(
                owner_id=owner.id,
                strategy="sma_cross",
                dataset_id=dataset.id,
                param_space={},
                policy={},
                top_n=3,
                cash=10_000,
                commission=0.0,
                status=status,
                created_at=_ago(days),
            )
        )
    db.session.commit()


def exports() -> None:
    for days, status in ((1, "done"), (2, "failed"), (3, "queued"), (10, "failed")):
        db.session.add(
            BomExport(
                left_ref="A@A",
                right_ref="A@B",
                mode="summary",
                max_levels=1,
                export_format="csv",
                status=status,
                created_at=_ago(days),
            )
        )
    order = workorder_factory.workorder(workorder_factory.routing())
    for days, status in ((0.5, "done"), (0.5, "done"), (6, "failed")):
        db.session.add(Pack(workorder_id=order.id, status=status, created_by="tester", created_at=_ago(days)))
    db.session.commit()


def consumption() -> None:
    """Two templates without an active version (one with a draft, one with none), two dead inbox
    events, and plans ending in the window: within tolerance, exactly at it, over, with no actual,
    a draft (not counted), one 20 days ago and one still running."""
    product = items_factory.item("OPS-PCB")
    now = utcnow()

    def plan(ended_days_ago: float, state: str, actual: float | None, template=None, version=None):
        end = now - timedelta(days=ended_days_ago)
        made = ConsumptionPlan(
            item_id=product.id,
            period_unit="day",
            period_start=end - timedelta(days=7),
            period_end=end,
            planned_quantity=100,
            unit="ea",
            state=state,
            template_id=template.id if template else None,
            version=version,
        )
        db.session.add(made)
        db.session.flush()
        if actual is not None:
            db.session.add(
                ConsumptionRecord(
                    plan_id=made.id,
                    source_type="manual",
                    quantity=actual,
                    unit="ea",
                    factor=1.0,
                    plan_quantity=actual,
                    recorded_at=end - timedelta(days=1),
                )
            )

    live, drafted, bare = (ConsumptionTemplate(key=k) for k in ("ops-live", "ops-drafted", "ops-bare"))
    db.session.add_all([live, drafted, bare])
    db.session.flush()
    plan(0.5, "active", 100.0, live, 1)  # within tolerance
    plan(2, "closed", 105.0)  # exactly at 5 %: within
    plan(3, "active", 110.0)  # 10 % over
    plan(3, "active", None)  # nothing recorded: 100 % under
    plan(2, "draft", 500.0, drafted, 1)  # a draft never counts
    plan(20, "closed", 50.0)  # out, in 30 days only
    plan(-3, "active", 0.0)  # still running
    batch = InboxBatch(actor="mes")
    db.session.add(batch)
    db.session.flush()
    for i, state in enumerate(("dead", "dead", "pending", "done")):
        db.session.add(
            InboxEvent(
                batch_id=batch.id,
                event_key=f"ops-{i}",
                plan_id=0,
                source_type="mes",
                quantity=1,
                unit="ea",
                recorded_at=now,
                state=state,
            )
        )
    db.session.commit()


def overlay_cache() -> None:
    """Lookup counts of today (3 hits, 1 miss), 3 days ago (4 misses) and 20 days ago (10 hits)."""
    today = utcnow().date()
    cache.count_requests(3, 1)
    redis_client().hset(cache.stats_key(today - timedelta(days=3)), mapping={"misses": 4})
    redis_client().hset(cache.stats_key(today - timedelta(days=20)), mapping={"hits": 10})
