"""Who may listen on the live channel: every topic's rule (the capability's `Access`) is checked
at subscribe and again when the user's role changes; the handshake's Origin is checked; the
deployment's namespace keeps two apps on one Redis apart; the audit log follows the same rule
as the API. Real server, real sockets, real Redis."""

import json
import re
from pathlib import Path

import pytest
from simple_websocket import Client, ConnectionClosed, ConnectionError
from werkzeug.utils import import_string

from app import create_app
from app.core import live
from app.core.auth import service as auth
from app.extensions import db
from app.optimization import service as optimizations
from tests.conftest import app_config, sign_in, wait_for
from tests.helpers import next_event, send, until_live
from tests.optimization.factory import submitted

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SPACE = {"n1": [5, 10], "n2": [40, 60]}


@pytest.fixture
def as_user(make_user):
    """Authorization headers for a new user of the given role; returns (user, headers)."""

    def make(username: str, role: str):
        user = make_user(username, role)
        _, token = auth.create_token(user, "test")
        db.session.commit()
        return user, {"Authorization": f"Bearer {token}"}

    return make


def optimization_of(owner):
    return submitted(owner, 200, SPACE)


def first_chunk(job) -> str:
    return optimizations.chunk_jobs(job)[0].id


def answer(ws, timeout=6.0):
    """The next message that is not an event of a topic (subscribed / error / unsubscribed)."""
    while (raw := ws.receive(timeout=timeout)) is not None:
        message = json.loads(raw)
        if message["topic"] == "":
            return message
    return None


@sqlite_only
def test_a_viewer_is_refused_operator_topics_and_other_users_optimizations(app, as_user, connect):
    owner, owner_headers = as_user("olive", "engineer")
    job = optimization_of(owner)
    _, viewer_headers = as_user("vera", "viewer")
    ws = connect(headers=viewer_headers)

    forbidden = ["queue:default", f"optimization:{job.id}", f"job:{first_chunk(job)}", "doc-sync:1", "ops", "nope:1"]
    send(ws, "subscribe", *forbidden, "eco:1")
    refusal, ack = answer(ws), answer(ws)
    assert refusal["type"] == "error" and refusal["data"]["code"] == "forbidden"
    assert sorted(refusal["data"]["details"]["topics"]) == sorted(forbidden)
    assert (ack["type"], ack["data"]["topics"]) == ("subscribed", ["eco:1"])  # ECOs are for everyone
    for topic in forbidden:
        live.publish(topic, "leak", {"secret": topic})
    live.publish("eco:1", "marker", {})
    assert next_event(ws)["type"] == "marker"  # Redis keeps order: a leak would have come first
    hub = app.extensions["live_hub"]
    assert [s.topics for s in hub.subscribers] == [frozenset({"eco:1"})]

    mine = connect(headers=owner_headers)  # the owner may, as the API lets her read it
    send(mine, "subscribe", f"optimization:{job.id}", f"job:{first_chunk(job)}")
    assert answer(mine)["data"]["topics"] == sorted([f"optimization:{job.id}", f"job:{first_chunk(job)}"])
    live.publish(f"optimization:{job.id}", "optimization_progress", {"id": job.id})
    assert next_event(mine)["topic"] == f"optimization:{job.id}"


@sqlite_only
def test_an_operator_sees_queues_and_every_job_but_not_other_users_optimizations(app, as_user, connect):
    owner, _ = as_user("olive", "engineer")
    job = optimization_of(owner)
    _, headers = as_user("otto", "operator")
    ws = connect(headers=headers)
    send(ws, "subscribe", "queue:optimize", f"job:{first_chunk(job)}", f"optimization:{job.id}")
    refusal, ack = answer(ws), answer(ws)
    assert refusal["data"]["details"]["topics"] == [f"optimization:{job.id}"]
    assert ack["data"]["topics"] == sorted(["queue:optimize", f"job:{first_chunk(job)}"])


@sqlite_only
def test_after_an_admin_lowers_a_role_the_socket_stops_receiving_operator_data(app, as_user, connect):
    user, headers = as_user("otto", "operator")
    ws = connect(headers=headers)
    send(ws, "subscribe", "queue:default", "flow-run:abc")
    until_live(ws, "queue:default")

    auth.update_user(db.session.get(type(user), user.id), role="viewer")
    db.session.commit()
    gone = answer(ws)
    assert (gone["type"], gone["data"]["topics"]) == ("unsubscribed", ["queue:default"])
    kept = answer(ws)  # the page re-reads what it may still see
    assert (kept["type"], kept["data"]["topics"]) == ("subscribed", ["flow-run:abc"])
    live.publish("queue:default", "job_started", {"id": "x"})
    live.publish("flow-run:abc", "marker", {})
    assert next_event(ws)["type"] == "marker"
    send(ws, "subscribe", "queue:default")  # and asking again does not bring it back
    assert answer(ws)["type"] == "error"

    auth.update_user(db.session.get(type(user), user.id), active=False)  # deactivated: the socket closes
    db.session.commit()
    with pytest.raises(ConnectionClosed):
        while True:
            ws.receive(timeout=6)
    assert wait_for(lambda: not app.extensions["live_hub"].subscribers)


