"""The ops_* gauges (hand-computed from the scene), the alerting rules (their thresholds are the
thresholds table's defaults; promtool checks them and runs their unit tests) and promtool's lint of
a live /metrics of the whole app. promtool comes from `make promtool` (a prerequisite of make test)."""

import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from rq import Queue, Worker

from app.config import ROOT
from app.core import jobs
from app.core.capability import queue_names
from app.extensions import db
from app.ops import gauges
from app.ops.thresholds import THRESHOLDS
from app.queues import service as queues
from tests.core.test_metrics import DEMO_JOB, live_get, scrape
from tests.ops import scene

RULES = ROOT / "docs" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "docs" / "prometheus" / "alerts_test.yml"
LABELS = {"kind", "level", "window_days", "area", "status", "direction", "queue"}
# how each kind of threshold reads in PromQL: failure rates fire strictly above, hit rates strictly
# below, and the minimum number of lookups counts from that number on
COMPARISON = {"above": ">", "below": "<"}
AT_LEAST = {"overlay_cache_min_requests"}


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    assert shutil.which("promtool"), "promtool is missing: run `make promtool` (Debian's prometheus package)"
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, timeout=60, cwd=ROOT)


def full_scene(make_user) -> None:
    scene.doc_sync()
    scene.workflow_runs()
    scene.incidents()
    scene.job_history()
    scene.flow_runs()
    scene.optimizations(make_user("olga", "operator"))
    scene.exports()


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ops_samples(found) -> dict[tuple[str, frozenset], float]:
    return {(n, frozenset(lab.items())): v for n, lab, v in found.samples if n.startswith("ops_")}


def sample(found, name: str, **labels: str) -> float | None:
    """The one sample of `name` with exactly these labels, or None when there is none."""
    return ops_samples(found).get((name, frozenset(labels.items())))


# --- the gauges ------------------------------------------------------------------------------


@pytest.mark.dialects  # the summary's window functions and grouped sums
def test_the_gauges_carry_the_summary_of_each_window(app, client, make_user):
    full_scene(make_user)
    found = scrape(client)

    assert sample(found, "ops_doc_sync_dead_letter_ratio", window_days="7") == 0.2  # 1 of 5
    assert sample(found, "ops_doc_sync_dead_letter_jobs", window_days="30") == 2
    assert sample(found, "ops_doc_sync_success_ratio", window_days="7") == 0.5  # 2 finished of 4 ended
    assert sample(found, "ops_doc_sync_mean_attempts", window_days="7") == 1.75
    assert sample(found, "ops_doc_sync_jobs", window_days="7", direction="push") == 3
    assert sample(found, "ops_jobs", window_days="7", area="doc_sync", status="failed") == 2
    assert sample(found, "ops_jobs", window_days="30", area="doc_sync", status="failed") == 3
    assert sample(found, "ops_jobs", window_days="7", area="bom_delta", status="done") == 1
    assert sample(found, "ops_jobs", window_days="7", area="workorder_packs", status="done") == 2
    assert sample(found, "ops_failed_ratio", window_days="7", area="workflow_runs") == 0.3333  # 2 of 6
    assert sample(found, "ops_failed_ratio", window_days="30", area="workflow_runs") == 0.4286  # 3 of 7
    assert sample(found, "ops_failed_ratio", window_days="7", area="optimizations") == 0.5
    assert sample(found, "ops_workflow_runs_warning_ratio", window_days="7") == 0.1667
    assert sample(found, "ops_breakage_open_ratio", window_days="7") == 0.75  # 3 of 4, canceled left out
    assert sample(found, "ops_breakage_incidents", window_days="7", status="canceled") == 1
    assert sample(found, "ops_breakage_repeat_incidents", window_days="7") == 2
    assert sample(found, "ops_breakage_helpdesk_failed_ratio", window_days="7") == 0.6667  # 2 of 3 ended
    assert sample(found, "ops_breakage_helpdesk_sends", window_days="7", status="dead") == 1
    # job history, per queue of the app: sync has 20 jobs in the week, 3 failed
    assert sample(found, "ops_queue_jobs", window_days="7", queue="sync") == 20
    assert sample(found, "ops_queue_failed_jobs", window_days="7", queue="sync") == 3
    assert sample(found, "ops_queue_failed_ratio", window_days="7", queue="sync") == 0.15
    assert sample(found, "ops_queue_duration_p50_seconds", window_days="7", queue="sync") == 10
    assert sample(found, "ops_queue_duration_p95_seconds", window_days="7", queue="sync") == 19
    assert sample(found, "ops_queue_wait_p95_seconds", window_days="7", queue="sync") == 1.9
    for queue in queue_names():
        assert sample(found, "ops_queue_jobs", window_days="1", queue=queue) is not None


