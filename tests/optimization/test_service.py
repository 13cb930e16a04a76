"""The service on SQLite and PostgreSQL: grid expansion, submit, the summary
as results are merged (Top-N order, early stop by target, patience and
maxTasks, freeze), cancel and re-run."""

import pytest
from rq import Queue

from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.jobs.models import JobRecord
from app.extensions import db
from app.optimization import chunks, datasets, grid, service
from app.optimization.models import OptimizationTask
from app.optimization.strategies import STRATEGIES
from tests.conftest import run_worker
from tests.optimization.factory import results


def make_dataset(n: int = 300):
    dataset = service.create_dataset("demo", datasets.to_csv(datasets.demo_series(n)), "tester")
    db.session.commit()
    return dataset


def spec(dataset_id: int, **overrides):
    base = {
        "strategy": "sma_cross",
        "dataset": dataset_id,
        "paramSpace": {"n1": {"start": 5, "stop": 20, "step": 5}, "n2": [10, 20, 40]},
        "earlyStopPolicy": {"mode": "max", "metric": "return_pct"},
        "topN": 3,
        "cash": 10_000,
        "commission": 0.0,
    }
    return {**base, **overrides}


def outcome(seq: int, score: float | None, error: str | None = None) -> tuple:
    """A result for `results()`: a score (None: undefined), or the error of a failed point."""
    return seq, {"n1": seq + 5, "n2": 100}, error or {"return_pct": score}


# --- grid ------------------------------------------------------------------------------------


def test_grid_is_the_product_with_inclusive_ranges_and_counts_what_the_constraint_skips():
    sma = STRATEGIES["sma_cross"]
    points, skipped = grid.expand(
        sma, {"n1": {"start": 5, "stop": 50, "step": 1}, "n2": {"start": 10, "stop": 200, "step": 5}}
    )
    assert (len(points), skipped) == (1605, 46 * 39 - 1605)
    assert points[0] == {"n1": 5, "n2": 10} and points[-1] == {"n1": 50, "n2": 200}
    assert all(p["n1"] < p["n2"] for p in points)
    rsi_points, rsi_skipped = grid.expand(
        STRATEGIES["rsi_reversion"],
        {"period": [14], "lower": {"start": 20, "stop": 40, "step": 2.5}, "upper": [30.0, 70.0]},
    )
    assert [p["lower"] for p in rsi_points[::2]][:3] == [20.0, 22.5, 25.0] and rsi_skipped == 5


@pytest.mark.parametrize(
    "space, message",
    [
        ({"n1": [5]}, r"exactly those of sma_cross: n1, n2; missing: n2\."),
        ({"n1": [5], "n2": [10], "n3": [1]}, r"exactly those of sma_cross: n1, n2; unknown: n3\."),
        ({"n1": {"start": 5, "stop": 10, "step": 0}, "n2": [20]}, r"^n1 needs a step greater than 0; 0 is not\."),
        ({"n1": {"start": 10, "stop": 5, "step": 1}, "n2": [20]}, r"^n1 needs stop \(5\) at least start \(10\)\."),
        ({"n1": [5.5], "n2": [20]}, r"^n1 takes whole numbers from 1 to 1000; 5\.5 is not\."),
        ({"n1": [0], "n2": [20]}, r"^n1 takes whole numbers from 1 to 1000; 0 is not\."),
        ({"n1": [], "n2": [20]}, "^n1 needs at least one value"),
        (
            {"n1": {"start": 1, "stop": 1000, "step": 1}, "n2": {"start": 2, "stop": 1000, "step": 1}},
            r"^The grid has 999,000 points \(1,000 n1 × 999 n2\); at most 100,000 are allowed",
        ),
    ],
)
def test_bad_param_spaces_are_refused_naming_the_parameter_and_what_it_takes(space, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        grid.expand(STRATEGIES["sma_cross"], space)
    assert refused.value.details["fields"][0]["message"] == refused.value.message


# --- submit ----------------------------------------------------------------------------------


@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=3)
def test_submit_counts_the_grid_and_spreads_it_over_chunk_jobs(app, make_user):
    owner = make_user("eve", "engineer")
    job = service.submit(owner, spec(make_dataset().id))
    db.session.commit()
    assert (job.status, job.total, job.skipped, job.chunks_total) == ("queued", 8, 4, 3)
    chunks = db.session.query(JobRecord).filter_by(entity="optimization", entity_id=str(job.id)).all()
    assert len(chunks) == 3 and {c.queue for c in chunks} == {"optimize"}
    assert sorted(Queue("optimize", connection=app.extensions["redis"]).job_ids) == sorted(c.id for c in chunks)


