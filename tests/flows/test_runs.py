"""Flow runs on a real RQ worker over real Redis; the web side answers the
monitoring API from the run's snapshot while it runs and from the database
once it has ended."""

import re
import threading

import pytest

from app.core.jobs import history
from app.core.jobs.models import JobRecord
from app.extensions import db
from app.flows.demo import EXAMPLE, SENSOR_ROUTER
from app.flows.models import FlowDefinition, FlowRun
from tests.conftest import run_worker, sign_in, wait_for
from tests.helpers import next_event, send, until_live

API = "/api/v1"
MONITORING = ("state", "metrics", "trace", "queues/status", "routines/status", "monitoring")


def start(client, bearer, document=EXAMPLE, wait_for_input=0):
    flow_id = client.post(f"{API}/flows", json={"document": document}, headers=bearer("engineer")).json["id"]
    response = client.post(
        f"{API}/flows/{flow_id}/runs", json={"wait_for_input": wait_for_input}, headers=bearer("operator")
    )
    assert response.status_code == 202 and response.json["status"] == "pending"
    return flow_id, response.json["job_id"]


@pytest.mark.dialects  # the run's JSON state written and read back
def test_a_run_on_a_worker_ends_with_its_state_persisted(app, client, bearer):
    _, job_id = start(client, bearer)
    viewer = bearer("viewer")
    pending = client.get(f"{API}/jobs/{job_id}/monitoring", headers=viewer).json
    assert pending["status"] == "pending" and pending["routines"]["weigh"]["executions"] == 0
    assert pending["queues"]["weigh"]["in"]["max_length"] == 1000

    run_worker(app, queues=("flows",))

    state = client.get(f"{API}/jobs/{job_id}/state", headers=viewer).json
    assert state["status"] == "completed" and state["active_routines"] == [] and state["flow"] == "scrap-report"
    routines = client.get(f"{API}/jobs/{job_id}/metrics", headers=viewer).json["routines"]
    assert routines["big"]["items_in"] == 4 and routines["weigh"]["items_in"] == 2
    assert all(r["errors"] == 0 and r["executions"] >= 1 for r in routines.values())
    trace = client.get(f"{API}/jobs/{job_id}/trace?limit=3", headers=viewer).json["trace"]
    assert len(trace) == 3 and trace[-1]["routine"] == "report" and trace[0]["started_at"].endswith("Z")
    queues = client.get(f"{API}/jobs/{job_id}/queues/status", headers=viewer).json["queues"]
    # the aggregator emits its totals once per activation
    assert queues["report"]["in"]["total_count"] == routines["total"]["executions"]
    assert queues["report"]["in"]["unconsumed_count"] == 0 and queues["report"]["in"]["pressure_level"] == "low"
    one = client.get(f"{API}/jobs/{job_id}/routines/weigh/queue-status", headers=viewer).json
    assert one["routine"] == "weigh" and set(one["slots"]) == {"in"}
    statuses = client.get(f"{API}/jobs/{job_id}/routines/status", headers=viewer).json["routines"]
    assert statuses["total"] == {"status": "idle", "active": False}

    db.session.expire_all()
    run = db.session.query(FlowRun).one()
    assert run.status == "completed" and run.state["routines"]["report"]["last"][-1]["count"] == 2
    assert db.session.get(JobRecord, job_id).status == "finished"
    conflict = client.post(f"{API}/flow-runs/{job_id}/pause", headers=bearer("operator"))
    assert conflict.status_code == 409
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'flow_runs_total{status="completed"}' in metrics
    assert 'routine_executions_total{flow="scrap-report",routine="weigh",status="ok"}' in metrics


def test_run_page_draws_the_graph_with_counts_and_bars(app, client, bearer, signed_in):
    _, job_id = start(client, bearer)
    run_worker(app, queues=("flows",))
    browser, _ = signed_in("viewer")
    page = browser.get(f"/flows/runs/{job_id}").get_data(as_text=True)
    assert f'data-live-topic="flow-run:{job_id}"' in page and "<svg" in page
    assert 'data-slot="weigh.in"' in page and "pressure-low" in page
    assert 'id="run-status">completed' in page and "trace-body" in page
    assert "Run #" in page and "run-pause" not in page  # viewers get no controls
    assert "built-in method" not in page and re.search(
        r'<td class="num">\d+</td>\s*</tr>|<td class="num">\d+</td><td', page
    )
    panel = browser.get(f"/flows/runs/{job_id}/panel").get_data(as_text=True)
    assert panel.lstrip().startswith('<div id="run-panel"')


