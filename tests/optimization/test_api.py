"""The JSON API: submit, status, list, cancel, export, re-run and datasets, with
auth, ownership and bad input; jobs run on real Redis with real workers."""

import csv
import io
import json
import logging
import zipfile

import pytest
from prometheus_client import REGISTRY
from rq.job import Job

from app.core.jobs.models import JobRecord
from app.extensions import db
from app.optimization import datasets
from app.optimization.models import Optimization, OptimizationTask
from app.optimization.strategies import STRATEGIES, Indicators
from tests.conftest import run_worker, wait_for
from tests.optimization.factory import submit_body

API = "/api/v1/optimizations"


def submit(client, headers, body):
    response = client.post(API, json=body, headers=headers)
    assert response.status_code == 202, response.json
    return response.json


def status(client, headers, job_id):
    return client.get(f"{API}/{job_id}/status", headers=headers).json


def test_submit_run_and_status_match_the_kernel(app, client, bearer, demo_dataset):
    headers = bearer("engineer")
    job = submit(client, headers, submit_body(demo_dataset.id))
    assert (job["status"], job["summary"]["total"], job["summary"]["skipped"]) == ("queued", 21, 3)
    assert (job["summary"]["gridSize"], job["runOrderSeed"]) == (24, None)  # no early stop: grid order
    run_worker(app, ["optimize"])
    result = status(client, headers, job["id"])
    assert result["status"] == "succeeded"
    assert {k: result["summary"][k] for k in ("total", "finished", "failed", "skipped")} == {
        "total": 21,
        "finished": 21,
        "failed": 0,
        "skipped": 3,
    }
    bars = datasets.demo_series(400)
    sma = STRATEGIES["sma_cross"]
    expected = sorted(
        (sma.backtest(Indicators(bars), {"n1": a, "n2": b}, 10_000).metrics["return_pct"], (a, b))
        for a in range(5, 31, 5)
        for b in (20, 40, 60, 80)
        if a < b
    )[::-1][:3]
    assert [(t["score"], (t["params"]["n1"], t["params"]["n2"])) for t in result["summary"]["topN"]] == [
        (pytest.approx(score), params) for score, params in expected
    ]
    assert result["bestScore"] == pytest.approx(expected[0][0])


@pytest.mark.dialects  # two workers merge chunks into one row at once (locking)
@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=40)
def test_two_workers_share_the_chunks(app, client, bearer, demo_dataset, start_workers):
    headers = bearer("engineer")
    start_workers(2, queues="optimize")
    job = submit(
        client,
        headers,
        submit_body(
            demo_dataset.id,
            paramSpace={"n1": {"start": 2, "stop": 40, "step": 1}, "n2": {"start": 50, "stop": 150, "step": 10}},
        ),
    )
    assert job["summary"]["total"] == 39 * 11
    wait_for(lambda: status(client, headers, job["id"])["status"] == "succeeded", timeout=60)
    assert status(client, headers, job["id"])["summary"]["finished"] == 39 * 11

    def records():
        db.session.expire_all()
        return db.session.query(JobRecord).filter_by(entity="optimization", entity_id=str(job["id"])).all()

    wait_for(lambda: {r.status for r in records()} == {"finished"})  # history closes just after the last merge
    assert len(records()) == 11
    workers = {Job.fetch(r.id, connection=app.extensions["redis"]).worker_name for r in records()}
    assert len(workers) == 2
    assert db.session.query(OptimizationTask).filter_by(optimization_id=job["id"]).count() == 39 * 11


