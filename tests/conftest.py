"""Shared fixtures: a private Redis server, a fresh PostgreSQL database, and an
app per test on each backend (SQLite and PostgreSQL) with the schema built by
the real migrations."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path

import psycopg
import pytest
import redis
from flask import current_app
from flask_migrate import upgrade
from simple_websocket import Client, ConnectionClosed
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from app.core import rollup
from app.core.auth import service as auth
from app.extensions import db, limiter

pytest_plugins = ["tests.liveserver", "tests.docsync.twosites"]  # live_server (gunicorn + worker), sync_sites

PG_SERVER = os.environ.get("FORGELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of the tests' own, so runs never share queues; it can be restarted."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is needed for the tests (Debian package redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_database():
    name = f"forgeline_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'forgeline.db'}"


_migrated: set[str] = set()


def app_config(database_url: str, redis_url: str, **extra) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SECRET_KEY": "test-secret",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # scrypt's 0.3 s per user and sign-in, times a thousand tests
        # the remote sites the tests run are on 127.0.0.1, which production defaults refuse
        "OUTBOUND_ALLOWED_HOSTS": ["127.0.0.1"],
        # real workers (start_workers) find a dead job within seconds, not minutes
        "WORKER_TTL": 16,
        "SWEEP_SECONDS": 5,
        **extra,
    }


# Every database test runs on SQLite; PostgreSQL runs the tests marked `dialects`, those whose
# outcome depends on the database (migrations, locking, concurrency, JSON, SQL aggregates, date
# arithmetic, bulk writes, SQL text of its own): a local run and CI (CI=true) alike, since a
# PostgreSQL twin of an unmarked test repeats its SQLite run through the same portable SQL.
# FORGELINE_TEST_DATABASES=both runs every database test on both (the full pairing, e.g. to
# check that a new test needs the marker). The fault suite is about processes (killed horses,
# workers, Redis restarts), not databases: SQLite only even then, but for its tests marked
# `dialects` (the database cut under a busy worker is PostgreSQL's).
BOTH_DATABASES = os.environ.get("FORGELINE_TEST_DATABASES") == "both"
ONE_DATABASE = (Path(__file__).parent / "faults",)


def _postgresql_twin(item) -> bool:
    """A PostgreSQL run this session leaves out: it repeats a SQLite run of the same test."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or callspec.params.get("database_url") != "postgresql" or item.get_closest_marker("dialects"):
        return False
    return not BOTH_DATABASES or any(folder in Path(item.fspath).parents for folder in ONE_DATABASE)


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        (drop if _postgresql_twin(item) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter):
    fuzz = sys.modules.get("tests.core.test_fuzz")
    for line in fuzz.summary_lines() if fuzz else []:
        terminalreporter.write_line(line)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_database")


_apps: dict[tuple, tuple] = {}


@pytest.fixture
def app(database_url, redis_server, request):
    """The app under test. The test body runs in the context of a twin app with
    the same config, as another process would: requests then get fresh
    contexts (g, db.session) instead of sharing the test's.

    Building an app costs about 0.3 s (werkzeug compiles every URL rule), so the
    pair is built once per database and config and reused: each test gets the
    config back as it was, empty tables, an empty Redis and fresh rate limits."""
    marker = request.node.get_closest_marker("config")
    overrides = marker.kwargs if marker else {}
    key = (database_url, redis_server.url, repr(sorted(overrides.items())))
    if key not in _apps:
        config = app_config(database_url, redis_server.url, **overrides)
        _apps[key] = (create_app(config), create_app(config))
    app, twin = _apps[key]
    configs = {each: dict(each.config) for each in (app, twin)}
    limiter.reset()
    with twin.app_context():
        if database_url not in _migrated:
            upgrade()
            _migrated.add(database_url)
        yield app
        db.session.remove()
        _empty_tables()
    for each, config in configs.items():
        each.config.clear()
        each.config.update(config)
        with each.app_context():
            db.engine.dispose()
    redis.Redis.from_url(redis_server.url).flushdb()


@pytest.fixture(autouse=True)
def document_store(request, tmp_path):
    """Each test that builds the app its own document file store, seen by the app under test and
    by the test body's twin (the config is put back after the test)."""
    if "app" not in request.fixturenames:
        yield None
        return
    app = request.getfixturevalue("app")
    path = str(tmp_path / "store")
    app.config["DOCUMENT_STORE"] = path
    current_app.config["DOCUMENT_STORE"] = path
    yield path


