"""The pages through the test client: history with badges, the submit form and
its errors, the detail page (progress, Top-N, banners, heatmap, plot),
cancel, re-run and dataset upload."""

import io
import re
import time
from html import unescape

import pytest

from app.config import ROOT
from app.core.auth.models import User
from app.extensions import db
from app.optimization import charts, datasets, service
from app.optimization.demo import DEMO_NAME, seed
from app.optimization.models import Dataset, Optimization, OptimizationStatus
from tests.bigdata import big_optimization
from tests.conftest import run_worker

PAGE_BUDGET = 300 * 1024  # bytes of HTML any page may send, whatever the data (issue 14 point 8)


def form(dataset_id, csrf, **overrides):
    data = {
        "csrf_token": csrf,
        "strategy": "sma_cross",
        "dataset": str(dataset_id),
        "param_n1": "5:20:5",
        "param_n2": "10, 40",
        "metric": "return_pct",
        "mode": "max",
        "top_n": "3",
        "cash": "10000",
        "commission": "0",
    }
    return {**data, **overrides}


@pytest.mark.dialects  # the heatmap is grouped in SQL (JSON values, a materialized CTE)
def test_submit_form_then_detail_with_top_n_heatmap_and_plot(app, signed_in):
    client, csrf = signed_in("engineer")
    seed()
    db.session.commit()  # as `flask seed-demo` does
    dataset = db.session.query(Dataset).one()
    page = client.get("/optimizations/new").get_data(as_text=True)
    assert 'name="param_n1"' in page and DEMO_NAME in page
    assert 'name="param_period"' in client.get("/optimizations/new/panel/params?strategy=rsi_reversion").get_data(
        as_text=True
    )
    response = client.post("/optimizations/", data=form(dataset.id, csrf), follow_redirects=True)
    html = response.get_data(as_text=True)
    job = db.session.query(Optimization).one()
    assert f"Optimization {job.id} submitted: 8 grid points: 3 skipped (n1 ≥ n2), 5 to run." in html
    assert 'id="top-empty"' in html and 'data-live-topic="optimization:' in html
    run_worker(app, ["optimize"])
    html = client.get(f"/optimizations/{job.id}").get_data(as_text=True)
    assert "badge-succeeded" in html and "highest first" in html and html.count("data-task=") == 3
    space = re.sub(r"<[^>]+>", "", re.search(r'<dd id="param-space">(.*?)</dd>', html).group(1))
    assert space == "n1 5 to 20 by 5 (4 values) × n2 10, 40 (2 values) = 8 points, 3 skipped by the constraint"
    assert '<svg id="heatmap"' in html and html.count("<rect") == 5 and '<svg id="best-plot"' in html
    assert 'id="stop-banner"' not in html and 'id="cancel-optimization"' not in html
    swapped = client.get(f"/optimizations/{job.id}/panel/heatmap?x=n2&y=n1").get_data(as_text=True)
    assert "<rect" in swapped and "n2=10, n1=5" in swapped
    history = client.get("/optimizations/").get_data(as_text=True)
    assert f'data-optimization="{job.id}"' in history and "badge-succeeded" in history


def test_form_errors_are_shown_and_nothing_is_saved(app, signed_in, demo_dataset):
    client, csrf = signed_in("engineer")
    response = client.post("/optimizations/", data=form(demo_dataset.id, csrf, param_n1="five"))
    assert response.status_code == 422 and "n1 must be start:stop:step or a list like 5, 10, 20" in response.get_data(
        as_text=True
    )
    response = client.post("/optimizations/", data=form(demo_dataset.id, csrf, param_n1="50", param_n2="10"))
    assert "Every grid point breaks the constraint n1 &lt; n2" in response.get_data(as_text=True)
    assert db.session.query(Optimization).count() == 0


def field_errors(html: str) -> dict[str, str]:
    """The problems shown beside the form's fields, by the field they name."""
    found = re.findall(r'<(?:span|p) class="field-error" data-error-for="([^"]+)">([^<]*)</', html)
    return {field: unescape(message) for field, message in found}


