"""The summary and trends exports (issue 19 point 5): one list of rows rendered three ways, so a
figure read back from JSON, CSV and Markdown is the same number; filenames carry the window;
bad input is 422 naming the parameter."""

import csv
import io
import json
from datetime import datetime

import pytest

from app.core.timeutil import utcnow
from app.ops import export
from tests.ops import scene

API = "/api/v1/parallel-ops"


def typed(cell: str):
    """A value cell of CSV or Markdown as JSON has it: empty is null, true/false, then int, float, or text."""
    if cell == "":
        return None
    if cell in ("true", "false"):
        return cell == "true"
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def from_json(text: str) -> list[tuple]:
    return [tuple(row[c] for c in export.SUMMARY_COLUMNS) for row in json.loads(text)]


def from_csv(text: str) -> list[tuple]:
    header, *rows = csv.reader(io.StringIO(text))
    assert tuple(header) == export.SUMMARY_COLUMNS
    return [(*names, typed(value)) for *names, value in rows]


def from_md(text: str) -> list[tuple]:
    header, rule, *rows = text.splitlines()
    assert header == "| area | figure | key | value |" and rule == "|---|---|---|---|"
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    return [(*names, typed(value)) for *names, value in cells]


@pytest.mark.dialects
def test_the_three_formats_carry_the_same_figures(app, client, bearer, monkeypatch):
    now = utcnow()
    monkeypatch.setattr("app.ops.summary.utcnow", lambda: now)  # one window for the four requests
    scene.doc_sync()
    scene.workflow_runs()
    scene.incidents()
    scene.job_history()
    scene.exports()
    operator = bearer("operator")
    bodies = {}
    for fmt in ("json", "csv", "md"):
        answer = client.get(f"{API}/summary/export?format={fmt}&window_days=7", headers=operator)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.headers["Content-Disposition"] == f'attachment; filename="parallel-ops-summary-7d.{fmt}"'
        assert answer.mimetype == {"json": "application/json", "csv": "text/csv", "md": "text/markdown"}[fmt]
        bodies[fmt] = answer.get_data(as_text=True)
    rows = from_json(bodies["json"])
    assert rows == from_csv(bodies["csv"]) == from_md(bodies["md"])
    figures = {(area, figure, key): value for area, figure, key, value in rows}
    assert len(figures) == len(rows)  # every row names one figure
    # the same numbers the summary answers, read back from the file
    summary = client.get(f"{API}/summary?window_days=7", headers=operator).json
    assert figures["window", "days", ""] == 7 and figures["window", "end", ""] == now.isoformat()
    assert figures["doc_sync", "total", ""] == summary["doc_sync"]["total"] == 5
    assert figures["doc_sync", "by_status", "failed"] == 2
    assert figures["doc_sync", "success_rate", ""] == 0.5
    assert figures["doc_sync", "sites.total", "alpha"] == 2
    assert figures["workflow_runs", "by_result_code", "BLOCK"] == 1
    assert figures["exports", "bom_delta.failed", ""] == 1
    assert figures["exports", "workorder_packs.by_status", "done"] == 2
    assert figures["breakages", "helpdesk_by_status", "dead"] == 1
    assert figures["job_history", "failed", "sync"] == 3 and figures["job_history", "duration_p50", "sync"] == 10.0
    assert figures["flow_runs", "failed_rate", ""] is None  # nothing to divide: null, an empty cell in CSV and Markdown
    assert figures["job_history", "duration_p95", "exports"] is None


def test_rows_flatten_nested_counts_lists_and_times():
    summary = {
        "window": {"days": 1, "start": datetime(2026, 1, 1), "end": datetime(2026, 1, 2)},
        "area": {"total": 3, "by_status": {"ok": 2, "failed": 1}, "part": {"rate": 0.25, "by_kind": {"a": 1}}},
        "queues": [{"queue": "q1", "total": 4, "p95": None}],
    }
    assert export.summary_rows(summary) == [
        ("window", "days", "", 1),
        ("window", "start", "", "2026-01-01T00:00:00"),
        ("window", "end", "", "2026-01-02T00:00:00"),
        ("area", "total", "", 3),
        ("area", "by_status", "ok", 2),
        ("area", "by_status", "failed", 1),
        ("area", "part.rate", "", 0.25),
        ("area", "part.by_kind", "a", 1),
        ("queues", "total", "q1", 4),
        ("queues", "p95", "q1", None),
    ]


TRENDS = {
    "window": {"days": 14},
    "bucket_days": 7,
    "buckets": [
        {"start": datetime(2026, 1, 1), "end": datetime(2026, 1, 8), "doc_sync": {"total": 4, "failed": 1}},
        {
            "start": datetime(2026, 1, 8),
            "end": datetime(2026, 1, 15),
            "doc_sync": {"total": 0, "failed": 0},
            "exports": {"failed": 2},
        },
    ],
}