def test_an_ended_run_offers_no_controls_and_refuses_them_with_409(app, client, bearer, signed_in):
    api = app.test_client()  # no session cookie: the browser below has one
    _, pending_id = start(api, bearer)
    browser, _ = signed_in("operator")
    page = browser.get(f"/flows/runs/{pending_id}").get_data(as_text=True)
    forms = re.findall(r'<form method="post"[^>]*?(hidden )?data-control="(\w+)"', page)
    assert [action for hidden, action in forms if not hidden] == ["cancel"]  # pending: cancel only
    assert api.post(f"{API}/flow-runs/{pending_id}/cancel", headers=bearer("operator")).json["status"] == "canceled"
    _, job_id = start(api, bearer, EXAMPLE.replace("name: scrap-report", "name: scrap-report-2"))
    run_worker(app, queues=("flows",))
    for ended in (pending_id, job_id):  # canceled, completed
        page = browser.get(f"/flows/runs/{ended}").get_data(as_text=True)
        assert 'id="run-controls"' not in page and 'id="run-pause"' not in page and 'id="run-cancel"' not in page
        assert "data-control=" not in page and 'id="feed-form"' not in page
        for action in ("pause", "resume", "step", "cancel"):
            response = api.post(f"{API}/flow-runs/{ended}/{action}", headers=bearer("operator"))
            assert response.status_code == 409 and response.json["error"]["code"] == "conflict", action
            assert "The run has ended" in response.json["error"]["message"]


def test_a_failing_routine_fails_run_and_job(app, client, bearer):
    _, job_id = start(client, bearer, EXAMPLE.replace('"int(qty) * 0.25"', '"qty / 0"'))
    run_worker(app, queues=("flows",))
    state = client.get(f"{API}/jobs/{job_id}/monitoring", headers=bearer("viewer")).json
    assert state["status"] == "failed"
    assert "routine 'weigh' failed" in state["error"] and state["routines"]["weigh"]["status"] == "failed"
    db.session.expire_all()
    assert db.session.get(JobRecord, job_id).status == "failed"


def test_requeuing_the_job_of_an_ended_run_is_refused_and_both_stay_as_they_ended(app, client, bearer, make_user):
    from rq.registry import FailedJobRegistry

    _, job_id = start(client, bearer, EXAMPLE.replace('"int(qty) * 0.25"', '"qty / 0"'))
    run_worker(app, queues=("flows",))
    first_error = client.get(f"{API}/jobs/{job_id}/state", headers=bearer("viewer")).json["error"]
    operator = bearer("operator")
    refused = client.post(f"{API}/jobs/{job_id}/requeue", headers=operator)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "not_requeueable"
    assert "has ended (failed) and a run runs once; start a new run" in refused.json["error"]["message"]
    left = client.post(f"{API}/queues/flows/requeue-failed", headers=operator).json
    assert (left["requeued"], left["left"]) == (0, 1)
    run_worker(app, queues=("flows",))  # nothing was queued: the job and the run are as they ended
    db.session.expire_all()
    record = db.session.get(JobRecord, job_id)
    assert (record.status, record.attempts) == ("failed", 1)
    state = client.get(f"{API}/jobs/{job_id}/state", headers=operator).json
    assert state["status"] == "failed" and state["error"] == first_error

    browser = app.test_client()  # a session of its own: `client` calls the API with tokens only
    sign_in(browser, make_user("watcher", "operator").username)
    failed = browser.get("/queues/failed?queue=flows").get_data(as_text=True)
    assert 'data-role="not-requeueable"' in failed and f"/queues/jobs/{job_id}/requeue" not in failed
    job_page = browser.get(f"/queues/jobs/{job_id}").get_data(as_text=True)
    assert 'id="not-requeueable"' in job_page and f"/queues/jobs/{job_id}/requeue" not in job_page

    # requeued behind the app's back (RQ's own CLI), the job fails again and says why: never "finished"
    FailedJobRegistry("flows", connection=app.extensions["redis"]).requeue(job_id)
    run_worker(app, queues=("flows",))
    db.session.expire_all()
    record = db.session.get(JobRecord, job_id)
    assert record.status == "failed" and "has ended (failed); start a new run" in record.error
    assert client.get(f"{API}/jobs/{job_id}/state", headers=operator).json["error"] == first_error


