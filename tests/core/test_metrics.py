"""/metrics: what Prometheus and `flask metrics-check` rely on.

In-process tests (on SQLite and PostgreSQL) pin each metric's meaning; the
live tests check what only real processes show: gunicorn with two web
processes and an RQ worker, merged through PROMETHEUS_MULTIPROC_DIR.
"""

import http.server
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar
from unittest.mock import Mock

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, Worker
from rq.worker import WorkerStatus

from app import create_app, gunicorn_conf
from app.breakages.models import HelpdeskStatus, IncidentStatus
from app.config import ROOT
from app.consumption.models import InboxState
from app.core import audit, jobs
from app.core.audit.models import AuditEntry
from app.core.capability import queue_names
from app.core.jobs.models import JobRecord
from app.core.metrics import JOB_EXEC_BUCKETS, REQUIRED_METRICS
from app.core.timeutil import utcnow
from app.docsync.models import SyncStatus
from app.eco.models import ACTIONS
from app.eco.models import RUN_STATUSES as ACTION_RUN_STATUSES
from app.extensions import db
from app.flows.models import RUN_STATUSES
from app.items.models import ExportStatus
from app.ops.gauges import JOB_AREAS, WINDOWS
from app.optimization.metrics import TASK_OUTCOMES
from app.optimization.models import OptimizationStatus
from app.queues.jobs import demo_job
from app.queues.service import STATUSES
from app.workorders.models import PackStatus
from tests.conftest import app_config, run_worker
from tests.httprecorder import recording

DEMO_JOB = "app.queues.jobs.demo_job"

pytest_plugins = ["tests.liveserver"]

# the `status` label of domain metrics (any other `status` is an HTTP status)
DOMAIN_STATUSES = {
    "rq_jobs": STATUSES,
    "flow_runs": RUN_STATUSES,
    "routine_executions": ("ok", "error"),
    "optimization_tasks": TASK_OUTCOMES,
    "workflow_action_runs": ACTION_RUN_STATUSES,
    "doc_sync_jobs": tuple(SyncStatus),  # seen when docsync tests ran earlier in the same process
    "breakage_helpdesk_sends": tuple(HelpdeskStatus),
    # the parallel-ops gauges: each area's own set (app/ops/gauges.py)
    "ops_jobs": (*SyncStatus, *ACTION_RUN_STATUSES, *RUN_STATUSES, *OptimizationStatus, *ExportStatus, *PackStatus),
    "ops_breakage_incidents": tuple(IncidentStatus),
    "ops_breakage_helpdesk_sends": tuple(HelpdeskStatus),
}

WORKER_STATES = {status.value for status in WorkerStatus}  # RQ's own: started, idle, busy, suspended
# the `state` label, per metric
STATES = {"rq_workers": WORKER_STATES, "consumption_inbox_events": {state.value for state in InboxState}}
HEX_ID = re.compile(r"[0-9a-f]{8,}|[0-9a-f]{8}-[0-9a-f]{4}-", re.IGNORECASE)


# --- reading an exposition ------------------------------------------------------------------


class Scrape:
    """A parsed exposition: samples by (sample name, labels), and family types."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = list(text_string_to_metric_families(text))  # raises when it does not parse
        self.types = {f.name: f.type for f in self.families}
        self.samples = [(s.name, s.labels, s.value) for f in self.families for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples named `name` whose labels include `labels`."""
        return sum(v for n, lab, v in self.samples if n == name and labels.items() <= lab.items())

    def series(self, name: str) -> list[dict[str, str]]:
        return [lab for n, lab, _ in self.samples if n == name]