def test_cancel_stops_new_tasks_within_two_seconds(app, client, bearer, demo_dataset, worker_process):
    headers = bearer("engineer")
    job = submit(
        client,
        headers,
        submit_body(
            demo_dataset.id,
            strategy="rsi_reversion",
            paramSpace={
                "period": {"start": 2, "stop": 60, "step": 1},
                "lower": {"start": 5, "stop": 45, "step": 1},
                "upper": {"start": 55, "stop": 95, "step": 5},
            },
        ),
    )
    wait_for(lambda: status(client, headers, job["id"])["summary"]["finished"] > 0, timeout=30)
    response = client.post(f"{API}/{job['id']}/cancel", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "canceled"
    frozen = response.json["summary"]

    def settled():
        db.session.expire_all()
        rows = db.session.query(JobRecord).filter_by(entity="optimization", entity_id=str(job["id"])).all()
        return all(r.status in ("finished", "canceled") for r in rows)

    wait_for(settled, timeout=2.5)
    assert status(client, headers, job["id"])["summary"] == frozen
    assert client.post(f"{API}/{job['id']}/cancel", headers=headers).status_code == 409


def test_early_stop_by_max_tasks_on_a_worker(app, client, bearer, demo_dataset):
    headers = bearer("engineer")
    job = submit(
        client,
        headers,
        submit_body(demo_dataset.id, earlyStopPolicy={"mode": "min", "metric": "max_drawdown_pct", "maxTasks": 7}),
    )
    run_worker(app, ["optimize"])
    result = status(client, headers, job["id"])
    assert (result["status"], result["stopReason"]) == ("early-stopped", "maxTasks 7 reached")
    assert result["summary"]["finished"] + result["summary"]["failed"] == 7
    scores = [t["score"] for t in result["summary"]["topN"]]
    assert scores == sorted(scores)  # min mode: lowest first


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_export_zip_is_built_from_stored_results(app, client, bearer, demo_dataset, caplog):
    headers = bearer("engineer")
    exports, skipped, finished = (
        sample("optimization_export_seconds_count"),
        sample("optimization_tasks_total", status="skipped"),
        sample("optimization_tasks_total", status="finished"),
    )
    job = submit(client, headers, submit_body(demo_dataset.id))
    with caplog.at_level(logging.WARNING, logger="app.optimization.service"):
        early = client.get(f"{API}/{job['id']}/export", headers=headers)
    assert early.status_code == 409 and early.json["error"]["code"] == "conflict"
    logged = [json.loads(r.getMessage()) for r in caplog.records if "optimization_export_failed" in r.getMessage()]
    assert logged == [
        {
            "event": "optimization_export_failed",
            "optimization": job["id"],
            "code": "conflict",
            "message": early.json["error"]["message"],
        }
    ]

    run_worker(app, ["optimize"])
    response = client.get(f"{API}/{job['id']}/export", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["dataset"]["checksum"] == demo_dataset.checksum
    assert manifest["policy"]["metric"] == "return_pct" and manifest["optimization"]["id"] == job["id"]
    assert manifest["optimization"]["runOrderSeed"] is None  # no early stop: grid order
    rows = list(csv.DictReader(io.StringIO(archive.read("results.csv").decode())))
    top = status(client, headers, job["id"])["summary"]["topN"]
    assert [int(r["taskId"]) for r in rows] == [t["taskId"] for t in top] and rows[0]["rank"] == "1"
    for entry in top:
        equity = list(csv.reader(io.StringIO(archive.read(f"tasks/{entry['taskId']}/equity.csv").decode())))
        assert equity[0] == ["Date", "Equity"] and len(equity) == 401
        trades = archive.read(f"tasks/{entry['taskId']}/trades.csv").decode().splitlines()
        assert trades[0].startswith("entryDate,exitDate")
    assert sorted(manifest["files"]) == sorted(n for n in archive.namelist() if n != "manifest.json")
    assert sample("optimization_export_seconds_count") == exports + 2  # the failed attempt counts too
    assert sample("optimization_tasks_total", status="skipped") == skipped + 3
    assert sample("optimization_tasks_total", status="finished") == finished + 21


def test_rerun_whole_or_one_combination_records_the_source(app, client, bearer, demo_dataset):
    headers = bearer("engineer")
    job = submit(client, headers, submit_body(demo_dataset.id))
    run_worker(app, ["optimize"])
    best = status(client, headers, job["id"])["summary"]["topN"][0]
    whole = client.post(f"{API}/{job['id']}/rerun", headers=headers)
    single = client.post(f"{API}/{job['id']}/rerun", json={"taskId": best["taskId"]}, headers=headers)
    assert whole.status_code == single.status_code == 202
    assert whole.json["sourceJobId"] == single.json["sourceJobId"] == job["id"]
    assert whole.json["paramSpace"] == job["paramSpace"] and whole.json["summary"]["total"] == 21
    assert single.json["summary"]["total"] == 1
    run_worker(app, ["optimize"])
    again = status(client, headers, single.json["id"])
    assert again["summary"]["topN"][0]["score"] == pytest.approx(best["score"])
    listed = client.get(API, headers=headers).json
    assert [o["id"] for o in listed["optimizations"]] == [single.json["id"], whole.json["id"], job["id"]]
    assert client.post(f"{API}/{job['id']}/rerun", json={"taskId": 10**9}, headers=headers).status_code == 404


def test_only_the_owner_or_an_admin_sees_and_acts(app, client, bearer, demo_dataset):
    owner, other, admin, viewer = bearer("engineer"), bearer("engineer"), bearer("admin"), bearer("viewer")
    job = submit(client, owner, submit_body(demo_dataset.id))
    for method, path in [("GET", ""), ("GET", "/status"), ("GET", "/export"), ("POST", "/cancel"), ("POST", "/rerun")]:
        response = client.open(f"{API}/{job['id']}{path}", method=method, headers=other)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found", path
    assert client.get(API, headers=other).json["paging"]["total"] == 0
    assert client.get(f"{API}/{job['id']}/status", headers=admin).status_code == 200
    assert client.get(API, headers=admin).json["paging"]["total"] == 1
    assert client.post(API, json=submit_body(demo_dataset.id), headers=viewer).status_code == 403
    assert client.post(f"{API}/{job['id']}/cancel", headers=viewer).status_code == 403
    assert client.post(f"{API}/{job['id']}/cancel", headers=admin).json["status"] == "canceled"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"strategy": "martingale"}, "strategy"),
        ({"paramSpace": {"n1": {"start": 5, "stop": 1, "step": 1}, "n2": [20]}}, "paramSpace.n1"),
        ({"paramSpace": {"n1": [5]}}, "paramSpace"),
        ({"paramSpace": {"n1": "5..10", "n2": [20]}}, "paramSpace.n1"),
        ({"earlyStopPolicy": {"mode": "sideways", "metric": "return_pct"}}, "earlyStopPolicy.mode"),
        ({"earlyStopPolicy": {"mode": "max", "metric": "return_pct", "patience": 0}}, "earlyStopPolicy.patience"),
        ({"topN": 0}, "topN"),
        ({"dataset": 987654}, "dataset"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_input_gets_the_error_shape_and_saves_nothing(app, client, bearer, demo_dataset, change, field):
    response = client.post(API, json=submit_body(demo_dataset.id, **change), headers=bearer("engineer"))
    assert response.status_code in (404, 422)
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    fields = [f["field"] for f in error["details"].get("fields", [])] + [error["details"].get("field")]
    assert any(f and f.startswith(field) for f in fields), error
    assert db.session.query(Optimization).count() == 0 and db.session.query(JobRecord).count() == 0


def test_validation_details_name_clean_paths_and_what_each_field_allows(app, client, bearer, demo_dataset):
    """No pydantic union tags (`list[union[int,float]]`, `RangeIn`) in the paths or messages."""
    body = submit_body(
        demo_dataset.id,
        paramSpace={"n1": {"start": 5, "stop": 20, "step": 0}, "n2": [20, "forty"]},
        topN=100000,
        cash=1e308,
    )
    response = client.post(API, json=body, headers=bearer("engineer"))
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["details"]["fields"] == [
        {"field": "paramSpace.n1.step", "message": "n1 step must be a number greater than 0."},
        {"field": "paramSpace.n2.1", "message": "n2 #2 must be a number."},
        {"field": "topN", "message": "Top-N must be a whole number from 1 to 100."},
        {"field": "cash", "message": "Cash must be a number greater than 0 and at most 1e12."},
    ]
    assert error["message"].startswith("4 fields need a change: n1 step must be a number greater than 0.")
    assert "union" not in response.get_data(as_text=True) and "RangeIn" not in response.get_data(as_text=True)
    neither = client.post(
        API, json=submit_body(demo_dataset.id, paramSpace={"n1": "5..10", "n2": [20]}), headers=bearer("engineer")
    )
    assert neither.json["error"]["details"]["fields"] == [
        {"field": "paramSpace.n1", "message": "n1 must be a list of numbers or {start, stop, step}."}
    ]
    big = {"n1": {"start": 1, "stop": 1000, "step": 1}, "n2": {"start": 2, "stop": 1000, "step": 1}}
    grid = client.post(API, json=submit_body(demo_dataset.id, paramSpace=big), headers=bearer("engineer")).json["error"]
    assert grid["message"].startswith("The grid has 999,000 points (1,000 n1 × 999 n2); at most 100,000 are allowed")
    assert (grid["details"]["field"], grid["details"]["points"], grid["details"]["limit"]) == (
        "paramSpace",
        999000,
        100000,
    )


def test_dataset_upload_reports_bad_rows_and_lists_good_ones(app, client, bearer):
    headers = bearer("engineer")
    good = datasets.to_csv(datasets.demo_series(50))
    bad = good.replace(good.splitlines()[3], "2019-01-03,1,0.5,2,1,100", 1)
    response = client.post(f"{API}/datasets", json={"name": "broken", "csv": bad}, headers=headers)
    assert response.status_code == 422
    assert response.json["error"]["details"]["bad_rows"][0]["line"] == 4
    created = client.post(f"{API}/datasets", json={"name": "walk", "csv": good}, headers=headers)
    assert created.status_code == 201 and created.json["rows"] == 50
    listed = client.get(f"{API}/datasets", headers=bearer("viewer")).json["datasets"]
    assert [d["name"] for d in listed] == ["walk"]
    strategies = client.get(f"{API}/strategies", headers=headers).json
    assert [s["name"] for s in strategies["strategies"]] == ["sma_cross", "rsi_reversion"]


def test_dataset_csv_the_csv_module_refuses_is_a_422_and_a_lone_cr_ends_a_line(app, client, bearer):
    """Found by the API fuzz (a random seed): a CR inside an unquoted field was a 500."""
    headers = bearer("engineer")
    good = datasets.to_csv(datasets.demo_series(50))
    mac = good.replace("\n", "\r")  # old Mac line ends: the same file
    created = client.post(f"{API}/datasets", json={"name": "mac", "csv": mac}, headers=headers)
    assert created.status_code == 201 and created.json["rows"] == 50
    stray = good.replace("2019-01-03,", "2019-01-03\rx,", 1)  # a CR in a field: one more (bad) line
    answer = client.post(f"{API}/datasets", json={"name": "stray", "csv": stray}, headers=headers)
    assert answer.status_code == 422 and answer.json["error"]["details"]["bad_rows"]
    huge = good + "2030-01-01," + "9" * 200_000 + ",1,1,1,1\n"  # over the csv module's field limit
    answer = client.post(f"{API}/datasets", json={"name": "huge", "csv": huge}, headers=headers)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["details"]["line"] == 52 and "field limit" in answer.json["error"]["message"]
    assert [d["name"] for d in client.get(f"{API}/datasets", headers=headers).json["datasets"]] == ["mac"]


def test_the_run_order_seed_is_taken_checked_and_returned(app, client, bearer, demo_dataset):
    headers = bearer("engineer")
    policy = {"mode": "max", "metric": "return_pct", "patience": 4}
    job = submit(client, headers, submit_body(demo_dataset.id, earlyStopPolicy=policy, runOrderSeed=11))
    assert job["runOrderSeed"] == 11 and client.get(f"{API}/{job['id']}", headers=headers).json["runOrderSeed"] == 11
    drawn = submit(client, headers, submit_body(demo_dataset.id, earlyStopPolicy=policy))
    assert isinstance(drawn["runOrderSeed"], int)
    count = db.session.query(Optimization).count()
    for bad in (-1, 2**31, "x"):
        response = client.post(API, json=submit_body(demo_dataset.id, runOrderSeed=bad), headers=headers)
        assert response.status_code == 422 and response.json["error"]["details"], bad
    assert db.session.query(Optimization).count() == count
