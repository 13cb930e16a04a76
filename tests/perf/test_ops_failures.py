"""Benchmark: the overview's failure tables over 200,000 rows each.

200,000 sync jobs (a tenth failed or interrupted, a third of those replayed), 200,000 workflow
runs (5 % failed), 200,000 incidents (a tenth of the sends failed or dead) and 100,000 each of
BOM-delta exports and work-order packs (5 % failed), spread over 90 days. Timed: one page of
each table (its count and its rows) for the 7- and 90-day windows, plain, filtered, and a page
deep in the list (500 of about 1,000), 20 times after a warm-up; goal p95 < 150 ms. Prints the plans of the
doc-sync count and page, and one JSON line per database.

    FORGELINE_TEST_DATABASES=both .venv/bin/pytest -q -s tests/perf/test_ops_failures.py
"""

import json
import os
import random
import statistics
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import bindparam, insert, select, update

from app.breakages.models import Incident
from app.core.paging import paginate
from app.core.timeutil import utcnow
from app.docsync.models import RemoteSite, SyncJob
from app.eco.models import WorkflowRun
from app.extensions import db
from app.items.models import BomExport, Item
from app.ops import failures
from app.workorders.models import Pack
from tests.eco import factory as eco_factory
from tests.workorders import factory as workorder_factory

pytestmark = pytest.mark.dialects

ROWS = int(os.environ.get("BENCH_ROWS", "200000"))
SPAN = 90 * 86400
CHUNK = 20000


def _bulk(model, rows) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model.__table__), rows[start : start + CHUNK])
    db.session.commit()


