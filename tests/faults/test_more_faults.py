"""More faults under real forking workers: the database unreachable under a busy worker
(PostgreSQL behind a forwarder that is cut), a whole worker killed mid flow run, and a real
BOM delta export whose work horse is killed. Each ends with every domain row final (or
resumed to final), nothing duplicated, the counts asserted, within a bounded time."""

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from app.extensions import db
from app.optimization.models import Optimization
from tests.conftest import wait_for
from tests.faults.conftest import (
    CHUNK_POINTS,
    POINTS,
    flow_run,
    history,
    kill_horse,
    kill_worker,
    mid_chunk,
    optimization,
    slow_flow_run,
    task_count,
)


def _active(optimization_id: int) -> set[str]:
    return {"queued", "started", "retrying"} & set(history("optimization", optimization_id))


# --- the database unreachable under a busy worker --------------------------------------------


@pytest.mark.dialects
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=CHUNK_POINTS, WORKER_TTL=6, SWEEP_SECONDS=1)
def test_an_optimization_busy_while_the_database_is_unreachable_ends_with_every_point_once(
    app, start_workers, db_forwarder, big_optimization
):
    started = time.monotonic()
    worker = start_workers(1, database_url=db_forwarder.url)[0]
    optimization_id = big_optimization()
    wait_for(lambda: mid_chunk(optimization_id), timeout=30, interval=0.05)
    db_forwarder.cut()  # the worker's connections drop, new ones are refused
    time.sleep(3)
    db_forwarder.restore()
    # final, and the last chunk's success callback has closed its history row too
    wait_for(lambda: optimization(optimization_id).is_final and not _active(optimization_id), timeout=45, interval=0.5)
    log = worker.stderr.read().decode()
    assert worker.poll() is None, log[-3000:]
    assert "found an unhandled exception" not in log  # the worker never dropped out of its loop
    row = optimization(optimization_id)
    assert (row.status, row.done, row.total, row.chunks_done) == ("succeeded", POINTS, POINTS, row.chunks_total)
    assert task_count(optimization_id) == (POINTS, POINTS)
    assert (row.finished, row.failed) == (POINTS, 0)  # no point failed for the database's trouble
    statuses = history("optimization", optimization_id)
    assert statuses.count("finished") == row.chunks_total  # each chunk ended once, some after a resume
    assert db.session.scalar(select(func.count()).select_from(Optimization)) == 1
    assert time.monotonic() - started < 60


# --- the whole worker killed mid flow run --------------------------------------------------------


@pytest.mark.config(WORKER_TTL=6, SWEEP_SECONDS=1)
def test_a_flow_run_abandoned_by_a_killed_worker_fails_by_itself_under_the_next_worker(app, start_workers):
    from app.flows.models import FlowRun

    started = time.monotonic()
    first = start_workers(1)[0]
    run_id = slow_flow_run()
    wait_for(lambda: flow_run(run_id).status == "running", timeout=20, interval=0.1)
    kill_worker(first)
    second = start_workers(1)[0]
    # RQ's abandoned-job cleanup (no heartbeat for WORKER_TTL) fails the job; the flows hook closes the run
    wait_for(lambda: flow_run(run_id).status == "failed", timeout=30, interval=0.2)  # nobody opened the run
    run = flow_run(run_id)
    assert run.error.startswith("its job ended as failed without reporting:") and run.ended_at is not None
    assert "AbandonedJobError" in run.error
    assert history("flow_run", run_id) == ["failed"]
    assert db.session.scalar(select(func.count()).select_from(FlowRun)) == 1
    assert second.poll() is None
    assert time.monotonic() - started < 30


# --- a real BOM delta export whose work horse is killed ----------------------------------------

EXPORT_LINES = 12_000  # lines of each revision: the export job runs a second (SQLite) or two (PostgreSQL)


def _two_big_revisions(lines: int) -> None:
    """TOP@A and TOP@B, `lines` parts each (every other quantity changed), by bulk inserts: the
    items service takes a second per few hundred lines."""
    from app.core.timeutil import utcnow
    from app.items.models import Bom, BomLine, BomState, Item

    parts = [{"number": f"P-{i:05d}", "name": f"part {i}"} for i in range(lines)]
    db.session.execute(insert(Item), [{"number": "TOP", "name": "top", "item_type": "assembly"}, *parts])
    ids = dict(db.session.execute(select(Item.number, Item.id)).all())
    old = Bom(item_id=ids["TOP"], revision="A", state=BomState.superseded, released_at=utcnow())
    new = Bom(item_id=ids["TOP"], revision="B", state=BomState.released, released_at=utcnow())
    db.session.add_all([old, new])
    db.session.flush()
    rows = [
        {
            "bom_id": bom.id,
            "child_id": ids[f"P-{i:05d}"],
            "quantity": Decimal(quantity if i % 2 else 1),
            "unit": "EA",
            "find_number": 10 * (i + 1),
            "refdes": f"R{i}",
            "note": "",
        }
        for bom, quantity in ((old, 1), (new, 2))
        for i in range(lines)
    ]
    db.session.execute(insert(BomLine), rows)
    db.session.commit()


def _exports() -> list[tuple]:
    from app.items.models import BomExport

    db.session.expire_all()
    rows = db.session.scalars(select(BomExport).order_by(BomExport.id))
    return [(e.status, e.error, e.content is not None) for e in rows]


@pytest.mark.config(BOM_EXPORT_SYNC_MAX_LINES=100, SWEEP_SECONDS=1)
def test_an_export_whose_horse_is_killed_mid_job_fails_with_a_reason_and_can_be_asked_again(app, worker_process):
    from app.items import exports

    started = time.monotonic()
    _two_big_revisions(EXPORT_LINES)
    export = exports.export_delta("TOP@A", "TOP@B", "by_item", 1, "csv")
    db.session.commit()
    first = export.id
    wait_for(lambda: _exports()[0][0] == "running", timeout=20, interval=0.05)
    kill_horse(worker_process)
    # the worker fails the job (WorkHorseKilled); the sweeper's items hook fails the export, saying why
    wait_for(lambda: _exports()[0][0] == "failed", timeout=20, interval=0.2)
    assert _exports() == [
        (
            "failed",
            "its job ended as failed without finishing: app.core.jobs.worker.WorkHorseKilled: exit status 9",
            False,
        )
    ]
    again = exports.export_delta("TOP@A", "TOP@B", "by_item", 1, "csv")
    db.session.commit()
    assert again.id != first
    # the job commits the export done, then its success callback closes the history row
    wait_for(lambda: history("bom_export", again.id) == ["finished"], timeout=30, interval=0.2)
    assert [status for status, _, _ in _exports()] == ["failed", "done"] and _exports()[1][2]
    assert exports.download(again.id).content.count(b"\n") > EXPORT_LINES // 2  # the changed lines, and a header
    assert history("bom_export", first) == ["failed"]
    assert worker_process.poll() is None
    assert time.monotonic() - started < 40