def scrape(client, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return Scrape(response.get_data(as_text=True))


def live_get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def live_scrape(live_server) -> Scrape:
    status, body = live_get(f"{live_server.url}/metrics")
    assert status == 200
    return Scrape(body.decode())


# --- in process ---------------------------------------------------------------------------------


def test_requests_are_counted_by_method_route_rule_and_status(app, client, bearer):
    job_id = uuid.uuid4().hex
    headers = bearer("operator")
    before = scrape(client)
    assert client.get(f"/api/v1/jobs/{job_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 401  # stopped by the sign-in gate
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers).status_code == 404
    assert client.get(f"/no/such/page/{job_id}").status_code == 404  # no route at all
    for _ in range(3):
        assert client.get("/health").status_code == 200

    found = scrape(client)
    assert found.types["http_requests"] == "counter" and found.types["http_request_duration_seconds"] == "histogram"
    rule = "/api/v1/jobs/<job_id>"
    expected = {
        ("GET", rule, "404"): 1,
        ("GET", rule, "401"): 1,
        ("POST", f"{rule}/cancel", "404"): 1,
        ("GET", "unmatched", "404"): 1,
        ("GET", "/health", "200"): 3,
        ("GET", "/metrics", "200"): 1,
    }
    for (method, endpoint, status), count in expected.items():
        labels = {"method": method, "endpoint": endpoint, "status": status}
        assert found.value("http_requests_total", **labels) - before.value("http_requests_total", **labels) == count, (
            labels
        )
        counted = found.value("http_request_duration_seconds_count", **labels)
        assert counted - before.value("http_request_duration_seconds_count", **labels) == count, labels
    # nothing else, nothing twice (the first scrape is counted once it has answered)
    assert found.value("http_requests_total") - before.value("http_requests_total") == sum(expected.values())
    assert job_id not in found.text  # never a concrete id, only the rule


@pytest.mark.dialects
def test_audit_writes_count_committed_rows_and_not_rolled_back_ones(app, client):
    before = scrape(client).value("audit_writes_total")
    rows_before = db.session.query(AuditEntry).count()

    for n in range(3):
        audit.record("widget", n, "create", after={"n": n})
    db.session.commit()
    after_commit = scrape(client).value("audit_writes_total")

    for n in range(2):
        audit.record("widget", n, "delete")
    db.session.rollback()
    after_rollback = scrape(client).value("audit_writes_total")

    committed = db.session.query(AuditEntry).count() - rows_before
    assert committed == 3
    assert after_commit - before == committed
    assert after_rollback == after_commit


def test_rq_jobs_has_every_queue_and_status_with_the_right_counts(app, client):
    connection = app.extensions["redis"]
    for _ in range(2):
        jobs.enqueue("demo", DEMO_JOB, 0, queue="exports")
    jobs.enqueue("demo", DEMO_JOB, 0, True, queue="exports")  # fails
    for _ in range(3):
        jobs.enqueue("demo", DEMO_JOB, 0, queue="sync")  # stays queued
    db.session.commit()
    run_worker(app, queues=("exports",))
    waiting = Queue("sync", connection=connection).jobs[0]
    Queue("actions", connection=connection).enqueue(demo_job, 0, depends_on=waiting)  # deferred
    Queue("optimize", connection=connection).enqueue_in(timedelta(hours=1), demo_job, 0)  # scheduled
    Queue("flows", connection=connection).enqueue(demo_job, 0).cancel()  # canceled

    found = scrape(client)
    assert found.types["rq_jobs"] == "gauge"
    expected = {(q, s): 0 for q in queue_names() for s in STATUSES}
    expected.update(
        {
            ("exports", "finished"): 2,
            ("exports", "failed"): 1,
            ("sync", "queued"): 3,
            ("actions", "deferred"): 1,
            ("optimize", "scheduled"): 1,
            ("flows", "canceled"): 1,
        }
    )
    got = {(lab["queue"], lab["status"]): v for n, lab, v in found.samples if n == "rq_jobs"}
    assert got == expected
    assert set(STATUSES) == {"queued", "started", "deferred", "scheduled", "finished", "failed", "canceled"}


def test_rq_workers_counts_registered_workers_by_state(app, client):
    connection = app.extensions["redis"]
    idle = scrape(client)
    assert {lab["state"] for lab in idle.series("rq_workers")} == WORKER_STATES
    assert idle.value("rq_workers") == 0

    worker = Worker([Queue("default", connection=connection)], connection=connection, name=f"w-{uuid.uuid4().hex}")
    worker.register_birth()
    worker.set_state("busy")
    try:
        busy = scrape(client)
        assert busy.value("rq_workers", state="busy") == 1
        assert busy.value("rq_workers") == 1
        assert worker.name not in busy.text  # workers are counted, never named
    finally:
        worker.register_death()
    assert scrape(client).value("rq_workers") == 0


@pytest.mark.dialects
def test_job_timing_histograms_count_the_jobs_that_ran_per_queue(app, client):
    for _ in range(2):
        jobs.enqueue("demo", DEMO_JOB, 0, queue="default")
    jobs.enqueue("demo", DEMO_JOB, 0, True, queue="default")
    jobs.enqueue("demo", DEMO_JOB, 0, queue="exports")  # never runs
    db.session.commit()
    run_worker(app, queues=("default",))

    found = scrape(client)
    for name in ("job_exec_seconds", "queue_wait_seconds"):
        assert found.types[name] == "histogram"
        assert {lab["queue"] for lab in found.series(f"{name}_count")} == set(queue_names())
        assert found.value(f"{name}_count", queue="default") == 3  # 2 finished + 1 failed
        assert found.value(f"{name}_bucket", queue="default", le="+Inf") == 3
        assert found.value(f"{name}_count", queue="exports") == 0
        assert found.value(f"{name}_count") == 3
    # the lowest bucket holds exactly the jobs whose recorded run took at most 0.1 s (timing-free)
    quick = db.session.query(JobRecord).filter(JobRecord.queue == "default", JobRecord.duration <= 0.1).count()
    assert found.value("job_exec_seconds_bucket", queue="default", le="0.1") == quick


@pytest.mark.dialects
def test_job_timing_histogram_buckets_are_cumulative_and_inclusive(app, client):
    now = utcnow()
    durations = [0.05, 0.5, 3, 100, 4000]  # 0.5 sits on a bound: le is inclusive
    for seconds in [*durations, None]:  # None: still running, not counted
        db.session.add(
            JobRecord(
                id=uuid.uuid4().hex,
                queue="optimize",
                kind="t",
                status="finished",
                enqueued_at=now,
                started_at=now,
                duration=seconds,
                wait=seconds,
            )
        )
    db.session.commit()

    found = scrape(client)
    assert JOB_EXEC_BUCKETS == (0.1, 0.5, 1, 5, 15, 60, 300, 1800)
    buckets = {
        lab["le"]: v for n, lab, v in found.samples if n == "job_exec_seconds_bucket" and lab["queue"] == "optimize"
    }
    assert buckets == {"0.1": 1, "0.5": 2, "1.0": 2, "5.0": 3, "15.0": 3, "60.0": 3, "300.0": 4, "1800.0": 4, "+Inf": 5}
    assert found.value("job_exec_seconds_count", queue="optimize") == 5
    assert found.value("job_exec_seconds_sum", queue="optimize") == pytest.approx(sum(durations))
    assert found.value("queue_wait_seconds_count", queue="optimize") == 5
    assert found.value("queue_wait_seconds_bucket", queue="optimize", le="5.0") == 3


def test_every_label_takes_bounded_values(app, client, bearer):
    headers = bearer("admin")
    for _ in range(2):
        record = jobs.enqueue("demo", DEMO_JOB, 0, queue="sync")
    db.session.commit()
    run_worker(app, queues=("sync",))
    client.get(f"/api/v1/jobs/{record.id}", headers=headers)
    client.get(f"/queues/jobs/{record.id}", headers=headers)
    client.get(f"/static/{uuid.uuid4().hex}.css")
    client.get(f"/{uuid.uuid4()}")

    found = scrape(client)
    rules = {rule.rule for rule in app.url_map.iter_rules()} | {"unmatched"}
    allowed = {
        "endpoint": rules.__contains__,
        "method": {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}.__contains__,
        "queue": set(queue_names()).__contains__,
        "action": ACTIONS.__contains__,
        "result": ("moved", "blocked", "failed", "hit", "miss").__contains__,  # ECO moves, overlay cache lookups
        "area": JOB_AREAS.__contains__,
        "direction": ("push", "pull").__contains__,
        "window_days": {str(days) for days in WINDOWS}.__contains__,
    }
    for name, labels, _ in found.samples:
        for key, value in labels.items():
            assert not HEX_ID.search(value), (name, key, value)
            if key in allowed:
                assert allowed[key](value), (name, key, value)
            if key == "state":
                assert value in STATES[name], (name, value)
            if key == "status":
                assert value in DOMAIN_STATUSES.get(re.sub(r"_(total|created)$", "", name), ()) or re.fullmatch(
                    r"[1-5]\d\d", value
                ), (name, value)


@pytest.mark.config(METRICS_TOKEN="s3cret")
def test_metrics_token_guards_the_endpoint(app, client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "s3cret"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3crét"}).status_code == 401  # not a 500
    found = scrape(client, Authorization="Bearer s3cret")
    assert found.value("http_requests_total", endpoint="/metrics", status="401") == 4


def test_gunicorn_hooks_prepare_the_multiprocess_dir_and_forget_dead_processes(tmp_path, monkeypatch):
    target = tmp_path / "prometheus" / "web"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(target))
    server = SimpleNamespace(cfg=SimpleNamespace(workers=2), log=Mock())
    gunicorn_conf.on_starting(server)
    assert target.is_dir()  # else every web process fails to boot (prometheus_client cannot open its file)

    for name in ("gauge_livesum_4242.db", "counter_4242.db", "gauge_livesum_4343.db"):
        (target / name).write_bytes(b"")
    gunicorn_conf.child_exit(server, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in target.iterdir()) == ["counter_4242.db", "gauge_livesum_4343.db"]

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    gunicorn_conf.on_starting(server)
    assert "PROMETHEUS_MULTIPROC_DIR is not set" in server.log.warning.call_args.args[0]


# --- live: gunicorn (2 web processes) and an RQ worker ---------------------------------------


def _health_count_by_process(metrics_dir: Path, tmp_path: Path) -> dict[str, float]:
    """/health requests each process has counted, read from its own file in the multiprocess dir
    (through prometheus_client's public MultiProcessCollector, one file at a time)."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        alone = tmp_path / path.stem
        alone.mkdir(parents=True)
        shutil.copy(path, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts[path.stem] = Scrape(generate_latest(registry).decode()).value("http_requests_total", endpoint="/health")
    return {k: v for k, v in counts.items() if v}


def test_live_request_counts_are_summed_over_web_processes(live_server, tmp_path):
    before = live_scrape(live_server)
    by_process_before = _health_count_by_process(live_server.metrics_dir, tmp_path / "before")
    made = 0
    with ThreadPoolExecutor(8) as pool:
        # until both web processes have answered some: usually at once, but which process accepts a
        # connection is the kernel's choice, and under load one can win 160 in a row
        for attempt in range(60):
            codes = list(pool.map(lambda _: live_get(f"{live_server.url}/health")[0], range(16)))
            assert codes == [200] * 16
            made += 16
            by_process = _health_count_by_process(live_server.metrics_dir, tmp_path / str(attempt))
            served = {pid: n - by_process_before.get(pid, 0) for pid, n in by_process.items()}
            if len([n for n in served.values() if n]) >= 2:
                break
    assert len([n for n in served.values() if n]) == live_server.web_processes, served
    assert sum(served.values()) == made
    after = live_scrape(live_server)

    # /metrics answers the sum over the processes, whichever process answers
    assert (
        after.value("http_requests_total", endpoint="/health") - before.value("http_requests_total", endpoint="/health")
        == made
    )
    # everything between the two scrapes, plus the first scrape itself
    assert after.value("http_requests_total") - before.value("http_requests_total") == made + 1
    assert (
        after.value("http_request_duration_seconds_count") - before.value("http_request_duration_seconds_count")
        == made + 1
    )


def test_live_metrics_check_passes_and_worker_and_audit_figures_are_merged(live_server):
    env = {k: v for k, v in live_server.env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    flask = Path(sys.executable).parent / "flask"
    done = subprocess.run(
        [str(flask), "--app", "app", "metrics-check", f"{live_server.url}/metrics"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok:")

    found = live_scrape(live_server)
    assert found.value("rq_workers", state="idle") + found.value("rq_workers", state="busy") == 1
    database = live_server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    # rows written by other processes (the `users create` command at least) are counted too
    assert rows >= 1
    assert found.value("audit_writes_total") == rows


def _wait_for(live_server, predicate, timeout: float = 15.0) -> Scrape:
    deadline = time.monotonic() + timeout
    while True:
        found = live_scrape(live_server)
        if predicate(found):
            return found
        assert time.monotonic() < deadline, "timed out; last scrape:\n" + found.text
        time.sleep(0.05)


def test_live_jobs_move_through_the_metrics(live_server):
    """A job enqueued through the API and run by the live worker shows in every job figure."""
    before = live_scrape(live_server)
    token = live_server.flask("tokens", "create", live_server.admin.username, "--name", "metrics-test")
    assert token.returncode == 0, token.stderr
    headers = {"Authorization": f"Bearer {token.stdout.strip()}", "Content-Type": "application/json"}
    job_ids = []

    def demo(seconds: int, fail: bool) -> None:
        status, body = live_get(
            f"{live_server.url}/api/v1/jobs/demo", headers, json.dumps({"seconds": seconds, "fail": fail}).encode()
        )
        assert status == 202, body
        job_ids.append(json.loads(body)["id"])

    def delta(found: Scrape, name: str, **labels: str) -> float:
        return found.value(name, **labels) - before.value(name, **labels)

    try:
        demo(1, False)
        _wait_for(
            live_server,
            lambda f: (
                f.value("rq_jobs", queue="default", status="started") == 1 and f.value("rq_workers", state="busy") == 1
            ),
        )
        demo(0, True)
        done = _wait_for(
            live_server,
            lambda f: (
                delta(f, "rq_jobs", queue="default", status="failed") == 1
                and delta(f, "rq_jobs", queue="default", status="finished") == 1
                # nothing left started: the sweeper's job (same queue, every few seconds) may be
                and f.value("rq_jobs", queue="default", status="started") == 0
            ),
        )
        assert delta(done, "job_exec_seconds_count", queue="default") == 2
        assert delta(done, "job_exec_seconds_bucket", queue="default", le="1.0") == 1  # the failing one
        assert delta(done, "queue_wait_seconds_count", queue="default") == 2
        # the token and the two enqueues were audited by other processes (CLI, web)
        assert delta(done, "audit_writes_total") == 3
    finally:  # leave the shared server's queues as they were (the browser test counts jobs on 'default')
        connection = redis.Redis.from_url(live_server.redis_url)
        queue = Queue("default", connection=connection)
        for job_id in job_ids:
            for registry in (queue.finished_job_registry, queue.failed_job_registry):
                if job_id in registry:
                    registry.remove(job_id, delete_job=True)


# --- metrics-check against bad expositions ---------------------------------------------------


class _Exposition(http.server.BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, tuple[int, str, str | None]]] = {}  # path: (status, body, token required)

    def do_GET(self):
        status, body, token = self.pages.get(self.path, (404, "no such page", None))
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            status, body = 401, "unauthorized"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def exposition_server(live_server):
    good = live_scrape(live_server).text

    def without(text: str, name: str, keep_comments: bool = False) -> str:
        return "".join(
            line
            for line in text.splitlines(keepends=True)
            if not re.match(rf"(# (HELP|TYPE) )?{name}[ {{_]", line) or (keep_comments and line.startswith("#"))
        )

    _Exposition.pages = {
        "/good": (200, good, None),
        "/no-rq-workers": (200, without(good, "rq_workers"), None),
        "/job-exec-without-samples": (200, without(good, "job_exec_seconds", keep_comments=True), None),
        "/garbage": (200, "this is not { an exposition\n", None),
        "/login-page": (200, "<!doctype html><html><body>Sign in</body></html>\n", None),
        "/empty": (200, "", None),
        "/guarded": (200, good, "t0ken"),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Exposition)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cli(sqlite_database, redis_server):
    runner = create_app(app_config(sqlite_database, redis_server.url)).test_cli_runner()

    def check(url: str, *extra: str):
        return runner.invoke(args=["metrics-check", url, *extra])

    return check


@pytest.mark.parametrize(
    "path, extra, code, message",
    [
        ("/good", (), 0, "ok:"),
        ("/no-rq-workers", (), 1, "missing metrics: rq_workers"),
        ("/job-exec-without-samples", (), 1, "missing metrics: job_exec_seconds"),
        ("/garbage", (), 1, "does not parse"),
        ("/login-page", (), 1, "does not parse"),
        ("/empty", (), 1, "missing metrics: " + ", ".join(REQUIRED_METRICS)),
        ("/guarded", (), 2, "cannot fetch"),
        ("/guarded", ("--token", "t0ken"), 0, "ok:"),
        ("/nothing-here", (), 2, "cannot fetch"),
    ],
)
def test_metrics_check_exit_codes(exposition_server, cli, path, extra, code, message):
    result = cli(f"{exposition_server}{path}", *extra)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_metrics_check_follows_no_redirect_and_keeps_its_token_home(cli):
    with recording() as elsewhere, recording(redirect_to=elsewhere.url) as server:
        result = cli(f"{server.url}/metrics", "--token", "t0ken")
        assert server.authorizations() == ["Bearer t0ken"] and elsewhere.seen == []
    assert result.exit_code == 2 and "do not follow redirects" in result.output