def _seed() -> None:
    rng, now = random.Random(19), utcnow()

    def ago():
        return now - timedelta(seconds=rng.uniform(0, SPAN))

    sites = [RemoteSite(name=f"site-{n}", base_url=f"https://s{n}.example") for n in range(5)]
    db.session.add_all(sites)
    eco = eco_factory.eco()
    rule = eco_factory.rule("Notify")
    order = workorder_factory.workorder(workorder_factory.routing())
    product = db.session.scalar(select(Item.id).limit(1))
    db.session.commit()
    jobs = []
    for n in range(1, ROWS + 1):
        roll = rng.random()
        status = "failed" if roll < 0.08 else "interrupted" if roll < 0.1 else "finished"
        jobs.append(
            {
                "id": n,
                "site_id": rng.choice(sites).id,
                "direction": rng.choice(("push", "pull")),
                "idempotency_key": f"k{n}",
                "payload_sha256": "0" * 64,
                "selection": {"numbers": []},
                "status": status,
                "actor": "bench",
                "created_at": ago(),
                "replay_of_id": None,
                **dict.fromkeys(("total", "sent", "present", "skipped", "conflicts", "failed", "bytes"), 0),
            }
        )
    _bulk(SyncJob, jobs)
    failed = [j["id"] for j in jobs if j["status"] == "failed"]
    replays = rng.sample([j["id"] for j in jobs if j["status"] == "finished"], len(failed) // 3)
    pairs = [{"job": r, "of": f} for r, f in zip(replays, rng.sample(failed, len(replays)), strict=True)]
    db.session.execute(
        update(SyncJob.__table__)
        .where(SyncJob.__table__.c.id == bindparam("job"))
        .values(replay_of_id=bindparam("of")),
        pairs,
    )
    db.session.commit()
    runs = [
        {
            "rule_id": rule.id,
            "eco_id": eco.id,
            "phase": rng.choice(("before", "after")),
            "action": "emit_event",
            "from_stage": "draft",
            "to_stage": "review",
            "status": "failed" if rng.random() < 0.05 else "completed",
            "result_code": "OK",
            "attempts": 1,
            "actor": "bench",
            "started_at": ago(),
        }
        for _ in range(ROWS)
    ]
    _bulk(WorkflowRun, runs)
    incidents = []
    for n in range(ROWS):
        at, roll = ago(), rng.random()
        incidents.append(
            {
                "code": f"BRK-{n:07d}",
                "status": "open",
                "severity": "low",
                "responsibility": "unknown",
                "item_id": product,
                "occurred_at": at,
                "created_at": at,
                "updated_at": at,
                "description": "bench",
                "signature": "bench",
                "reported_by": "bench",
                "helpdesk_key": uuid.uuid4().hex,
                "helpdesk_status": "failed" if roll < 0.05 else "dead" if roll < 0.1 else "sent",
                "helpdesk_attempts": 1,
                **dict.fromkeys(("root_cause", "immediate_action", "corrective_action", "preventive_action"), ""),
                **dict.fromkeys(("verification_note", "batch_code", "production_order", "customer"), ""),
            }
        )
    _bulk(Incident, incidents)
    exports = [
        {
            "left_ref": "A@A",
            "right_ref": "A@B",
            "mode": "summary",
            "max_levels": 1,
            "export_format": "csv",
            "status": "failed" if rng.random() < 0.05 else "done",
            "line_count": 0,
            "created_at": ago(),
        }
        for _ in range(ROWS // 2)
    ]
    _bulk(BomExport, exports)
    packs = [
        {
            "workorder_id": order.id,
            "require_locked": False,
            "status": "failed" if rng.random() < 0.05 else "done",
            "documents": 0,
            "cached": False,
            "created_by": "bench",
            "created_at": ago(),
        }
        for _ in range(ROWS // 2)
    ]
    _bulk(Pack, packs)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(db.text("VACUUM ANALYZE"))
    else:
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


CASES = {
    "doc_sync_7": lambda: failures.read("doc-sync", 7, 1, 20, {}),
    "doc_sync_90": lambda: failures.read("doc-sync", 90, 1, 20, {}),
    "doc_sync_90_dead_letter": lambda: failures.read("doc-sync", 90, 1, 20, {"dead_letter": True}),
    "doc_sync_90_site_pull": lambda: failures.read("doc-sync", 90, 1, 20, {"site": "site-3", "direction": "pull"}),
    "doc_sync_90_page_500": lambda: failures.read("doc-sync", 90, 500, 20, {}),
    "workflow_7": lambda: failures.read("workflow", 7, 1, 20, {}),
    "workflow_90_after": lambda: failures.read("workflow", 90, 1, 20, {"phase": "after"}),
    "helpdesk_7": lambda: failures.read("helpdesk", 7, 1, 20, {}),
    "helpdesk_90_dead": lambda: failures.read("helpdesk", 90, 1, 200, {"status": "dead"}),
    "helpdesk_90_page_500": lambda: failures.read("helpdesk", 90, 500, 20, {}),
    "exports_7": lambda: failures.read("exports", 7, 1, 20, {}),
    "exports_90": lambda: failures.read("exports", 90, 1, 20, {}),
    "exports_90_packs": lambda: failures.read("exports", 90, 1, 20, {"kind": "workorder_pack"}),
    "exports_90_page_200": lambda: failures.read("exports", 90, 200, 20, {}),
}


def _plan(query) -> list[str]:
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    return [" ".join(str(c) for c in row) for row in db.session.execute(db.text(prefix + str(compiled)))]


@pytest.mark.timeout(3600)
def test_failure_tables_over_200000_rows_each(app, monkeypatch):
    started = time.perf_counter()
    _seed()
    seed_seconds = time.perf_counter() - started
    captured = []
    monkeypatch.setattr(failures, "paginate", lambda q, *a, **k: captured.append(q) or paginate(q, *a, **k))
    failures.read("doc-sync", 90, 1, 20, {"dead_letter": True})
    query = captured[-1]
    count = select(db.func.count()).select_from(query.order_by(None).subquery())
    print("\nplan of the doc-sync count:", *_plan(count), sep="\n  ")
    print("plan of the doc-sync page:", *_plan(query.limit(20)), sep="\n  ")
    results = {}
    for name, case in CASES.items():
        case()  # warm-up
        times = []
        for _ in range(20):
            t = time.perf_counter()
            case()
            times.append((time.perf_counter() - t) * 1000)
            db.session.rollback()
        results[name] = round(statistics.quantiles(times, n=20)[18], 1)
    print(
        json.dumps(
            {
                "benchmark": "ops_failures",
                "database": db.engine.dialect.name,
                "rows_per_table": ROWS,
                "seed_seconds": round(seed_seconds, 1),
                "p95_ms": results,
                "worst_p95_ms": max(results.values()),
                "goal_p95_ms": 150,
                "under_load": True,
            }
        )
    )
