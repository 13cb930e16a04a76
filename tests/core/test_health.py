import threading
import time

import pytest

from app import create_app
from tests.conftest import app_config, free_port


def test_health_reports_each_dependency(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok", "version": "0.1.0"}


def test_health_is_503_when_redis_is_down(database_url):
    app = create_app(app_config(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["status"] == "degraded"
    assert response.json["redis"].startswith("down")
    assert response.json["database"] == "ok"


def test_dashboard_and_queues_page_open_and_say_so_when_redis_is_down(app, make_user, database_url):
    from tests.conftest import sign_in

    make_user("ops", "operator")
    down = create_app(app_config(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    client = down.test_client()
    sign_in(client, "ops")
    for path in ("/", "/queues/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert '<p class="flash flash-error">Redis does not answer: ' in page.get_data(as_text=True), path


@pytest.mark.config(WEB_RENDER_SLOTS=1)
def test_health_answers_while_every_render_slot_is_taken(client):
    """Heavy pages wait for a render slot (app/core/slots.py); /health takes none, so it answers at once."""
    slots = client.application.extensions["render_slots"]
    assert slots.acquire(timeout=5)  # the one slot, as a heavy page would hold it
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(client.get("/login").status_code))
    try:
        waiting.start()
        started = time.perf_counter()
        assert client.get("/health").status_code == 200
        assert time.perf_counter() - started < 1
        waiting.join(0.5)
        assert waiting.is_alive() and not answers  # the page waits for the slot
    finally:
        slots.release()
    waiting.join(5)
    assert answers == [200]