def test_submit_refuses_bad_input_and_saves_nothing(app, make_user):
    owner = make_user("eve", "engineer")
    dataset = make_dataset()
    for bad, message in [
        ({"strategy": "martingale"}, "Strategy must be one of sma_cross, rsi_reversion; .martingale. is not"),
        ({"dataset": 999}, "No dataset"),
        ({"earlyStopPolicy": {"mode": "up", "metric": "return_pct"}}, "Mode must be max or min"),
        ({"earlyStopPolicy": {"mode": "max", "metric": "luck"}}, "Metric must be one of"),
        ({"paramSpace": {"n1": [50], "n2": [10]}}, "Every grid point breaks"),
    ]:
        with pytest.raises((InvalidInput, NotFound), match=message):
            service.submit(owner, spec(dataset.id, **bad))
        db.session.rollback()
    assert service.history(owner, 1).total == 0 and db.session.query(JobRecord).count() == 0


# --- merge -----------------------------------------------------------------------------------


def submitted(make_user, policy=None, top_n=3, owner="eve", **space):
    owner = make_user(owner, "engineer")
    job = service.submit(
        owner,
        spec(
            make_dataset().id,
            topN=top_n,
            earlyStopPolicy={"mode": "max", "metric": "return_pct", **(policy or {})},
            **space,
        ),
    )
    db.session.commit()
    return owner, job


@pytest.mark.dialects
@pytest.mark.parametrize("mode, expected", [("max", [9.0, 7.0, 5.0]), ("min", [-4.0, 1.0, 5.0])])
def test_top_n_is_ordered_by_mode_and_the_summary_is_incremental(app, make_user, mode, expected):
    owner, job = submitted(make_user, {"mode": mode})
    assert chunks.merge(job.id, results([outcome(0, 5.0), outcome(1, 9.0), outcome(2, None, "boom")]))
    assert chunks.merge(job.id, results([outcome(3, -4.0), outcome(4, 7.0), outcome(5, 1.0), outcome(6, None)]))
    job = service.get(job.id, owner)
    summary = service.summary(job)
    assert [t["score"] for t in summary["topN"]] == expected
    assert (summary["total"], summary["finished"], summary["failed"], summary["skipped"]) == (8, 6, 1, 4)
    assert job.status == "running" and job.best_score == expected[0]
    ids = [t["taskId"] for t in summary["topN"]]
    stored = db.session.query(OptimizationTask).filter_by(optimization_id=job.id).count()
    assert stored == 7 and all(
        db.session.get(OptimizationTask, i).score == s for i, s in zip(ids, expected, strict=True)
    )


@pytest.mark.dialects
def test_early_stop_by_target_freezes_the_summary(app, make_user):
    owner, job = submitted(make_user, {"target": 8.0})
    assert not chunks.merge(job.id, results([outcome(0, 5.0), outcome(1, 9.0), outcome(2, 12.0)]))
    job = service.get(job.id, owner)
    assert (job.status, job.finished, job.stop_reason) == ("early-stopped", 2, "target 8 reached")
    # the batch was saved before the lock: the result past the stop is deleted with it
    assert sorted(t.seq for t in db.session.query(OptimizationTask).filter_by(optimization_id=job.id)) == [0, 1]
    assert not chunks.merge(job.id, results([outcome(3, 50.0)]), chunk_finished=True)  # frozen: dropped
    db.session.expire_all()
    assert (job.finished, job.best_score, job.chunks_done) == (2, 9.0, 0)
    assert app.extensions["redis"].exists(service.halt_key(job))
    assert Queue("optimize", connection=app.extensions["redis"]).count == 0  # queued chunks canceled
    with pytest.raises(Conflict, match="already early-stopped"):
        service.cancel(job, owner)


