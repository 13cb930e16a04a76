"""Issue 20 point 3: the trials table (sorted, filtered and paged in SQL, through the service, the API
and the page), the grid size a form's space would queue, and both at 100,000 tasks."""

import time

import pytest

from app.core.auth.models import User
from app.extensions import db
from app.optimization import analysis, chunks, service
from app.optimization.models import OptimizationTask
from tests.bigdata import big_optimization
from tests.optimization.factory import results, submit_body, submitted

API = "/api/v1/optimizations"
PAGE_BUDGET = 300 * 1024


def _merged(owner, dataset_id):
    """An optimization of n1 ∈ {5..30 by 5} × n2 ∈ {20, 40, 60, 80} with eight merged results and one failure."""
    job = service.submit(owner, submit_body(dataset_id, cash=10_000, commission=0.0))
    db.session.commit()
    points = [(5, 20), (5, 40), (10, 20), (10, 60), (15, 40), (20, 80), (25, 40), (30, 60)]
    merged = [
        (
            seq,
            {"n1": n1, "n2": n2},
            {
                "return_pct": float(n1 - n2 / 10),
                "sharpe": n2 / 100,
                "max_drawdown_pct": 1.0,
                "trades": 0 if n1 == 25 else 3,
                "win_rate_pct": 50.0,
            },
        )
        for seq, (n1, n2) in enumerate(points)
    ]
    chunks.merge(job.id, results(merged))
    chunks.merge(job.id, results([(8, {"n1": 30, "n2": 80}, "boom")]))
    db.session.expire_all()
    return db.session.get(type(job), job.id)


@pytest.mark.dialects  # JSON extraction, NULLS LAST and the count in SQL
def test_trials_sort_filter_and_page_in_sql(app, make_user, demo_dataset):
    job = _merged(make_user("owner", "engineer"), demo_dataset.id)
    page = analysis.trials(job, sort="score", order="desc", per_page=4)
    assert page.total == 9 and page.pages == 3
    assert [t.params["n1"] for t in page.items] == [30, 25, 20, 15]  # return_pct = n1 - n2/10
    last = analysis.trials(job, sort="score", order="desc", page=3, per_page=4).items
    assert [t.status for t in last] == ["failed"]  # no score: last, whichever the order
    assert analysis.trials(job, sort="score", order="asc", page=3, per_page=4).items[0].status == "failed"
    by_sharpe = analysis.trials(job, sort="sharpe", order="asc", status="finished").items
    assert [t.metrics["sharpe"] for t in by_sharpe] == sorted(t.metrics["sharpe"] for t in by_sharpe)
    assert [t.seq for t in by_sharpe[:3]] == [0, 2, 1]  # ties in task order
    ranged = analysis.trials(job, ranges="n1:10:25,n2::40", sort="n1").items
    assert [(t.params["n1"], t.params["n2"]) for t in ranged] == [(10, 20), (15, 40), (25, 40)]
    assert analysis.trials(job, ranges="n1:40:").total == 0
    assert [t.seq for t in analysis.trials(job, sort="seq", order="desc").items][:2] == [8, 7]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"order": "up"}, "order"),
        ({"status": "lost"}, "status"),
        ({"ranges": "n3:1:2"}, "ranges"),
        ({"ranges": "n1:a:2"}, "ranges"),
        ({"ranges": "n1:9:2"}, "ranges"),
        ({"ranges": "n1:5"}, "ranges"),
    ],
)
def test_bad_trials_queries_are_refused_in_the_one_shape(client, bearer, make_user, demo_dataset, args, field):
    job = _merged(make_user("owner", "engineer"), demo_dataset.id)
    headers = bearer("admin")
    response = client.get(f"{API}/{job.id}/trials", query_string=args, headers=headers)
    assert response.status_code == 422, response.json
    assert set(response.json["error"]) == {"code", "message", "details"}
    assert field in [f["field"] for f in response.json["error"]["details"]["fields"]]