def test_requeuing_the_failed_job_of_a_run_that_has_not_ended_runs_it_again(app, client, bearer):
    flow_id, job_id = start(client, bearer, EXAMPLE.replace('"int(qty) * 0.25"', '"qty / 0"'))
    run_worker(app, queues=("flows",))
    # as a job that failed before its run was closed leaves it; the flow is mended meanwhile
    db.session.query(FlowRun).update({"status": "running", "error": None})
    db.session.get(FlowDefinition, flow_id).document = EXAMPLE
    db.session.commit()
    assert client.post(f"{API}/jobs/{job_id}/requeue", headers=bearer("operator")).json["status"] == "queued"
    run_worker(app, queues=("flows",))
    state = client.get(f"{API}/jobs/{job_id}/state", headers=bearer("viewer")).json
    assert state["status"] == "completed" and state["error"] is None
    db.session.expire_all()
    record = db.session.get(JobRecord, job_id)
    assert (record.status, record.attempts) == ("finished", 2)


def test_a_run_whose_job_died_unreported_is_closed_from_its_job_history(app, client, bearer):
    _, job_id = start(client, bearer)
    db.session.query(FlowRun).update({"status": "running"})
    history.set_status(job_id, "stopped")  # as RQ's on_stopped leaves it after a killed work horse
    db.session.commit()
    state = client.get(f"{API}/jobs/{job_id}/state", headers=bearer("viewer")).json
    assert state["status"] == "failed" and "ended as stopped without reporting" in state["error"]
    db.session.expire_all()
    assert db.session.query(FlowRun).one().ended_at is not None


def test_unknown_runs_and_routines_answer_404(app, client, bearer):
    headers = bearer("viewer")
    for path in MONITORING:
        response = client.get(f"{API}/jobs/nope/{path}", headers=headers)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    _, job_id = start(client, bearer)
    assert client.get(f"{API}/jobs/{job_id}/routines/ghost/queue-status", headers=headers).status_code == 404
    assert client.post(f"{API}/flow-runs/{job_id}/explode", headers=bearer("operator")).status_code == 404


def test_cancel_before_the_worker_takes_it(app, client, bearer):
    _, job_id = start(client, bearer)
    operator = bearer("operator")
    assert client.post(f"{API}/flow-runs/{job_id}/pause", headers=operator).status_code == 409
    assert client.post(f"{API}/flow-runs/{job_id}/cancel", headers=operator).json["status"] == "canceled"
    run_worker(app, queues=("flows",))
    assert client.get(f"{API}/jobs/{job_id}/state", headers=operator).json["status"] == "canceled"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_live_run_paused_fed_resumed_and_canceled_from_the_web_side(app, client, bearer, connect):  # noqa: F811
    _, job_id = start(client, bearer, SENSOR_ROUTER, wait_for_input=60)
    operator = bearer("operator")
    ws = connect()
    send(ws, "subscribe", f"flow-run:{job_id}")
    until_live(ws, f"flow-run:{job_id}")

    run_while_operating(app, client, job_id, operator, drive_the_run)
    assert client.get(f"{API}/jobs/{job_id}/state", headers=operator).json["status"] == "canceled"

    seen = []
    while (event := next_event(ws, timeout=1.0)) is not None:
        seen.append(event)
    types = {e["type"] for e in seen}
    assert {
        "job_started",
        "routine_started",
        "routine_completed",
        "routine_status_change",
        "slot_queue_update",
        "trace_append",
        "job_status_change",
        "job_completed",
    } <= types
    assert all(e["topic"] == f"flow-run:{job_id}" for e in seen)
    completed = [e for e in seen if e["type"] == "routine_completed" and e["data"]["routine"] == "normal"]
    assert completed[-1]["data"]["stats"]["items_in"] == 4
    assert seen[-1]["type"] == "job_completed" and seen[-1]["data"]["status"] == "canceled"