def test_early_stop_by_patience_counts_finished_tasks_without_a_better_best(app, make_user):
    owner, job = submitted(make_user, {"patience": 3})
    assert chunks.merge(job.id, results([outcome(0, 1.0), outcome(1, 0.5), outcome(2, 2.0), outcome(3, 1.0)]))
    assert chunks.merge(job.id, results([outcome(4, None, "boom"), outcome(5, 1.5)]))  # a failure does not count
    assert not chunks.merge(job.id, results([outcome(6, 0.0), outcome(7, 3.0)]))
    job = service.get(job.id, owner)
    assert (job.status, job.done, job.best_score) == ("early-stopped", 7, 2.0)
    assert job.stop_reason == "no better score in 3 finished tasks"
    assert [point[0] for point in job.best_history] == [1, 3]


def test_a_merge_skips_points_saved_meanwhile_by_another_run_of_the_chunk(app, make_user):
    owner, job = submitted(make_user)
    assert chunks.merge(job.id, results([outcome(0, 1.0), outcome(1, 2.0)]))
    assert chunks.merge(job.id, results([outcome(1, 7.0), outcome(2, 3.0)]))  # seq 1 again: skipped, not counted
    job = service.get(job.id, owner)
    assert (job.finished, job.best_score) == (3, 3.0)
    saved = {t.seq: t.score for t in db.session.query(OptimizationTask).filter_by(optimization_id=job.id)}
    assert saved == {0: 1.0, 1: 2.0, 2: 3.0}


def test_early_stop_by_max_tasks_and_completion_without_a_stop(app, make_user):
    owner, job = submitted(make_user, {"maxTasks": 4})
    assert not chunks.merge(job.id, results([outcome(i, float(i)) for i in range(6)]))
    job = service.get(job.id, owner)
    assert (job.status, job.done, job.stop_reason) == ("early-stopped", 4, "maxTasks 4 reached")

    _, whole = submitted(make_user, top_n=2, owner="fay", paramSpace={"n1": [5, 10], "n2": [20]})
    assert whole.chunks_total == 1
    assert not chunks.merge(whole.id, results([outcome(0, 1.0), outcome(1, 2.0)]), chunk_finished=True)
    db.session.expire_all()
    assert (whole.status, whole.stop_reason) == ("succeeded", None) and whole.ended_at is not None


def test_only_the_top_n_keep_artifacts(app, make_user):
    from app.optimization.strategies import Indicators

    _, job = submitted(make_user, top_n=1)
    bars = datasets.demo_series(300)
    result = STRATEGIES["sma_cross"].backtest(Indicators(bars), {"n1": 5, "n2": 20}, 10_000)
    rebuilt = []

    def artifacts(params):  # the chunk runs the backtest of a result entering the Top-N again
        rebuilt.append(params["n1"] - 5)
        return chunks.artifacts_of(result, bars.dates)

    def real(seq, score):
        return (seq, {"n1": 5 + seq, "n2": 20}, {"return_pct": score})

    chunks.merge(job.id, results([real(0, 1.0)]), artifacts=artifacts)
    first = db.session.query(OptimizationTask).filter_by(seq=0).one()
    assert len(first.artifacts["equity"]["values"]) == 300 and first.artifacts["trades"]
    chunks.merge(job.id, results([real(1, 2.0), real(2, 0.5)]), artifacts=artifacts)
    db.session.expire_all()
    assert first.artifacts is None
    assert db.session.query(OptimizationTask).filter_by(seq=1).one().artifacts["trades"][0]["entryDate"]
    assert db.session.query(OptimizationTask).filter_by(seq=2).one().artifacts is None
    assert rebuilt == [0, 1]  # only what entered the Top-N was run again


