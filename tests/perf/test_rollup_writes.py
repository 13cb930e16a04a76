"""Benchmark (not part of `make test`): what the rollups' triggers cost the writers of the job
history (app/core/rollup.py: five rollups on job_history, nine tables).

The same work twice in one run, with the triggers and without them (dropped inside the
transaction, which is then rolled back): 20,000 jobs enqueued in one bulk insert, each then
started (status, wait) and ended (status, duration) by an UPDATE per job, as the worker's
callbacks do, and the sweeper's fold of what the triggers added. Prints one JSON line per
database: seconds of each, and the ratio.

    FORGELINE_TEST_DATABASES=both .venv/bin/pytest -q -s -p no:cacheprovider tests/perf/test_rollup_writes.py
"""

import json
import os
import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, text, update

from app.core import rollup
from app.core.jobs import history
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.extensions import db

pytestmark = pytest.mark.dialects

JOBS = int(os.environ.get("BENCH_JOBS", "20000"))


def _work(prefix: str) -> float:
    rng, now = random.Random(3), utcnow()
    started = time.perf_counter()
    rows = [
        {
            "id": f"{prefix}{n}",
            "queue": rng.choice(("default", "sync", "exports")),
            "kind": "bench",
            "status": "queued",
            "actor": "bench",
            "enqueued_at": now - timedelta(seconds=rng.uniform(0, 7 * 86400)),
            "attempts": 0,
        }
        for n in range(JOBS)
    ]
    db.session.execute(insert(JobRecord), rows)
    for n in range(JOBS):
        job = JobRecord.id == f"{prefix}{n}"
        db.session.execute(update(JobRecord).where(job).values(status="started", wait=rng.expovariate(1.0), attempts=1))
        db.session.execute(
            update(JobRecord)
            .where(job)
            .values(status=rng.choice(("finished", "failed")), duration=rng.expovariate(0.2))
        )
    db.session.flush()
    return time.perf_counter() - started


def _restore(dialect: str) -> None:
    if dialect == "postgresql":
        return
    present = set(db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    for spec in history.ROLLUPS:
        if f"{spec.name}_insert" not in present:
            for statement in rollup.trigger_ddl(spec, dialect):
                db.session.execute(text(statement))
    db.session.commit()


def test_what_the_triggers_cost_the_job_history_writers(app):
    dialect = db.engine.dialect.name
    with_triggers = _work("t")
    db.session.commit()
    started = time.perf_counter()
    folded = sum(rollup.compact_all().values())
    fold_seconds = time.perf_counter() - started
    try:  # the same work with no trigger
        for spec in history.ROLLUPS:
            for statement in rollup.drop_ddl(spec, dialect):
                db.session.execute(text(statement))
        without = _work("n")
    finally:
        db.session.rollback()
        _restore(dialect)  # pysqlite runs DDL outside the transaction: the rollback does not bring them back
    print(
        json.dumps(
            {
                "benchmark": "rollup_writes",
                "database": dialect,
                "jobs": JOBS,
                "statements": JOBS * 2 + 1,
                "seconds_with_triggers": round(with_triggers, 2),
                "seconds_without": round(without, 2),
                "ratio": round(with_triggers / without, 2),
                "per_job_ms_added": round((with_triggers - without) / JOBS * 1000, 3),
                "fold_seconds": round(fold_seconds, 2),
                "rows_folded": folded,
                "load_average": os.getloadavg()[0],
            }
        )
    )