def _empty_tables() -> None:
    """Empty every table and restart the ids at 1. On PostgreSQL a TRUNCATE of all 38 tables costs
    0.1 s (a new file for each table and index) while a test fills a few: only those are
    truncated, found by one probe, and every sequence is set back in one statement."""
    rollups = {
        table.name for spec in rollup.REGISTRY for table in spec.tables.values()
    }  # last: emptying a source adds their -1 rows
    tables = [t.name for t in reversed(db.metadata.sorted_tables) if t.name not in rollups] + sorted(rollups)
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            probe = " UNION ALL ".join(f"(SELECT '{table}' FROM {table} LIMIT 1)" for table in tables)
            filled = list(conn.execute(text(probe)).scalars())
            if filled:
                conn.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
            conn.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    def make(username: str = "alice", role: str = "viewer", password: str = "password123"):
        user = auth.create_user(username, password, role)
        db.session.commit()
        return user

    return make


def sign_in(client, username: str, password: str = "password123"):
    """Sign in through the real login form (with its CSRF token)."""
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def csrf_from(client, path: str = "/account") -> str:
    html = client.get(path).get_data(as_text=True)
    return html.split('name="csrf-token" content="')[1].split('"')[0]


@pytest.fixture
def signed_in(client, make_user):
    """A client signed in with the given role; returns (client, csrf token)."""

    def as_role(role: str = "operator", username: str | None = None):
        name = username or f"{role}-user"
        make_user(name, role)
        sign_in(client, name)
        return client, csrf_from(client)

    return as_role


@pytest.fixture
def bearer(app, make_user):
    """Authorization headers for a fresh user of the given role."""

    def headers(role: str = "operator") -> dict[str, str]:
        user = make_user(f"api-{role}-{uuid.uuid4().hex[:6]}", role)
        _, token = auth.create_token(user, "test")
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return headers


def run_worker(app, queues=None) -> None:
    """Drain the queues (default: all of the app's) with a real RQ worker (in-process, burst mode)."""
    from rq import Queue

    from app.core.jobs.worker import ForgelineSimpleWorker

    connection = app.extensions["redis"]
    names = queues or app.extensions["capabilities"].queues
    worker = ForgelineSimpleWorker([Queue(q, connection=connection) for q in names], connection=connection)
    worker.work(burst=True, with_scheduler=False)


@pytest.fixture
def start_workers(app, tmp_path):
    """Start n real forking `flask worker` processes (on the given queues), on the test's database
    (or `database_url`, e.g. the same database through a forwarder) and Redis; they are stopped at
    the end of the test."""
    import sys

    from rq import Worker

    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "test-secret",
        "WORKER_TTL": str(app.config["WORKER_TTL"]),
        "SWEEP_SECONDS": str(app.config["SWEEP_SECONDS"]),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    flask = str(Path(sys.executable).with_name("flask"))
    connection = app.extensions["redis"]
    started: list[subprocess.Popen] = []

    def spawn(queues: str | None, database_url: str | None) -> subprocess.Popen:
        # stderr goes to a file, read back through process.stderr: a pipe nobody drains fills up
        # (64 KB: a few tracebacks) and blocks the worker in its next log line
        log = tmp_path / f"worker-{len(started)}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [flask, "--app", "app", "worker", *(["--queues", queues] if queues else [])],
                env={**env, "DATABASE_URL": database_url} if database_url else env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        process.stderr = log.open("rb")
        return process

    def start(n: int = 1, queues: str | None = None, database_url: str | None = None) -> list[subprocess.Popen]:
        processes = [spawn(queues, database_url) for _ in range(n)]
        started.extend(processes)
        deadline = time.monotonic() + 60  # a loaded 2-core machine takes 20 s to import the app twice
        while not {p.pid for p in started if p.poll() is None} <= {w.pid for w in Worker.all(connection=connection)}:
            failed = [p for p in processes if p.poll() is not None]
            if failed or time.monotonic() > deadline:
                for process in processes:
                    process.kill()
                errors = (failed or processes)[0].stderr.read().decode()[-2000:]
                raise RuntimeError("worker did not start: " + errors)
            time.sleep(0.1)
        return processes

    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stderr.close()


@pytest.fixture
def worker_process(start_workers):
    """A real forking `flask worker` in its own process, on the test's database and Redis."""
    return start_workers(1)[0]


def wait_for(predicate, timeout: float = 15, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def ws_url(app):
    """A real, threaded HTTP server for the app, on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"ws://127.0.0.1:{server.server_port}/ws"
    server.shutdown()
    server.server_close()


@pytest.fixture
def connect(ws_url, bearer):
    """Opens WebSocket clients, as an operator unless told otherwise; closes them after the test."""
    clients = []

    def open_(headers=None, **options):
        ws = Client.connect(ws_url, headers=bearer() if headers is None else headers, **options)
        clients.append(ws)
        return ws

    yield open_
    for ws in clients:
        with suppress(ConnectionClosed, OSError):  # already closed by the test
            ws.close()
