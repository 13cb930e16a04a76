"""The rollups (app/core/rollup.py): whatever writes the source rows (the ORM, a bulk insert, an
UPDATE or DELETE statement, a rollback), a window or bucket read from the rollup and its edges
gives exactly what a GROUP BY over the source rows gives, before and after compaction."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, insert, inspect, select, text, update

from app.breakages import figures as breakage_figures
from app.core import rollup
from app.core.buckets import Buckets
from app.core.jobs import history
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.docsync.models import SyncJob
from app.extensions import db
from tests.ops import scene

pytestmark = pytest.mark.dialects

STATUSES = ("queued", "started", "finished", "failed", "stopped", "lost")
QUEUES = ("default", "sync", "exports")


def _raw(buckets: Buckets) -> dict[tuple, int]:
    """The truth: the source rows grouped by bucket, queue and status."""
    bucket = buckets.index(JobRecord.enqueued_at).label("bucket")
    rows = db.session.execute(
        select(bucket, JobRecord.queue, JobRecord.status, func.count())
        .where(JobRecord.enqueued_at >= buckets.start, JobRecord.enqueued_at < buckets.end)
        .group_by(bucket, JobRecord.queue, JobRecord.status)
    )
    return {(int(i), q, s): n for i, q, s, n in rows}


def _rolled(buckets: Buckets) -> dict[tuple, int]:
    return {(i, q, s): n for i, q, s, n in rollup.grouped_by_bucket(history.JOBS, buckets)}


def _trends_agree(buckets: Buckets) -> None:
    """The trends' own rollup (queue, failed) against the same rows."""
    expected: dict[str, list[dict[str, int]]] = {}
    for (i, queue, status), n in _raw(buckets).items():
        counts = expected.setdefault(queue, [{"total": 0, "failed": 0} for _ in range(buckets.count)])[i]
        counts["total"] += n
        counts["failed"] += n if status in history.FAILED_STATUSES else 0
    assert history.queue_figures_by_bucket(buckets) == dict(sorted(expected.items())), buckets


