"""Benchmark: the parallel-ops overview over 90 days of busy history.

Seeds with bulk inserts (app/core/bulk.py) 1,000,000 job-history rows, 200,000 doc-sync jobs
(a tenth failed, half of those replayed), 200,000 workflow action runs and 200,000 incidents
spread evenly over 90 days (the rollups' triggers counting every row), compacts the rollups
once (the sweeper's step), then times through the test client, 20 requests each after a
warm-up: the summary and the trends (daily buckets, the most) of every window, the alerts of
every window and /metrics (with the ops gauges). Goals: summary and trends p95 < 150 ms per window, alerts
< 200 ms, /metrics < 300 ms. Prints one JSON line per database.

    FORGELINE_TEST_DATABASES=both flock /tmp/bench.lock nice -n 10 \
        .venv/bin/pytest -q -s -p no:cacheprovider tests/perf/test_ops_scale.py
    BENCH_SCALE=0.01 for a quick look (row counts scaled).
"""

import gc
import json
import os
import random
import statistics
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.breakages import figures as breakage_figures
from app.breakages.models import Incident
from app.consumption import figures as consumption_figures
from app.core import bulk, rollup
from app.core.buckets import Buckets
from app.core.jobs import history
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.docsync import figures as docsync_figures
from app.docsync.models import RemoteSite, SyncJob
from app.eco import figures as eco_figures
from app.eco.models import WorkflowRun
from app.extensions import db
from app.items.models import Item
from app.ops import summary as summary_module
from app.ops.summary import WINDOWS
from tests.eco import factory as eco_factory

pytestmark = pytest.mark.dialects

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
JOBS, SYNCS, RUNS, INCIDENTS = (int(n * SCALE) for n in (1_000_000, 200_000, 200_000, 200_000))
SPAN = 90 * 86400
REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))
CHUNK = 50_000
QUEUES = ("default", "sync", "exports", "flows", "optimization", "consumption")


def _at(rng, now):
    return now - timedelta(seconds=rng.uniform(0, SPAN))


def _insert(table, rows) -> None:
    for start in range(0, len(rows), CHUNK):
        bulk.insert_rows(table, rows[start : start + CHUNK])


def _seed() -> float:
    """The rows, then the rollups compacted: the seconds the compaction took."""
    rng, now = random.Random(19), utcnow()
    job_statuses = ["finished"] * 90 + ["failed"] * 6 + ["stopped", "lost", "canceled", "queued"]
    rows = []
    for n in range(JOBS):
        at = _at(rng, now)
        status = rng.choice(job_statuses)
        ran = status != "queued"
        rows.append(
            {
                "id": f"job-{n}",
                "queue": rng.choice(QUEUES),
                "kind": "bench",
                "status": status,
                "actor": "bench",
                "enqueued_at": at,
                "wait": rng.expovariate(1.0) if ran else None,
                "duration": rng.expovariate(0.2) if ran else None,
                "attempts": 1 if ran else 0,
            }
        )
    _insert(JobRecord.__table__, rows)

    sites = [RemoteSite(name=f"site-{n}", base_url=f"https://site-{n}.example") for n in range(5)]
    db.session.add_all(sites)
    db.session.flush()
    sync_statuses = ["finished"] * 85 + ["failed"] * 10 + ["interrupted"] * 2 + ["queued", "running", "finished"]
    rows, failed = [], []
    for n in range(1, SYNCS + 1):
        status = rng.choice(sync_statuses)
        replay = failed.pop() if failed and rng.random() < 0.5 else None
        if status == "failed":
            failed.append(n)
        rows.append(
            {
                "id": n,
                "site_id": rng.choice(sites).id,
                "direction": rng.choice(("push", "pull")),
                "idempotency_key": uuid.uuid4().hex,
                "payload_sha256": "0" * 64,
                "selection": {"numbers": []},
                "status": status,
                "replay_of_id": replay,
                "actor": "bench",
                "created_at": _at(rng, now),
                **dict.fromkeys(("total", "sent", "present", "skipped", "conflicts", "failed", "bytes"), 0),
            }
        )
    rows.sort(key=lambda r: r["id"])
    _insert(SyncJob.__table__, rows)

    eco, rule = eco_factory.eco(), eco_factory.rule("Bench")
    outcomes = (
        [("completed", "OK")] * 94
        + [("warning", "WARN")] * 3
        + [("failed", "BLOCK")] * 2
        + [("failed", "RETRY_EXHAUSTED")]
    )
    rows = []
    for _ in range(RUNS):
        status, code = rng.choice(outcomes)
        rows.append(
            {
                "rule_id": rule.id,
                "eco_id": eco.id,
                "phase": "before",
                "action": "emit_event",
                "from_stage": "draft",
                "to_stage": "review",
                "status": status,
                "result_code": code,
                "attempts": 1,
                "actor": "bench",
                "started_at": _at(rng, now),
            }
        )
    _insert(WorkflowRun.__table__, rows)

    products = [Item(number=f"OPS-P-{n:02d}", name="product", item_type="assembly") for n in range(20)]
    db.session.add_all(products)
    db.session.flush()
    statuses = ("open", "investigating", "resolved", "closed", "closed", "canceled")
    helpdesk = ("not_sent", "sent", "sent", "sent", "failed", "dead", "queued")
    rows = []
    for n in range(INCIDENTS):
        at = _at(rng, now)
        rows.append(
            {
                "code": f"OPS-{n:07d}",
                "status": rng.choice(statuses),
                "severity": rng.choice(("low", "medium", "high", "critical")),
                "responsibility": "unknown",
                "item_id": rng.choice(products).id,
                "occurred_at": at,
                "created_at": at,
                "updated_at": at,
                "description": "bench",
                "signature": f"d:bench-{n % 300}",
                "reported_by": "bench",
                "helpdesk_key": uuid.uuid4().hex,
                "helpdesk_status": rng.choice(helpdesk),
                "helpdesk_attempts": 0,
                "repeat_gap_seconds": rng.uniform(0, 60 * 86400) if rng.random() < 0.3 else None,
                **dict.fromkeys(("root_cause", "immediate_action", "corrective_action", "preventive_action"), ""),
                **dict.fromkeys(("verification_note", "batch_code", "production_order", "customer"), ""),
            }
        )
    _insert(Incident.__table__, rows)
    db.session.commit()
    started = time.perf_counter()
    rollup.compact_all()  # the sweeper's step, once over everything the seed's triggers added
    compact_seconds = round(time.perf_counter() - started, 1)
    if db.engine.dialect.name == "postgresql":  # statistics and the visibility map (index-only scans)
        if SYNCS:
            db.session.execute(text("SELECT setval('doc_sync_jobs_id_seq', :n)"), {"n": SYNCS})
            db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return compact_seconds