def test_cancel_freezes_and_rerun_records_its_source(app, make_user):
    owner, job = submitted(make_user)
    chunks.merge(job.id, results([outcome(0, 4.0)]))
    service.cancel(job, owner)
    db.session.commit()
    service.announce(job, finalized=True)
    db.session.commit()
    db.session.expire_all()
    assert (job.status, job.stop_reason, job.finished) == ("canceled", "canceled by eve", 1)
    assert not chunks.merge(job.id, results([outcome(1, 9.0)]))
    again = service.rerun(job, owner)
    db.session.commit()
    assert (again.source_id, again.total, again.param_space) == (job.id, job.total, job.param_space)
    task = db.session.query(OptimizationTask).filter_by(optimization_id=job.id).one()
    single = service.rerun(job, owner, task.id)
    db.session.commit()
    assert (single.total, single.source_id, single.param_space) == (1, job.id, {"n1": [5], "n2": [100]})
    with pytest.raises(NotFound):
        service.rerun(job, owner, 123456)


def test_others_do_not_see_a_job_but_admins_do(app, make_user):
    _, job = submitted(make_user)
    stranger, admin = make_user("mallory", "engineer"), make_user("root", "admin")
    with pytest.raises(NotFound):
        service.get(job.id, stranger)
    assert service.get(job.id, admin).id == job.id
    assert service.history(stranger, 1).total == 0 and service.history(admin, 1).total == 1


# --- Redis keys of a run ------------------------------------------------------------------------


def test_a_halt_flag_left_by_an_earlier_database_does_not_stop_a_new_run(app, make_user):
    """The database is recreated (ids start again), Redis is not: the old run's flag, and any key
    named by the id alone, must not halt the new run that got the same id."""
    from sqlalchemy import delete

    from app.optimization import jobs
    from app.optimization.models import Optimization

    connection = app.extensions["redis"]
    owner, old = submitted(make_user)
    service.cancel(old, owner)
    db.session.commit()
    service.announce(old, finalized=True)  # sets the old run's halt flag
    db.session.commit()
    old_flag = service.halt_key(old)
    assert connection.exists(old_flag) and 0 < connection.ttl(old_flag) <= service.HALT_TTL

    db.session.execute(delete(OptimizationTask))  # "a fresh database file"
    db.session.execute(delete(JobRecord))
    db.session.execute(delete(Optimization))
    db.session.commit()
    new = service.submit(owner, spec(make_dataset().id))
    db.session.commit()
    for stale in (f"optimization:{new.id}:halt", f"forgeline:optimization:{new.id}:halt"):  # id-named, as before
        connection.set(stale, 1)
    assert new.run_token != old.run_token and service.halt_key(new) != old_flag
    assert service.halt_key(new).startswith(f"{app.config['REDIS_NAMESPACE']}:")

    assert jobs.run_chunk(new.id, 0, 3)["merged"] == 3  # it ran
    connection.set(service.halt_key(new), 1)  # its own flag does stop it
    assert jobs.run_chunk(new.id, 3, 6) == {"merged": 0}