def test_each_form_error_names_its_field_and_what_it_allows_beside_it(app, signed_in, demo_dataset):
    client, csrf = signed_in("engineer")
    cases = [
        ({"cash": "1e308"}, "cash", "Cash must be a number greater than 0 and at most 1e12."),
        ({"cash": "lots"}, "cash", "Cash must be a number; 'lots' is not."),
        ({"top_n": "100000"}, "topN", "Top-N must be a whole number from 1 to 100."),
        ({"top_n": "0"}, "topN", "Top-N must be a whole number from 1 to 100."),
        ({"commission": "0.5"}, "commission", "Commission must be a number at least 0 and below 0.1."),
        ({"max_tasks": "0"}, "earlyStopPolicy.maxTasks", "Max tasks must be a whole number from 1 to 2,147,483,647."),
        ({"param_n1": "-5:20:5"}, "paramSpace.n1", "n1 takes whole numbers from 1 to 1000; -5 is not."),
        ({"param_n1": "5:20:0"}, "paramSpace.n1", "n1 step must be a number greater than 0."),
        (
            {"param_n1": "1:1000:1", "param_n2": "2:1000:1"},
            "paramSpace",
            "The grid has 999,000 points (1,000 n1 × 999 n2); at most 100,000 are allowed: use larger steps or fewer"
            " values.",
        ),
    ]
    for change, field, message in cases:
        response = client.post("/optimizations/", data=form(demo_dataset.id, csrf, **change))
        html = response.get_data(as_text=True)
        assert response.status_code == 422, change
        assert field_errors(html) == {field: message}, change
        assert "Invalid form" not in html and message in unescape(html.split('id="flashes"')[1]), change
    assert db.session.query(Optimization).count() == 0