def _p95(client, path: str, headers) -> dict:
    first = client.get(path, headers=headers)  # warm-up
    assert first.status_code == 200, (path, first.status_code, first.get_data(as_text=True)[:300])
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        client.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50": round(statistics.median(times), 1), "p95": round(statistics.quantiles(times, n=20)[18], 1)}


def _parts(days: int) -> dict[str, float]:
    """Milliseconds of each figure of the window (one call each, warm), to see where the time goes."""
    end = utcnow()
    start = end - timedelta(days=days)
    buckets = Buckets(start, end, 1)
    calls = {
        "doc_sync": lambda: docsync_figures.jobs(start, end),
        "workflow_runs": lambda: eco_figures.runs(start, end),
        "breakages": lambda: summary_module.breakages(days, end),
        "consumption": lambda: consumption_figures.consumption(start, end),
        "job_history": lambda: history.queue_figures(start, end),
        "trend_doc_sync": lambda: docsync_figures.jobs_by_bucket(buckets),
        "trend_workflow_runs": lambda: eco_figures.runs_by_bucket(buckets),
        "trend_breakages": lambda: breakage_figures.by_bucket(buckets),
        "trend_job_history": lambda: history.queue_figures_by_bucket(buckets),
    }
    out = {}
    for name, call in calls.items():
        call()
        t = time.perf_counter()
        call()
        out[name] = round((time.perf_counter() - t) * 1000, 1)
        db.session.rollback()
    return out


@pytest.mark.timeout(7200)
def test_ops_figures_over_90_days_of_busy_history(app, client, bearer):
    started = time.perf_counter()
    compact_seconds = _seed()
    seed_seconds = round(time.perf_counter() - started, 1)
    gc.collect()
    gc.freeze()  # the seed's heap is not a web process's: no full collection of it in a request
    operator = bearer("operator")
    timed: dict[str, dict] = {}
    for days in WINDOWS:
        for name, path in (
            ("summary", f"/api/v1/parallel-ops/summary?window_days={days}"),
            ("trends", f"/api/v1/parallel-ops/trends?window_days={days}&bucket_days=1"),
            ("alerts", f"/api/v1/parallel-ops/alerts?window_days={days}"),
        ):
            found = _p95(client, path, operator)
            if found is not None:
                timed.setdefault(name, {})[days] = found
    metrics = _p95(client, "/metrics", {})
    parts = _parts(90)
    goals = {"summary": 150, "trends": 150, "alerts": 200}
    met = all(t["p95"] < goals[name] for name, per in timed.items() for t in per.values())
    if metrics is not None:
        met = met and metrics["p95"] < 300
    print(
        json.dumps(
            {
                "benchmark": "ops_scale",
                "database": db.engine.dialect.name,
                "rows": {"job_history": JOBS, "doc_sync_jobs": SYNCS, "workflow_runs": RUNS, "incidents": INCIDENTS},
                "seed_seconds": seed_seconds,
                "compact_seconds": compact_seconds,
                "p95_ms": {name: {d: t["p95"] for d, t in per.items()} for name, per in timed.items()},
                "p50_ms": {name: {d: t["p50"] for d, t in per.items()} for name, per in timed.items()},
                "metrics_ms": metrics,
                "parts_90_days_ms": parts,
                "goals_ms": {**goals, "metrics": 300},
                "goals_met": met,
                "load_average": os.getloadavg()[0],
            }
        )
    )