def run_while_operating(app, client, job_id, operator, scenario):
    """The worker runs the flow in this thread (RQ needs the main thread for its
    signals) while `scenario` operates the run from the web side in another."""
    errors = []

    def operate():
        try:
            scenario(client, job_id, operator)
        except BaseException as exc:  # noqa: BLE001 (re-raised below, in the test's own thread)
            errors.append(exc)
            client.post(f"{API}/flow-runs/{job_id}/cancel", headers=operator)

    driver = threading.Thread(target=operate, daemon=True)
    driver.start()
    run_worker(app, queues=("flows",))
    driver.join(15)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_breakpoints_pause_with_the_held_data_then_step_and_resume(app, client, bearer):
    _, job_id = start(client, bearer, SENSOR_ROUTER, wait_for_input=60)
    operator = bearer("operator")
    run_while_operating(app, client, job_id, operator, break_step_and_resume)
    final = client.get(f"{API}/jobs/{job_id}/monitoring", headers=operator).json
    assert final["status"] == "canceled" and final["routines"]["warm"]["items_in"] == 2


def break_step_and_resume(client, job_id, operator):
    def state():
        return client.get(f"{API}/jobs/{job_id}/monitoring", headers=operator).json

    def post(path, **body):
        return client.post(f"{API}/flow-runs/{job_id}/{path}", json=body or None, headers=operator)

    wait_for(lambda: state()["status"] == "idle")
    assert post("breakpoints", kind="routine", target="ghost").status_code == 422
    assert post("breakpoints", kind="routine", target="warm", condition="item >").status_code == 422
    created = post("breakpoints", kind="routine", target="warm", condition="item > 55")
    assert created.status_code == 201
    breakpoint = created.json
    wait_for(lambda: [b["id"] for b in state()["breakpoints"]] == [breakpoint["id"]])
    post("feed", routine="inlet", slot="in", items=[10, 60])
    wait_for(lambda: state()["status"] == "paused")
    held = state()["held"]
    assert held["id"] == breakpoint["id"] and held["data"] == [60.0] and held["target"] == "warm"
    assert state()["routines"]["warm"]["items_in"] == 0  # the activation is held
    assert state()["routines"]["normal"]["items_in"] == 1

    assert (
        client.delete(f"{API}/flow-runs/{job_id}/breakpoints/{breakpoint['id']}", headers=operator).status_code == 204
    )
    assert post("step").status_code == 202  # one activation: the held one
    wait_for(lambda: state()["routines"]["warm"]["items_in"] == 1 and state()["status"] == "paused")
    assert state()["stepping"] is True and state()["held"] is None
    post("resume")
    post("feed", routine="inlet", slot="in", items=[61])  # the breakpoint is gone: no stop
    wait_for(lambda: state()["routines"]["warm"]["items_in"] == 2)
    assert post("cancel").status_code == 202


def drive_the_run(client, job_id, operator):
    def state():
        return client.get(f"{API}/jobs/{job_id}/monitoring", headers=operator).json

    wait_for(lambda: state()["status"] == "idle")
    metrics = client.get("/metrics").get_data(as_text=True)  # read from the snapshot of the running run
    assert 'slot_queue_usage_ratio{flow="sensor-router",routine="inlet",slot="in"} 0.0' in metrics
    feed = {"routine": "inlet", "slot": "in", "items": [10, 60, 70]}
    assert client.post(f"{API}/flow-runs/{job_id}/feed", json=feed, headers=operator).status_code == 202
    wait_for(lambda: state()["routines"]["warm"]["items_in"] == 2)
    assert state()["routines"]["normal"]["items_in"] == 1

    assert client.post(f"{API}/flow-runs/{job_id}/pause", headers=operator).status_code == 202
    wait_for(lambda: state()["status"] == "paused")
    client.post(f"{API}/flow-runs/{job_id}/feed", json={**feed, "items": [1, 2, 3]}, headers=operator)
    wait_for(lambda: state()["queues"]["inlet"]["in"]["unconsumed_count"] == 3)  # held while paused
    client.post(f"{API}/flow-runs/{job_id}/resume", headers=operator)
    wait_for(lambda: state()["routines"]["normal"]["items_in"] == 4)
    bad = client.post(f"{API}/flow-runs/{job_id}/feed", json={**feed, "slot": "nope"}, headers=operator)
    assert bad.status_code == 422
    assert client.post(f"{API}/flow-runs/{job_id}/cancel", headers=operator).status_code == 202