def test_a_rate_with_nothing_to_divide_has_no_sample_and_counts_are_zero(app, client, make_user):
    full_scene(make_user)
    found = scrape(client)
    # no incident within a day: counts 0, the rates absent (not 0, not NaN)
    assert sample(found, "ops_breakage_incidents", window_days="1", status="open") == 0
    for name in ("ops_breakage_open_ratio", "ops_breakage_repeat_ratio", "ops_breakage_helpdesk_failed_ratio"):
        assert sample(found, name, window_days="1") is None, name
        assert sample(found, name, window_days="7") is not None, name
    # a queue without jobs: 0 jobs, no rate or percentile; one whose job never ran: a rate, no percentile
    assert sample(found, "ops_queue_jobs", window_days="7", queue="flows") == 0
    assert sample(found, "ops_queue_failed_ratio", window_days="7", queue="flows") is None
    assert sample(found, "ops_queue_failed_ratio", window_days="7", queue="exports") == 0
    assert sample(found, "ops_queue_duration_p50_seconds", window_days="7", queue="exports") is None
    assert all(v == v for v in ops_samples(found).values())  # no NaN


def test_labels_come_from_fixed_sets_and_names_follow_the_conventions(app, client, make_user):
    full_scene(make_user)
    found = scrape(client)
    samples = ops_samples(found)
    assert len({name for name, _ in samples}) >= 20
    for name, labels in samples:
        assert set(dict(labels)) <= LABELS, name
        assert dict(labels).get("window_days", "7") in {"1", "7", "30"}, name
        assert found.types[name] == "gauge" and not name.endswith("_total"), name
    text = found.text
    assert "alpha" not in {v for _, labels in samples for _, v in labels}  # no site name as a label
    for site_figure in re.findall(r"^ops_\w+\{[^}]*site=", text, re.M):
        pytest.fail(f"per-site label: {site_figure}")


def test_one_scrape_computes_one_summary_per_window(app, client, monkeypatch):
    calls = []
    real = gauges.summary
    monkeypatch.setattr(gauges, "summary", lambda days: calls.append(days) or real(days))
    scrape(client)
    assert sorted(calls) == [1, 7, 30]
    scrape(client)  # the memo lives for one scrape only
    assert sorted(calls) == [1, 1, 7, 7, 30, 30]


@pytest.mark.dialects
def test_the_alerts_gauge_counts_the_overviews_alerts_by_level(app, client, monkeypatch):
    scene.doc_sync()  # 7 days: 1 dead letter of 5 jobs, a critical alert
    scene.workflow_runs()  # 2 failed runs of 6, a warning
    calls = []
    real = gauges.summary
    monkeypatch.setattr(gauges, "summary", lambda days: calls.append(days) or real(days))
    found = scrape(client)
    assert sample(found, "ops_alerts", level="critical") == 1.0
    assert sample(found, "ops_alerts", level="warn") == 1.0
    assert sorted(calls) == [1, 7, 30]  # the alerts read the scrape's 7-day summary, not a fourth one


def test_a_failing_summary_is_tried_once_per_scrape_and_spares_the_other_gauges(app, client, monkeypatch):
    calls = []

    def broken(days):
        calls.append(days)
        raise RuntimeError("database gone")

    monkeypatch.setattr(gauges, "summary", broken)
    found = scrape(client)
    assert calls == [1]
    assert found.types["ops_jobs"] == "gauge" and not found.series("ops_jobs")  # the family, no samples
    assert found.series("ops_queue_oldest_job_age_seconds") and found.series("breakage_open_incidents")


def test_the_overlay_cache_gauges_read_its_section(app, client, monkeypatch):
    # the overlay cache section of the summary comes from the trends slice; its shape is fixed
    real = gauges.summary
    sections = {1: (0, 0, None), 7: (12, 9, 0.75), 30: (40, 36, 0.9)}

    def with_cache(days):
        requests, hits, rate = sections[days]
        return {**real(days), "overlay_cache": {"requests": requests, "hits": hits, "hit_rate": rate}}

    monkeypatch.setattr(gauges, "summary", with_cache)
    found = scrape(client)
    assert sample(found, "ops_overlay_cache_requests", window_days="7") == 12
    assert sample(found, "ops_overlay_cache_hits", window_days="30") == 36
    assert sample(found, "ops_overlay_cache_hit_ratio", window_days="7") == 0.75
    assert sample(found, "ops_overlay_cache_requests", window_days="1") == 0
    assert sample(found, "ops_overlay_cache_hit_ratio", window_days="1") is None


def test_the_oldest_queued_job_age_is_the_head_of_each_queue(app, client):
    first = jobs.enqueue("demo", DEMO_JOB, 0, queue="sync")
    time.sleep(0.01)
    jobs.enqueue("demo", DEMO_JOB, 0, queue="sync")
    taken = jobs.enqueue("demo", DEMO_JOB, 0, queue="exports")
    db.session.commit()  # the jobs go to Redis on commit
    Queue("exports", connection=app.extensions["redis"]).remove(taken.id)  # as if a worker took it
    enqueued = Queue("sync", connection=app.extensions["redis"]).fetch_job(first.id).enqueued_at
    ages = dict(queues.oldest_queued_ages(now=aware(enqueued) + timedelta(minutes=16)))
    assert ages["sync"] == pytest.approx(960, abs=1e-3)  # the first job's age, not the second's
    assert ages["exports"] == 0 and set(ages) == set(queue_names())
    found = scrape(client)
    assert 0 <= sample(found, "ops_queue_oldest_job_age_seconds", queue="sync") < 60
    assert sample(found, "ops_queue_oldest_job_age_seconds", queue="flows") == 0


