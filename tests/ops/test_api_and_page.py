"""The summary API (window set, error shape, roles) and the overview page (cards, window in the URL)."""

import pytest

from tests.ops import scene

API = "/api/v1/parallel-ops/summary"


def test_the_summary_answers_for_every_window_and_defaults_to_seven_days(app, client, bearer):
    scene.doc_sync()
    operator = bearer("operator")
    answer = client.get(API, headers=operator)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["window"]["days"] == 7 and body["doc_sync"]["total"] == 5 and body["doc_sync"]["success_rate"] == 0.5
    assert set(body) == {
        "window",
        "doc_sync",
        "workflow_runs",
        "flow_runs",
        "optimizations",
        "exports",
        "breakages",
        "consumption",
        "overlay_cache",
        "job_history",
    }
    assert body["workflow_runs"]["failed_rate"] is None  # nothing to divide: null, not 0
    for days in (1, 7, 14, 30, 90):
        assert client.get(f"{API}?window_days={days}", headers=operator).json["window"]["days"] == days


@pytest.mark.parametrize(
    "query",
    ["window_days=5", "window_days=0", "window_days=91", "window_days=abc", "window_days=-1", "window_days=7.5"],
)
def test_a_window_outside_the_set_is_422_naming_it(app, client, bearer, query):
    answer = client.get(f"{API}?{query}", headers=bearer("operator"))
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    assert error["code"] and error["message"]
    named = error["details"].get("field") or error["details"]["fields"][0]["field"]
    assert named == "window_days"


def test_an_unknown_parameter_is_422(app, client, bearer):
    answer = client.get(f"{API}?window=7", headers=bearer("operator"))
    assert answer.status_code == 422 and "error" in answer.json


def test_operators_and_admins_read_it_others_do_not(app, client, bearer):
    assert client.get(API).status_code == 401
    for role, status in (("viewer", 403), ("engineer", 403), ("operator", 200), ("admin", 200)):
        answer = client.get(API, headers=bearer(role))
        assert answer.status_code == status, (role, answer.json)
        if status == 403:
            assert answer.json["error"]["code"]


def test_the_page_shows_a_card_per_area_with_the_window_in_the_url(app, signed_in):
    scene.doc_sync()
    scene.incidents()
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/").get_data(as_text=True)
    cards = (
        "doc-sync",
        "workflow-runs",
        "flow-runs",
        "optimizations",
        "exports",
        "breakages",
        "consumption",
        "overlay-cache",
        "job-history",
    )
    for card in (f"card-{name}" for name in cards):
        assert f'id="{card}"' in html
    assert "last 7 days" in html and "50.0 %" in html  # doc sync success rate
    assert "75.0 %" in html  # breakages open rate
    assert 'href="/parallel-ops/?window_days=14"' in html
    two_weeks = client.get("/parallel-ops/?window_days=14").get_data(as_text=True)
    assert "last 14 days" in two_weeks and '<strong aria-current="page">14 d</strong>' in two_weeks
    assert "last 7 days" in client.get("/parallel-ops/?window_days=5").get_data(
        as_text=True
    )  # not a window: the default


@pytest.mark.parametrize(
    ("role", "sees"), [("operator", True), ("admin", True), ("engineer", False), ("viewer", False)]
)
def test_the_page_is_in_the_operations_menu_for_operators_and_admins_only(app, signed_in, role, sees):
    client, _ = signed_in(role)
    assert ('href="/parallel-ops/"' in client.get("/account").get_data(as_text=True)) is sees
    assert client.get("/parallel-ops/").status_code == (200 if sees else 403)