@pytest.mark.dialects  # JSON extraction, NULLS LAST
def test_trials_api_pages_sorts_filters_and_hides_others(client, bearer, make_user, demo_dataset):
    job = _merged(make_user("owner", "engineer"), demo_dataset.id)
    admin = bearer("admin")
    body = client.get(
        f"{API}/{job.id}/trials", query_string={"sort": "return_pct", "order": "desc", "per_page": 2}, headers=admin
    ).json
    assert body["paging"] == {"page": 1, "per_page": 2, "total": 9, "pages": 5}
    assert [t["params"] for t in body["trials"]] == [{"n1": 30, "n2": 60}, {"n1": 25, "n2": 40}]
    assert body["trials"][1]["metrics"]["trades"] == 0 and body["trials"][0]["seq"] == 7
    failed = client.get(f"{API}/{job.id}/trials", query_string={"status": "failed"}, headers=admin).json
    assert [(t["status"], t["error"], t["score"]) for t in failed["trials"]] == [("failed", "boom", None)]
    other = client.get(f"{API}/{job.id}/trials", headers=bearer("engineer"))
    assert other.status_code == 404 and other.json["error"]["code"] == "not_found"


def test_grid_size_api_says_what_a_submit_queues_and_writes_nothing(client, bearer, demo_dataset):
    headers = bearer("engineer")
    space = {"n1": {"start": 2, "stop": 201, "step": 1}, "n2": {"start": 10, "stop": 509, "step": 1}}
    size = client.post(f"{API}/grid-size", json={"strategy": "sma_cross", "paramSpace": space}, headers=headers)
    assert size.status_code == 200 and size.json == {"size": 100_000, "skipped": 18_528, "toRun": 81_472}
    assert db.session.query(OptimizationTask).count() == 0
    job = client.post(API, json=submit_body(demo_dataset.id, paramSpace=space), headers=headers).json
    assert (job["summary"]["gridSize"], job["summary"]["skipped"], job["summary"]["total"]) == (100_000, 18_528, 81_472)
    bad = client.post(f"{API}/grid-size", json={"strategy": "sma_cross", "paramSpace": {"n1": [5]}}, headers=headers)
    assert bad.status_code == 422 and "paramSpace" in [f["field"] for f in bad.json["error"]["details"]["fields"]]


def test_the_form_shows_the_grid_size_from_the_submit_function(app, signed_in, demo_dataset):
    client, _ = signed_in("engineer")
    assert 'id="grid-size-slot"' in client.get("/optimizations/new").get_data(as_text=True)
    html = client.get(
        "/optimizations/new/panel/grid-size",
        query_string={"strategy": "sma_cross", "param_n1": "5:20:5", "param_n2": "10, 40"},
    ).get_data(as_text=True)
    # the same numbers as the submit flash of this form: "8 grid points: 3 skipped (n1 ≥ n2), 5 to run"
    assert 'data-count="size">8<' in html and 'data-count="skipped">3<' in html and 'data-count="to-run">5<' in html
    bad = client.get(
        "/optimizations/new/panel/grid-size",
        query_string={"strategy": "sma_cross", "param_n1": "5:x", "param_n2": "10"},
    ).get_data(as_text=True)
    assert 'data-role="grid-problem"' in bad and "start:stop:step" in bad
    rsi = client.get(
        "/optimizations/new/panel/grid-size",
        query_string={
            "strategy": "rsi_reversion",
            "param_period": "5, 10",
            "param_lower": "30",
            "param_upper": "70, 80",
        },
    ).get_data(as_text=True)
    assert 'data-count="to-run">4<' in rsi