@pytest.mark.dialects  # the heatmap's CTE and min() of a min-mode run
def test_cancel_banner_and_rerun_from_a_top_n_row(app, signed_in, demo_dataset):
    client, csrf = signed_in("engineer", "erin")
    erin = db.session.query(User).filter_by(username="erin").one()
    job = service.submit(
        erin,
        {**_spec(demo_dataset.id), "earlyStopPolicy": {"mode": "min", "metric": "max_drawdown_pct", "maxTasks": 2}},
    )
    db.session.commit()
    run_worker(app, ["optimize"])
    html = client.get(f"/optimizations/{job.id}").get_data(as_text=True)
    assert 'id="stop-banner"' in html and "Early-stopped: maxTasks 2 reached" in html and "lowest first" in html
    task_id = service.get(job.id, erin).top[0]["taskId"]
    response = client.post(
        f"/optimizations/{job.id}/rerun", data={"csrf_token": csrf, "task_id": task_id}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert f"Re-running task {task_id}&#39;s combination" in html and 'id="source-link"' in html
    again = db.session.query(Optimization).order_by(Optimization.id.desc()).first()
    assert again.source_id == job.id and again.total == 1
    canceled = client.post(f"/optimizations/{again.id}/cancel", data={"csrf_token": csrf}, follow_redirects=True)
    html = canceled.get_data(as_text=True)
    assert "canceled: no new task starts" in html and "Canceled (canceled by erin)" in html
    assert "badge-canceled" in client.get("/optimizations/").get_data(as_text=True)


def test_dataset_upload_reports_bad_rows(app, signed_in):
    client, csrf = signed_in("engineer")
    good = datasets.to_csv(datasets.demo_series(30))
    bad = good.replace(good.splitlines()[2], "2019-01-02,1,0.5,2,1,100", 1)
    response = client.post(
        "/optimizations/datasets",
        data={"csrf_token": csrf, "name": "x", "file": (io.BytesIO(bad.encode()), "x.csv")},
        follow_redirects=True,
    )
    assert "line 3: High must be the highest" in response.get_data(as_text=True)
    assert db.session.query(Dataset).count() == 0
    response = client.post(
        "/optimizations/datasets",
        data={"csrf_token": csrf, "name": "walk", "file": (io.BytesIO(good.encode()), "walk.csv")},
        follow_redirects=True,
    )
    assert "Dataset &#39;walk&#39; uploaded: 30 bars" in response.get_data(as_text=True)


def test_pages_hide_other_users_jobs_and_viewers_cannot_submit(app, signed_in, make_user, demo_dataset):
    job = service.submit(make_user("owner", "engineer"), _spec(demo_dataset.id))
    db.session.commit()
    client, _ = signed_in("viewer")
    assert client.get(f"/optimizations/{job.id}").status_code == 404
    assert "No optimizations yet." in client.get("/optimizations/").get_data(as_text=True)
    assert client.get("/optimizations/new").status_code == 403


def _spec(dataset_id):
    return {
        "strategy": "sma_cross",
        "dataset": dataset_id,
        "paramSpace": {"n1": [5, 10, 15], "n2": [20, 40]},
        "earlyStopPolicy": {"mode": "max", "metric": "return_pct"},
        "topN": 3,
        "cash": 10_000,
        "commission": 0.0,
    }


def test_every_status_has_a_badge_style():
    css = (ROOT / "static" / "css" / "app.css").read_text()
    assert all(f".badge-{status}" in css for status in OptimizationStatus)


def test_a_double_submit_of_the_new_optimization_form_submits_once(app, signed_in, demo_dataset):
    client, csrf = signed_in("engineer")
    html = client.get("/optimizations/new").get_data(as_text=True)
    token = html.split('name="form_token" value="')[1].split('"')[0]
    first = client.post("/optimizations/", data=form(demo_dataset.id, csrf, form_token=token))
    second = client.post("/optimizations/", data=form(demo_dataset.id, csrf, form_token=token))
    job = db.session.query(Optimization).one()
    assert first.headers["Location"] == second.headers["Location"] == f"/optimizations/{job.id}"
    assert "already sent" in client.get(second.headers["Location"]).get_data(as_text=True)
    html = client.get("/optimizations/new").get_data(as_text=True)
    other = html.split('name="form_token" value="')[1].split('"')[0]
    assert other != token
    client.post("/optimizations/", data=form(demo_dataset.id, csrf, form_token=other))
    assert db.session.query(Optimization).count() == 2


def test_a_100000_task_optimization_page_stays_small(signed_in, app):
    client, _ = signed_in("engineer", "owner")
    owner_id = db.session.scalar(db.select(User.id).where(User.username == "owner"))
    optimization_id = big_optimization(db.session.connection(), owner_id)
    db.session.commit()
    started = time.perf_counter()
    response = client.get(f"/optimizations/{optimization_id}")
    elapsed = time.perf_counter() - started
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and len(response.data) < PAGE_BUDGET, len(response.data)
    assert elapsed < 1.0, elapsed
    assert html.count("<circle ") <= charts.MAX_DOTS and html.count('<tr data-task="') == 10
    assert 'id="heatmap-pending"' in html and "load" in html  # the heatmap is its own request
    heatmap = client.get(f"/optimizations/{optimization_id}/panel/heatmap?x=n2&y=n1")
    drawn = heatmap.get_data(as_text=True)
    assert heatmap.status_code == 200 and len(heatmap.data) < PAGE_BUDGET, len(heatmap.data)
    # 100,000 distinct (n1, n2) cells drawn as at most HEATMAP_COLUMNS × HEATMAP_ROWS binned ones
    assert service.HEATMAP_COLUMNS * service.HEATMAP_ROWS * 0.9 < drawn.count("<rect ")
    assert drawn.count("<rect ") <= service.HEATMAP_COLUMNS * service.HEATMAP_ROWS and "share a cell" in drawn


def test_detail_shows_the_run_order_and_flags_zero_trade_results(app, signed_in, demo_dataset):
    from app.optimization import chunks
    from tests.optimization.factory import results, submit_body

    client, _ = signed_in("engineer")
    owner = db.session.query(User).filter_by(username="engineer-user").one()
    policy = {"mode": "max", "metric": "return_pct", "maxTasks": 50}
    spec = submit_body(demo_dataset.id, earlyStopPolicy=policy, runOrderSeed=3, cash=10_000, commission=0.0)
    job = service.submit(owner, spec)
    db.session.commit()
    chunks.merge(job.id, results([(0, {"n1": 5, "n2": 20}, {"return_pct": 0.0, "trades": 0})]))
    chunks.merge(job.id, results([(1, {"n1": 5, "n2": 40}, {"return_pct": -1.0, "trades": 7})]))
    html = client.get(f"/optimizations/{job.id}").get_data(as_text=True)
    assert "shuffled, seed 3" in html.split('id="run-order"')[1].split("</dd>")[0]
    assert html.count('data-role="zero-trades"') == 1