@sqlite_only
def test_a_foreign_origin_is_refused_even_with_the_session_cookie(app, client, make_user, ws_url):
    make_user("olga", "operator")
    sign_in(client, "olga")
    cookie = {"Cookie": f"session={client.get_cookie('session').value}"}
    host = "127.0.0.1"  # simple_websocket's client sends the Host header without the port
    for origin in ("https://evil.example", "null", "file://"):
        with pytest.raises(ConnectionError) as refused:
            Client.connect(ws_url, headers={**cookie, "Origin": origin})
        assert refused.value.status_code == 403
    for origin in (f"http://{host}:1", f"https://{host}.evil.example"):
        with pytest.raises(ConnectionError):
            Client.connect(ws_url, headers={**cookie, "Origin": origin})
    for origin in (f"http://{host}", f"https://{host}"):  # its own host (TLS may end at a proxy)
        Client.connect(ws_url, headers={**cookie, "Origin": origin}).close()
    Client.connect(ws_url, headers=cookie).close()  # no Origin: not a browser, the cookie is its own


@sqlite_only
@pytest.mark.config(LIVE_ALLOWED_ORIGINS=["https://forgeline.example.com"])
def test_allowed_origins_admit_a_reverse_proxys_name(app, client, make_user, ws_url):
    make_user("olga", "operator")
    sign_in(client, "olga")
    cookie = {"Cookie": f"session={client.get_cookie('session').value}"}
    Client.connect(ws_url, headers={**cookie, "Origin": "https://forgeline.example.com"}).close()
    with pytest.raises(ConnectionError):
        Client.connect(ws_url, headers={**cookie, "Origin": "http://forgeline.example.com"})


@sqlite_only
def test_two_deployments_on_one_redis_do_not_see_each_others_events(app, redis_server, connect):
    other = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"], redis_server.url, REDIS_NAMESPACE="staging"))
    ws = connect()
    send(ws, "subscribe", "flow-run:7")
    until_live(ws, "flow-run:7")
    with other.app_context():
        live.publish("flow-run:7", "foreign", {})
        assert live.channel() == "staging:events"
        other_keys = (optimizations.rediskeys.key("x"), live.channel())
    live.publish("flow-run:7", "marker", {})
    assert next_event(ws)["type"] == "marker"
    assert live.channel() == "forgeline:events" and optimizations.rediskeys.key("x") not in other_keys


def test_the_audit_log_withholds_what_the_api_hides(app, signed_in, make_user):
    owner = make_user("olive", "engineer")
    theirs = optimization_of(owner)
    operator_client, _ = signed_in("operator", "otto")
    assert operator_client.get(f"/api/v1/optimizations/{theirs.id}").status_code == 404
    mine = optimization_of(auth.get_user("otto"))

    page = operator_client.get("/audit/?entity=optimization").get_data(as_text=True)
    assert page.count("paramSpace") == 1  # its own submit only
    assert "withheld" in page and "&#34;n1&#34;" in page  # the row stays, its contents do not (field by field)
    assert operator_client.get(f"/api/v1/optimizations/{mine.id}").status_code == 200

    admin_client = app.test_client()
    sign_in(admin_client, make_user("root", "admin").username)
    page = admin_client.get("/audit/?entity=optimization").get_data(as_text=True)
    assert page.count("paramSpace") == 2 and "withheld" not in page


ROOT = Path(__file__).resolve().parents[2]
# the topic prefixes the app publishes on and its pages subscribe to, as they are written
TOPIC_LITERALS = (
    (re.compile(r'publish(?:_on_commit)?\(\s*f"([a-z][a-z_-]*):\{'), "app", "*.py"),
    (re.compile(r'def topic\([^)]*\) -> str:\s*return f"([a-z][a-z_-]*):\{'), "app", "*.py"),
    (re.compile(r'"([a-z][a-z_-]*):" ~'), "templates", "*.html"),
)


def test_every_topic_the_app_uses_has_a_rule_and_every_rule_resolves(app):
    used = {
        (match, str(path.relative_to(ROOT)))
        for pattern, folder, glob in TOPIC_LITERALS
        for path in (ROOT / folder).rglob(glob)
        for match in pattern.findall(path.read_text())
    }
    assert {prefix for prefix, _ in used} >= {"job", "queue", "eco", "optimization", "doc-sync", "flow-run"}
    declared = app.extensions["capabilities"].access
    assert not [(prefix, where) for prefix, where in used if prefix not in declared], "topics nobody authorises"
    for access in declared.values():
        if access.may_see:
            assert callable(import_string(access.may_see)), access