@pytest.mark.dialects  # JSON extraction, NULLS LAST, the count in SQL
def test_trials_page_sorts_filters_and_refuses_bad_input(app, signed_in, demo_dataset):
    client, _ = signed_in("engineer")
    owner = db.session.query(User).filter_by(username="engineer-user").one()
    job = _merged(owner, demo_dataset.id)
    assert 'id="trials-link"' in client.get(f"/optimizations/{job.id}").get_data(as_text=True)
    html = client.get(
        f"/optimizations/{job.id}/trials", query_string={"sort": "score", "order": "desc", "n2_max": "40"}
    ).get_data(as_text=True)
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr data-seq=") == 5 and rows.index('data-seq="6"') < rows.index('data-seq="4"')
    assert rows.count('data-role="zero-trades"') == 1 and 'aria-sort="descending"' in html
    bad = client.get(f"/optimizations/{job.id}/trials", query_string={"n1_min": "x"})
    assert bad.status_code == 422 and 'id="trials-problem"' in bad.get_data(as_text=True)


def test_a_100000_task_trials_page_stays_small_and_quick(signed_in, app):
    client, _ = signed_in("engineer", "owner")
    owner_id = db.session.scalar(db.select(User.id).where(User.username == "owner"))
    optimization_id = big_optimization(db.session.connection(), owner_id)
    db.session.commit()
    for query in ({}, {"sort": "score", "order": "desc", "n1_min": "10", "n1_max": "20", "page": "7"}):
        started = time.perf_counter()
        response = client.get(f"/optimizations/{optimization_id}/trials", query_string=query)
        elapsed = time.perf_counter() - started
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and len(response.data) < PAGE_BUDGET, len(response.data)
        assert elapsed < 2.0, elapsed
        assert html.count("<tr data-seq=") == 50
    # the parallel-coordinates plot draws the 50 best and about 250 spread tasks, not 100,000
    drawn = html.count("<polyline", html.index('id="parallel"'), html.index("</svg>", html.index('id="parallel"')))
    assert (
        analysis.PARALLEL_BEST + analysis.PARALLEL_SAMPLE - 10
        <= drawn
        <= analysis.PARALLEL_BEST + analysis.PARALLEL_SAMPLE
    )
    scores = [float(cell.split(">")[1].split("<")[0]) for cell in html.split('data-role="score"')[1:]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.dialects  # the heatmap's CTE, CASE binning and max()
def test_best_score_is_drawn_by_task_number_not_wall_clock(app, signed_in, demo_dataset):
    from app.optimization import charts

    # three improvements, all within the first 0.01 s: by time they would stand on one vertical line
    plot = charts.best_by_task([[1, 0.0, 1.0], [50, 0.005, 2.0], [400, 0.01, 3.0]], 1000)
    xs = [float(point.split(",")[0]) for point in plot["polyline"].split()]
    left, width = charts.FRAME.left, charts.FRAME.plot_w
    assert xs[0] == round(left + width * 1 / 1000, 1) and xs[-1] == left + width  # ends at task 1,000
    assert abs(plot["dots"][2]["x"] - (left + width * 0.4)) < 0.01 and "at task 400" in plot["dots"][2]["title"]
    client, _ = signed_in("engineer")
    owner = db.session.query(User).filter_by(username="engineer-user").one()
    job = _merged(owner, demo_dataset.id)
    html = client.get(f"/optimizations/{job.id}").get_data(as_text=True)
    assert "by task number" in html and f">task {job.done}</text>" in html


def test_parallel_coordinates_draw_the_best_tasks_on_top_in_their_score_colour(app, signed_in, demo_dataset):
    from app.core.charts import BEST, colour
    from app.optimization import charts

    client, _ = signed_in("engineer")
    owner = db.session.query(User).filter_by(username="engineer-user").one()
    job = _merged(owner, demo_dataset.id)  # 8 scored (return_pct = n1 - n2/10), 1 failed
    data = analysis.parallel(job)
    assert data["count"] == 8 and len(data["lines"]) == 8 and all(line["best"] for line in data["lines"])
    assert data["score"] == (pytest.approx(5 - 40 / 10), pytest.approx(30 - 60 / 10))  # (5, 40) worst, (30, 60) best
    assert data["axes"] == {"n1": (5, 30), "n2": (20, 80)}  # the grid's ranges, not just the tasks'
    plot = charts.parallel_coordinates(data)
    assert [a["name"] for a in plot["axes"]] == ["n1", "n2", "score"]
    top = plot["lines"][-1]  # drawn last: on top
    assert top["title"] == "n1=30, n2=60: 24" and top["colour"] == colour(1) == "#%02x%02x%02x" % BEST
    n1_axis_x = plot["axes"][0]["x"]
    first_point = top["points"].split()[0]
    assert first_point == f"{n1_axis_x:.1f},{charts.PARALLEL.top:.1f}"  # n1=30 sits at the top of its axis
    html = client.get(f"/optimizations/{job.id}/trials").get_data(as_text=True)
    assert '<svg id="parallel"' in html and html.count('data-role="best"') == 8
    assert 'data-axis="score"' in html and "n1=30, n2=60: 24</title>" in html


@pytest.mark.dialects  # grouped by a JSON value in SQL
def test_slices_and_importance_grouped_in_sql(app, signed_in, demo_dataset):
    client, _ = signed_in("engineer")
    owner = db.session.query(User).filter_by(username="engineer-user").one()
    job = _merged(owner, demo_dataset.id)  # return_pct = n1 - n2/10: n1 spans 25, n2 spans 6
    data = analysis.slices(job)
    assert data["count"] == 8
    n1 = {row["value"]: row for row in data["params"]["n1"]}
    assert n1[5]["count"] == 2 and n1[5]["mean"] == pytest.approx(2.0) and n1[5]["best"] == pytest.approx(3.0)
    importance = data["importance"]
    assert importance["n1"] > 0.8 and importance["n2"] < importance["n1"] and 0 <= importance["n2"] <= 1
    html = client.get(f"/optimizations/{job.id}/trials").get_data(as_text=True)
    assert html.count('<figure class="slice"') == 2 and 'data-param="n1"' in html
    # each caption counts the parameter's distinct values (a dict key Jinja's `.values` would shadow)
    assert f"· {len(n1)} value(s)" in html and "built-in method" not in html


def test_compare_two_optimizations_and_refuse_another_strategy_or_dataset(client, bearer, signed_in, demo_dataset):
    web, _ = signed_in("engineer")
    owner = db.session.query(User).filter_by(username="engineer-user").one()
    first, second = _merged(owner, demo_dataset.id), _merged(owner, demo_dataset.id)
    rsi = service.submit(
        owner,
        submit_body(
            demo_dataset.id,
            strategy="rsi_reversion",
            paramSpace={"period": [5], "lower": [30], "upper": [70]},
            cash=10_000,
            commission=0.0,
        ),
    )
    db.session.commit()
    html = web.get("/optimizations/compare", query_string={"a": first.id, "b": second.id}).get_data(as_text=True)
    assert html.count("<polyline data-optimization=") == 2 and html.count('<tr data-task="') == 6
    refused = web.get("/optimizations/compare", query_string={"a": first.id, "b": rsi.id})
    assert refused.status_code == 422 and "different strategies" in refused.get_data(as_text=True)
    assert "compare-plot" not in refused.get_data(as_text=True)
    admin = bearer("admin")
    body = client.get(f"{API}/compare", query_string={"a": first.id, "b": second.id}, headers=admin).json
    assert [o["id"] for o in body["optimizations"]] == [first.id, second.id]
    assert (
        body["optimizations"][0]["bestByTask"][-1][1] == first.best_score and len(body["optimizations"][1]["topN"]) == 3
    )
    bad = client.get(f"{API}/compare", query_string={"a": first.id, "b": rsi.id}, headers=admin)
    assert bad.status_code == 422 and "different strategies" in bad.json["error"]["message"]
    other_bars = submitted(owner, 80, {"n1": [5], "n2": [20]})  # a dataset of other bars
    apart = client.get(f"{API}/compare", query_string={"a": first.id, "b": other_bars.id}, headers=admin)
    assert apart.status_code == 422 and "different datasets" in apart.json["error"]["message"]
    missing = client.get(f"{API}/compare", query_string={"a": first.id}, headers=admin)
    assert missing.status_code == 422 and set(missing.json["error"]) == {"code", "message", "details"}