def _seed(rng: random.Random, now: datetime, n: int) -> None:
    """Jobs over 20 days, some on whole hours and on the exact edges the checks use."""
    edges = [now - timedelta(days=d) for d in (1, 7, 14)] + [now.replace(minute=0, second=0, microsecond=0)]
    rows = []
    for i in range(n):
        at = rng.choice(edges) if i % 10 == 0 else now - timedelta(seconds=rng.uniform(0, 20 * 86400))
        rows.append(
            {
                "id": f"j{i}",
                "queue": rng.choice(QUEUES),
                "kind": "k",
                "status": rng.choice(STATUSES),
                "actor": "t",
                "enqueued_at": at,
                "duration": rng.expovariate(0.5),
                "wait": rng.expovariate(2.0),
                "attempts": 1,
            }
        )
    db.session.execute(insert(JobRecord), rows[: n // 2])  # a bulk insert
    db.session.add_all(JobRecord(**row) for row in rows[n // 2 :])  # and the ORM
    db.session.commit()


def _windows(now: datetime):
    for days, bucket_days in ((1, 1), (7, 1), (14, 7), (14, 14), (20, 1)):
        yield Buckets(now - timedelta(days=days), now, bucket_days)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_write_counts_and_every_window_agrees_with_the_rows(app, seed):
    rng = random.Random(seed)
    now = datetime(2026, 12, 7, 15, 37, 12, 345678, tzinfo=UTC) + timedelta(minutes=rng.randrange(600))
    _seed(rng, now, 600)
    # statuses change by statement and by the ORM; some rows go; one change is rolled back
    db.session.execute(update(JobRecord).where(JobRecord.status == "queued").values(status="started"))
    for record in db.session.scalars(select(JobRecord).where(JobRecord.status == "started").limit(50)):
        record.status = rng.choice(("finished", "failed"))
    db.session.execute(delete(JobRecord).where(JobRecord.id.in_([f"j{i}" for i in range(0, 600, 7)])))
    db.session.commit()
    db.session.execute(update(JobRecord).values(status="lost"))
    db.session.rollback()
    for buckets in _windows(now):
        assert _rolled(buckets) == _raw(buckets), buckets
        _trends_agree(buckets)
    for table in history.JOBS.tables.values():
        pending = db.session.scalar(select(func.count()).select_from(table))
        rollup.compact(history.JOBS, table)
        db.session.commit()
        assert db.session.scalars(select(table.c.pending).distinct()).all() == [rollup.SETTLED]
        assert db.session.scalar(select(func.count()).select_from(table)) < pending
    for buckets in _windows(now):
        assert _rolled(buckets) == _raw(buckets), buckets


def test_compaction_leaves_one_row_per_key_and_drops_keys_that_came_to_nothing(app):
    at = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    db.session.add(JobRecord(id="a", queue="q", kind="k", status="queued", actor="t", enqueued_at=at))
    db.session.commit()
    for status in ("started", "finished", "failed", "finished"):
        db.session.execute(update(JobRecord).values(status=status))
        db.session.commit()
    folded = rollup.compact_all()
    for grain, table in history.JOBS.tables.items():
        assert folded[table.name] == 9  # +1, then -1/+1 four times
        rows = db.session.execute(select(table.c.unit, table.c.queue, table.c.status, table.c.n, table.c.pending))
        assert rows.all() == [(int(at.timestamp()) // grain, "q", "finished", 1, rollup.SETTLED)]
    db.session.execute(delete(JobRecord))
    db.session.commit()
    rollup.compact_all()
    for table in history.JOBS.tables.values():
        assert db.session.scalar(select(func.count()).select_from(table)) == 0


def test_a_window_inside_one_hour_and_rows_on_its_edges(app):
    hour = datetime(2026, 12, 7, 9, tzinfo=UTC)
    for i, minute in enumerate((0, 10, 20, 59)):
        db.session.add(
            JobRecord(
                id=f"e{i}", queue="q", kind="k", status="finished", actor="t", enqueued_at=hour.replace(minute=minute)
            )
        )
    db.session.commit()
    assert rollup.grouped(history.JOBS, hour.replace(minute=10), hour.replace(minute=59)) == [("q", "finished", 2)]
    assert rollup.grouped(history.JOBS, hour, hour + timedelta(hours=1)) == [("q", "finished", 4)]
    assert rollup.grouped(history.JOBS, hour + timedelta(hours=1), hour + timedelta(days=2)) == []


def test_every_rollup_has_its_triggers(app):
    """A migration that rebuilds a source table (SQLite's batch mode copies it) drops its
    triggers: this says which rollup stopped counting."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        names = set(db.session.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
        expected = {f"{spec.name}_track" for spec in rollup.REGISTRY}
    else:
        names = set(db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        expected = {f"{spec.name}_{op}" for spec in rollup.REGISTRY for op in ("insert", "delete", "update")}
    assert expected <= names
    tables = {table.name for spec in rollup.REGISTRY for table in spec.tables.values()}
    assert tables <= set(inspect(db.engine).get_table_names())


def test_a_replay_marks_its_job_replayed_and_deleting_it_unmarks(app):
    scene.doc_sync()
    db.session.commit()
    failed = db.session.scalars(select(SyncJob).where(SyncJob.status == "failed").order_by(SyncJob.id)).all()
    assert [job.replayed for job in failed] == [False, True, False]  # the second has a replay
    db.session.execute(delete(SyncJob).where(SyncJob.replay_of_id == failed[1].id))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(SyncJob, failed[1].id).replayed is False


def test_percentiles_past_the_exact_limit_come_from_the_histogram_within_its_bound(app, monkeypatch):
    rng, now = random.Random(5), utcnow()
    _seed(rng, now, 400)
    start, end = now - timedelta(days=30), now + timedelta(seconds=1)
    exact = {row["queue"]: row for row in history.queue_figures(start, end)}
    monkeypatch.setattr(history, "EXACT_PERCENTILES_UP_TO", 0)
    binned = {row["queue"]: row for row in history.queue_figures(start, end)}
    assert exact.keys() == binned.keys() == set(QUEUES)
    half_bin = 1.0323  # e^(1/32): the middle of a bin e^(1/16) wide
    for queue, row in exact.items():
        assert (row["total"], row["failed"]) == (binned[queue]["total"], binned[queue]["failed"])
        for figure in ("duration_p50", "duration_p95", "wait_p95"):
            assert row[figure] / half_bin <= binned[queue][figure] <= row[figure] * half_bin, (queue, figure)


def test_the_rolled_up_repeat_rate_is_the_breakage_capabilitys_own(app):
    scene.incidents()
    db.session.commit()
    for days in breakage_figures.REPEAT_WINDOWS:
        w = breakage_figures.window(days)
        assert breakage_figures.rolled_up(w)["repeat"] == breakage_figures.repeat_rate(w), days
        assert breakage_figures.rolled_up(w)["helpdesk"] == breakage_figures.helpdesk_sends(w), days
        assert breakage_figures.rolled_up(w)["by_status"] == breakage_figures.counts(w)["status"], days


def test_the_prometheus_histograms_count_every_job_as_the_rows_do(app):
    rng = random.Random(9)
    _seed(rng, utcnow(), 300)
    db.session.execute(update(JobRecord).where(JobRecord.status == "queued").values(duration=None))
    db.session.execute(update(JobRecord).where(JobRecord.status == "failed").values(duration=JobRecord.duration * 3))
    db.session.commit()
    for column, bounds in history.TIMING_BOUNDS.items():
        value = getattr(JobRecord, column)
        expected = []
        for queue in sorted(QUEUES):
            values = db.session.scalars(select(value).where(JobRecord.queue == queue, value.is_not(None))).all()
            cumulative = [sum(v <= b for v in values) for b in bounds] + [len(values)]
            expected.append((queue, cumulative, pytest.approx(sum(values), rel=1e-9)))
        assert history.histogram(column) == expected, column
