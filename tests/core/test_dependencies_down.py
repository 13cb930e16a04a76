"""Redis or the database down: every request answers 503 in the error shape (a page that
says so in the browser), never a 500, and nothing claims work was queued that was not."""

import pytest

from app import create_app
from app.core.jobs.models import JobRecord
from app.extensions import db
from tests.conftest import app_config, free_port, sign_in


def _redis_down(database_url: str):
    return create_app(app_config(database_url, f"redis://127.0.0.1:{free_port()}/0"))


def _assert_unavailable(response, code: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]


@pytest.mark.parametrize("path", ["/api/v1/queues", "/api/v1/workers", "/api/v1/queues/failed"])
def test_api_answers_503_in_the_error_shape_when_redis_is_down(app, bearer, database_url, path):
    headers = bearer("admin")
    response = _redis_down(database_url).test_client().get(path, headers=headers)
    _assert_unavailable(response, "redis_unavailable")


def test_pages_say_redis_is_down_with_503(app, make_user, database_url):
    make_user("ops", "operator")
    client = _redis_down(database_url).test_client()
    assert sign_in(client, "ops").status_code == 302  # signing in does not need Redis
    for path in ("/queues/", "/queues/panel", "/queues/failed", "/queues/jobs/nothing"):
        page = client.get(path)
        assert page.status_code in (200, 503), path  # a page with a flash, or the 503 page
        assert "Redis does not answer" in page.get_data(as_text=True), path


def test_a_job_redis_did_not_take_is_a_503_not_a_202(app, bearer, database_url):
    headers = bearer("operator")
    response = _redis_down(database_url).test_client().post("/api/v1/jobs/demo", json={"seconds": 1}, headers=headers)
    _assert_unavailable(response, "redis_unavailable")
    db.session.expire_all()
    record = db.session.query(JobRecord).one()  # kept, and it says why it never ran
    assert record.status == "failed" and record.error.startswith("could not enqueue")


def test_database_down_is_503_for_pages_api_and_login(redis_server):
    down = create_app(app_config(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none", redis_server.url))
    client = down.test_client()
    _assert_unavailable(
        client.get("/api/v1/queues", headers={"Authorization": "Bearer fl_nothing"}), "database_unavailable"
    )
    page = sign_in(client, "alice", "x")
    assert page.status_code == 503
    assert "database" in page.get_data(as_text=True).lower()
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json["database"].startswith("down: ") and "connect" in health.json["database"].lower()