def test_trends_rows_are_bucket_start_by_area_by_figure():
    rows = export.trends_rows(TRENDS)
    assert rows == [
        ("2026-01-01T00:00:00", "doc_sync", "total", "", 4),
        ("2026-01-01T00:00:00", "doc_sync", "failed", "", 1),
        ("2026-01-08T00:00:00", "doc_sync", "total", "", 0),
        ("2026-01-08T00:00:00", "doc_sync", "failed", "", 0),
        ("2026-01-08T00:00:00", "exports", "failed", "", 2),
    ]
    text = export.render(export.TRENDS_COLUMNS, rows, "csv")
    assert text.splitlines()[:2] == ["bucket_start,area,figure,key,value", "2026-01-01T00:00:00,doc_sync,total,,4"]
    md = export.render(export.TRENDS_COLUMNS, rows, "md").splitlines()
    assert (
        md[0] == "| bucket_start | area | figure | key | value |"
        and md[-1] == "| 2026-01-08T00:00:00 | exports | failed |  | 2 |"
    )
    assert len(md) == 2 + len(rows)


def test_a_cell_a_spreadsheet_would_run_is_quoted_in_csv():
    text = export.render(export.SUMMARY_COLUMNS, [("doc_sync", "sites.total", "=cmd()", 1)], "csv")
    assert text.splitlines()[1] == "doc_sync,sites.total,'=cmd(),1"


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("summary/export?format=xml", "format"),
        ("summary/export?format=json&window_days=5", "window_days"),
        ("trends/export?format=json", "format"),
        ("trends/export?format=csv&bucket_days=3", "bucket_days"),
        ("trends/export?format=csv&window_days=1&bucket_days=7", "bucket_days"),
        ("trends/export?format=md&window_days=abc", "window_days"),
    ],
)
def test_bad_input_is_422_naming_the_parameter(app, client, bearer, path, named):
    answer = client.get(f"{API}/{path}", headers=bearer("operator"))
    assert answer.status_code == 422, answer.get_data(as_text=True)
    details = answer.json["error"]["details"]
    assert (details.get("field") or details["fields"][0]["field"]) == named


def test_exports_are_for_operators_and_admins(app, client, bearer):
    assert client.get(f"{API}/summary/export?format=csv").status_code == 401
    assert client.get(f"{API}/summary/export?format=csv", headers=bearer("viewer")).status_code == 403


@pytest.mark.dialects
def test_the_trends_export_carries_the_trends_figures(app, client, bearer, monkeypatch):
    now = utcnow()
    monkeypatch.setattr("app.ops.trends.utcnow", lambda: now)  # one window for the three requests
    scene.doc_sync()
    scene.job_history()
    operator = bearer("operator")
    answer = client.get(f"{API}/trends/export?format=csv&window_days=14&bucket_days=7", headers=operator)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="parallel-ops-trends-14d-by-7d.csv"'
    header, *rows = csv.reader(io.StringIO(answer.get_data(as_text=True)))
    assert tuple(header) == export.TRENDS_COLUMNS == ("bucket_start", "area", "figure", "key", "value")
    md = client.get(f"{API}/trends/export?format=md&window_days=14&bucket_days=7", headers=operator)
    md_rows = [[c.strip() for c in row.strip("|").split(" | ")] for row in md.get_data(as_text=True).splitlines()[2:]]
    assert md_rows == rows
    trend = client.get(f"{API}/trends?window_days=14&bucket_days=7", headers=operator).json
    assert len({start for start, *_ in rows}) == len(trend["buckets"]) == 2
    got = {(start, area, figure): typed(value) for start, area, figure, key, value in rows if not key}
    for bucket in trend["buckets"]:
        start = datetime.fromisoformat(bucket["start"]).isoformat()
        assert got[(start, "doc_sync", "total")] == bucket["doc_sync"]["total"]
        assert got[(start, "doc_sync", "dead_letter")] == bucket["doc_sync"]["dead_letter"]
    assert sum(got[(s, "doc_sync", "failed")] for s in {r[0] for r in rows}) == sum(
        b["doc_sync"]["failed"] for b in trend["buckets"]
    )


def test_the_overview_offers_the_exports_for_its_window(app, signed_in):
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/?window_days=30").get_data(as_text=True)
    for fmt in ("json", "csv", "md"):
        assert f'href="/api/v1/parallel-ops/summary/export?format={fmt}&amp;window_days=30"' in html
    for fmt in ("csv", "md"):
        assert f'href="/api/v1/parallel-ops/trends/export?format={fmt}&amp;window_days=30&amp;bucket_days=1"' in html
    download = client.get("/api/v1/parallel-ops/summary/export?format=csv&window_days=30")  # the session is enough
    assert download.status_code == 200 and download.get_data(as_text=True).startswith("area,figure,key,value")