def test_the_heartbeat_age_is_the_most_silent_workers(app, client):
    assert sample(scrape(client), "ops_worker_heartbeat_age_seconds") is None  # no worker, no sample
    connection = app.extensions["redis"]
    workers = [Worker([Queue("sync", connection=connection)], connection=connection, name=f"w{i}") for i in (1, 2)]
    try:
        for worker in workers:
            worker.register_birth()
            worker.heartbeat()
            time.sleep(0.01)
        beat = workers[0].last_heartbeat
        assert max(queues.heartbeat_ages(now=aware(beat) + timedelta(seconds=100))) == pytest.approx(100)
        found = scrape(client)
        assert 0 <= sample(found, "ops_worker_heartbeat_age_seconds") < 60
        assert "w1" not in found.text  # never a worker name
    finally:
        for worker in workers:
            worker.register_death()


# --- the alerting rules --------------------------------------------------------------------------


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def comparisons(expr: str) -> list[tuple[str, float, bool]]:
    """(operator, number, in minutes) of each comparison with a number in a PromQL expression."""
    found = re.findall(r"(>=|<=|==|!=|>|<)\s*([0-9.]+)(\s*\*\s*60)?", expr)
    return [(op, float(number), bool(minutes)) for op, number, minutes in found]


def test_each_rule_threshold_is_the_default_of_the_thresholds_table():
    covered = set()
    for rule in rules():
        named = rule["annotations"].get("ops_thresholds", "").split()
        compared = comparisons(rule["expr"])
        for name in named:
            threshold = THRESHOLDS[name]
            op = ">=" if name in AT_LEAST else COMPARISON[threshold.fires]
            expected = (op, float(threshold.default), name.endswith("_minutes"))
            assert expected in compared, (rule["alert"], name, expected, compared)
        assert len(compared) == len(named) or not named, rule["alert"]  # no number the table does not name
        assert rule["labels"]["level"] in {"warn", "critical"}, rule["alert"]
        covered |= set(named)
    assert covered == set(THRESHOLDS)  # a new threshold needs its rule


def test_windowed_rules_read_the_seven_day_series():
    for rule in rules():
        for selector in re.findall(r"ops_\w+\{[^}]*\}|ops_\w+(?!\w|\{)", rule["expr"]):
            name = selector.split("{")[0]
            if name not in {"ops_queue_oldest_job_age_seconds", "ops_worker_heartbeat_age_seconds"}:
                assert 'window_days="7"' in selector, (rule["alert"], selector)


def test_promtool_checks_the_rules_and_runs_their_unit_tests():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout.decode() + tested.stderr.decode()


# --- promtool's lint of the whole exposition -----------------------------------------------------


def test_promtool_finds_nothing_in_a_live_scrape_of_the_whole_app(app, client, make_user, bearer):
    full_scene(make_user)
    connection = app.extensions["redis"]
    worker = Worker([Queue("sync", connection=connection)], connection=connection, name="lint-worker")
    worker.register_birth()
    worker.heartbeat()
    jobs.enqueue("demo", DEMO_JOB, 0, queue="sync")
    db.session.commit()
    try:
        headers = bearer("operator")
        for path in ("/api/v1/parallel-ops/summary", "/api/v1/jobs/nope", "/no/such/page", "/health"):
            client.get(path, headers=headers)
        body = client.get("/metrics").data
    finally:
        worker.register_death()
    found = scrape(client)
    for family in ("ops_jobs", "ops_queue_oldest_job_age_seconds", "rq_jobs", "breakage_open_incidents"):
        assert found.series(family), family
    assert found.series("remote_site_up") and found.series("http_requests_total")
    linted = promtool("check", "metrics", stdin=body)
    findings = (linted.stdout + linted.stderr).decode()
    assert linted.returncode == 0 and not findings.strip(), findings


def test_promtool_finds_nothing_in_the_merged_scrape_of_gunicorn_and_a_worker(live_server):
    # multiprocess mode: the families merged from the processes' files, without *_created samples
    status, body = live_get(f"{live_server.url}/metrics")
    assert status == 200 and b"ops_queue_jobs{" in body
    linted = promtool("check", "metrics", stdin=body)
    findings = (linted.stdout + linted.stderr).decode()
    assert linted.returncode == 0 and not findings.strip(), findings


def test_promtool_check_metrics_reports_what_breaks_the_conventions():
    bad = b"# TYPE ops_things counter\nops_things 1\n# HELP ops_age_milliseconds x\n# TYPE ops_age_milliseconds gauge\n"
    linted = promtool("check", "metrics", stdin=bad + b"ops_age_milliseconds 1\n")
    findings = (linted.stdout + linted.stderr).decode()
    assert linted.returncode != 0 and '"_total" suffix' in findings and "base unit" in findings, findings