@pytest.mark.config(OPTIMIZATION_FLUSH_SECONDS=0)
def test_a_chunk_that_loses_the_database_re_raises_without_failing_its_points(app, make_user, monkeypatch):
    """The merge hits a database gone away (a network cut); were chunk_failed() to reach it back up a
    moment later, it would save the chunk's points as failed for good. The job fails instead and the
    sweeper resumes the chunk."""
    from sqlalchemy.exc import OperationalError

    from app.optimization import jobs

    _, job = submitted(make_user)
    real_merge, calls = chunks.merge, []

    def merge_once_down(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(chunks, "merge", merge_once_down)
    with pytest.raises(OperationalError):
        jobs.run_chunk(job.id, 0, 3)
    db.session.rollback()
    assert len(calls) == 1  # no chunk_failed() merge after it
    assert db.session.query(OptimizationTask).filter_by(optimization_id=job.id).count() == 0


# --- run order, numbers that add up, zero-trade warnings --------------------------------------

WIDE = {"paramSpace": {"n1": {"start": 2, "stop": 41, "step": 1}, "n2": [50, 60]}}  # 80 points


def test_an_early_stop_policy_runs_the_grid_in_a_seeded_shuffled_order(app, make_user):
    """In grid order, patience judges one corner (n1 = 2, 3 first); shuffled, the first tasks come
    from all over the grid, seq i is point in_run_order(points, seed)[i], and a re-run keeps the order."""
    from app.optimization import jobs

    owner = make_user("eve", "engineer")
    dataset = make_dataset()
    policy = {"mode": "max", "metric": "return_pct", "patience": 5}
    job = service.submit(owner, spec(dataset.id, earlyStopPolicy=policy, runOrderSeed=7, **WIDE))
    drawn = service.submit(owner, spec(dataset.id, earlyStopPolicy=policy, **WIDE))
    plain = service.submit(owner, spec(dataset.id, **WIDE))
    db.session.commit()
    assert job.run_order_seed == 7 and drawn.run_order_seed is not None and plain.run_order_seed is None
    points = grid.expand(STRATEGIES["sma_cross"], WIDE["paramSpace"])[0]
    order = grid.in_run_order(points, 7)
    assert order == grid.in_run_order(points, 7) != points and sorted(map(str, order)) == sorted(map(str, points))
    assert grid.in_run_order(points, None) is points

    jobs.run_chunk(job.id, 0, job.total)
    db.session.expire_all()
    tasks = db.session.query(OptimizationTask).filter_by(optimization_id=job.id).order_by(OptimizationTask.seq).all()
    assert job.status == "early-stopped" and len(tasks) < job.total
    assert [t.params for t in tasks] == order[: len(tasks)]
    assert max(t.params["n1"] for t in tasks) - min(t.params["n1"] for t in tasks) > 20  # not one corner
    jobs.run_chunk(plain.id, 0, 6)
    assert [t.params for t in db.session.query(OptimizationTask).filter_by(optimization_id=plain.id)] == points[:6]
    assert service.rerun(job, owner).run_order_seed == 7


@pytest.mark.parametrize(
    ("strategy", "space"),
    [
        ("sma_cross", {"n1": {"start": 2, "stop": 60, "step": 1}, "n2": [10, 5, 40, 61]}),
        ("rsi_reversion", {"period": [14, 3], "lower": [30, 70.5, 50], "upper": {"start": 30, "stop": 71, "step": 1}}),
    ],
)
def test_the_grid_counted_and_kept_as_columns_is_the_expanded_grid(strategy, space):
    """Submit counts the grid and a worker keeps it as arrays (the constraint evaluated once on them):
    the same points, types and run order as expand()."""
    s = STRATEGIES[strategy]
    points, skipped = grid.expand(s, space)
    assert grid.count(s, space) == (len(points), skipped) and skipped > 0
    for seed in (None, 7):
        columns = grid.columns_in_run_order(s, space, seed)
        ordered = grid.in_run_order(points, seed)
        expected = s.columns(ordered)
        assert [c.dtype for c in columns] == [c.dtype for c in expected]  # ints for whole-number parameters
        assert [c.tolist() for c in columns] == [c.tolist() for c in expected]


def test_the_grid_numbers_add_up(app, make_user):
    owner = make_user("eve", "engineer")
    space = {"paramSpace": {"n1": {"start": 1, "stop": 50, "step": 1}, "n2": {"start": 2, "stop": 41, "step": 1}}}
    job = service.submit(owner, spec(make_dataset().id, **space))
    db.session.commit()
    assert service.grid_text(job) == "2,000 grid points: 1,180 skipped (n1 ≥ n2), 820 to run"
    numbers = service.summary(job)
    assert numbers["gridSize"] == numbers["skipped"] + numbers["total"] == 2000
    shuffled = service.submit(
        owner, spec(make_dataset().id, earlyStopPolicy={"mode": "max", "metric": "sharpe", "maxTasks": 9}, **space)
    )
    assert service.grid_text(shuffled).endswith(f"820 to run, in shuffled order (seed {shuffled.run_order_seed})")


def test_zero_trade_results_in_the_top_n_are_flagged(app, make_user):
    owner, job = submitted(make_user)
    idle = (0, {"n1": 5, "n2": 10}, {"return_pct": 0.0, "trades": 0})
    traded = (1, {"n1": 5, "n2": 20}, {"return_pct": -2.0, "trades": 4})
    chunks.merge(job.id, results([idle, traded]))
    top = service.summary(service.get(job.id, owner))["topN"]
    assert [(t["score"], t["zeroTrades"]) for t in top] == [(0.0, True), (-2.0, False)]


def test_chunks_are_sized_by_the_backtest_time_the_workers_measured(app, make_user):
    owner = make_user("eve", "engineer")
    dataset = make_dataset()
    space = {"n1": {"start": 2, "stop": 60, "step": 1}, "n2": {"start": 10, "stop": 200, "step": 2}}
    before = service.submit(owner, spec(dataset.id, paramSpace=space))
    db.session.commit()
    fixed, per_bar = service.DEFAULT_SECONDS_PER_POINT
    expected = int(service.CHUNK_SECONDS / (fixed + per_bar * 300))
    assert before.chunks_total == -(-before.total // expected)  # no measurement yet: the default
    run_worker(app, ["optimize"])  # the chunks record what their backtests took
    measured = float(app.extensions["redis"].get(service._rate_key("sma_cross", dataset.checksum)))
    assert 0 < measured < 0.1
    assert service.chunk_points("sma_cross", dataset) == max(
        service.MIN_CHUNK_POINTS, min(service.MAX_CHUNK_POINTS, int(service.CHUNK_SECONDS / measured))
    )
    service.record_rate("sma_cross", dataset.checksum, 1000, 1.0)  # 1 ms a point: 1,500 points a chunk
    after = service.submit(owner, spec(dataset.id, paramSpace=space))
    db.session.commit()
    assert after.chunks_total == -(-after.total // 1500)
    service.record_rate("sma_cross", dataset.checksum, 1000, 100.0)  # slow: the smallest chunks
    assert service.chunk_points("sma_cross", dataset) == service.MIN_CHUNK_POINTS


def test_time_sized_chunks_come_in_a_multiple_of_the_optimize_workers(app, make_user):
    from rq import Worker

    owner, dataset = make_user("eve", "engineer"), make_dataset()
    connection = app.extensions["redis"]
    service.record_rate("sma_cross", dataset.checksum, 1000, 1.0)  # 1,500 points a chunk
    space = {"n1": {"start": 2, "stop": 60, "step": 1}, "n2": {"start": 10, "stop": 200, "step": 2}}
    alone = service.submit(owner, spec(dataset.id, paramSpace=space))
    assert alone.chunks_total == -(-alone.total // 1500) == 4  # no worker registered: as sized (4,988 points)
    workers = [Worker([Queue("optimize", connection=connection)], connection=connection) for _ in range(3)]
    for worker in workers:
        worker.register_birth()
    try:
        shared = service.submit(owner, spec(dataset.id, paramSpace=space))
    finally:
        for worker in workers:
            worker.register_death()
    assert shared.chunks_total == 6  # 4 rounded up to a multiple of 3 workers
    assert [last - first for first, last in service.chunk_ranges(shared)][0] <= 1500
    db.session.commit()


@pytest.mark.parametrize("mode", ["max", "min"])
def test_a_full_top_n_takes_only_what_beats_its_last_entry_ties_by_task_number(app, make_user, mode):
    owner, job = submitted(make_user, {"mode": mode})
    better = 1 if mode == "max" else -1
    assert chunks.merge(job.id, results([outcome(4, 5.0 * better), outcome(5, 4.0 * better), outcome(6, 3.0 * better)]))
    # seq 1 ties the last entry (3) and comes first in task order; seq 2 and 3 do not make it
    assert chunks.merge(job.id, results([outcome(1, 3.0 * better), outcome(2, 2.0 * better), outcome(3, 2.9 * better)]))
    job = service.get(job.id, owner)
    assert [(t["seq"], t["score"]) for t in job.top] == [(4, 5.0 * better), (5, 4.0 * better), (1, 3.0 * better)]
    assert job.best_score == 5.0 * better and [point[0] for point in job.best_history] == [1]
