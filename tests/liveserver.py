"""A live Forgeline for tests that need real processes: gunicorn with two web
processes and one RQ worker (`flask --app app worker`), on a fresh SQLite
file, the tests' private Redis and a fresh PROMETHEUS_MULTIPROC_DIR.

How to use it: load this module as a pytest plugin from the test module,

    pytest_plugins = ["tests.liveserver"]

    def test_something(live_server):
        urllib.request.urlopen(f"{live_server.url}/health")

Why `pytest_plugins` and not `from tests.liveserver import live_server`:
pytest registers a plugin once per session (by module name), so every module
that names it shares one FixtureDef, hence ONE server per session. A fixture
imported into two test modules is two fixture definitions, and a
session-scoped one then starts a second server. (Once tests/conftest.py names
the plugin itself, test modules need not.)

What the fixture does, bounded in time (STARTUP_TIMEOUT):
- `flask --app app db upgrade` on a new SQLite file (the real migrations);
- `flask --app app users create admin --role admin --password admin-password`;
- gunicorn `-c app/gunicorn_conf.py -w 2 -b 127.0.0.1:<free port> wsgi:app`
  and one `flask --app app worker --name <unique>`;
- waits until GET /health answers 200 and the worker is registered in Redis;
- yields a LiveServer (url, redis_url, database_url, admin, metrics_dir, ...),
  which can also kill -9 its worker and start a new one;
- at the end sends SIGTERM (then SIGKILL) to exactly the processes it started.
If startup fails, the failure message carries the tail of each process's
output.

`running_instance(base, extra_env)` is the same as a context manager, for tests
that need several instances side by side (two sites syncing documents).

Redis: a redis-server of its own (tests/conftest.py's RedisServer, on a free
port), not the shared `redis_server`: in-process tests FLUSHDB that one after
each test and tests/core/test_live.py restarts it, and either wipes the live
worker's registration (Redis keeps no data across the restart) and queues; its
pub/sub channel would also mix in-process events into the live pages.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest
import redis
from rq import Worker

from app.config import ROOT
from tests.conftest import RedisServer, free_port

BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
WEB_PROCESSES = 2
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password"
SECRET_KEY = "live-server-test-secret"


class Credentials(NamedTuple):
    """`.username` / `.password`, or unpacked: `username, password = live_server.admin`."""

    username: str
    password: str


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    redis_url: str
    database_url: str
    metrics_dir: Path  # PROMETHEUS_MULTIPROC_DIR of the web processes and the worker
    worker_name: str
    env: dict[str, str]  # the environment the processes run with (for more `flask` commands)
    admin: Credentials = field(default_factory=lambda: Credentials(ADMIN_USERNAME, ADMIN_PASSWORD))
    web_processes: int = WEB_PROCESSES
    logs: dict[str, Path] = field(default_factory=dict)
    processes: "_Processes | None" = field(default=None, repr=False)

    def kill_worker(self) -> None:
        """SIGKILL the worker and the work horse running its job (RQ puts the horse in a process
        group of its own): no callback, no cleanup, as when a host dies."""
        process = self.processes.running.pop("worker")
        horses = _children(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        for pid in horses:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(STOP_TIMEOUT)

    def start_worker(self) -> str:
        """Start a fresh worker (after kill_worker) and wait until Redis lists it; returns its name."""
        self.worker_name = f"live-worker-{uuid.uuid4().hex[:8]}"
        self.processes.start("worker", _worker_argv(self.worker_name))
        _wait_for_worker(self.processes, self.redis_url, self.worker_name)
        return self.worker_name

    def flask(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run `flask --app app ARGS` against this server's database and Redis."""
        return subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _children(pid: int) -> list[int]:
    """Child processes of `pid`, from /proc (Linux)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # state, then the parent's pid
            children.append(int(stat.parent.name))
    return children


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


class _Processes:
    """The long-running processes this fixture started, each with its log file."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env, self.logdir = env, logdir
        self.running: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = self.logdir / f"{name}.log"
        with log.open("ab") as out:  # a restarted worker appends to the log of the one before
            # own process group, so a Ctrl-C of pytest does not hit them before we stop them cleanly
            process = subprocess.Popen(
                argv,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.running[name], self.logs[name] = process, log
        return process

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")

    def report(self) -> str:
        return "\n".join(f"--- {name} (tail of {path}) ---\n{_tail(path)}" for name, path in self.logs.items())

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # gunicorn: graceful; RQ worker: warm shutdown
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.running.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _run_step(env: dict[str, str], argv: list[str], logdir: Path, name: str) -> None:
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=STARTUP_TIMEOUT, check=False)
    (logdir / f"{name}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _worker_registered(redis_url: str, name: str) -> bool:
    try:
        return any(w.name == name for w in Worker.all(connection=redis.Redis.from_url(redis_url)))
    except redis.RedisError:
        return False


def _worker_argv(name: str) -> list[str]:
    return [str(BIN / "flask"), "--app", "app", "worker", "--name", name]


def _wait_for_worker(processes: "_Processes", redis_url: str, name: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _worker_registered(redis_url, name):
        processes.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker {name} not in Redis within {STARTUP_TIMEOUT:.0f} s")
        time.sleep(0.1)


@contextmanager
def running_instance(base: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """One whole Forgeline (gunicorn, a worker, its own Redis and SQLite file) under `base`;
    several can run side by side (e.g. two sites syncing with each other)."""
    redis_server = RedisServer(base)
    redis_server.start()
    metrics_dir = base / "prometheus"
    metrics_dir.mkdir()
    logdir = base / "logs"
    logdir.mkdir()
    database_url = f"sqlite:///{base / 'forgeline.db'}"
    redis_url = redis_server.url
    port = free_port()
    worker_name = f"live-worker-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("METRICS_TOKEN", "FLASK_APP", "PYTEST_CURRENT_TEST")},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "RATELIMIT_STORAGE_URI": "memory://",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    flask = [str(BIN / "flask"), "--app", "app"]
    processes = _Processes(env, logdir)
    try:
        _run_step(env, [*flask, "db", "upgrade"], logdir, "db-upgrade")
        processes.start(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "-c",
                "app/gunicorn_conf.py",
                "-w",
                str(WEB_PROCESSES),
                "-b",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
        )
        processes.start("worker", _worker_argv(worker_name))
        _run_step(
            env,
            [*flask, "users", "create", ADMIN_USERNAME, "--role", "admin", "--password", ADMIN_PASSWORD],
            logdir,
            "users-create",
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not (_health_ok(url) and _worker_registered(redis_url, worker_name)):
            processes.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no 200 from {url}/health and worker {worker_name} in Redis within {STARTUP_TIMEOUT:.0f} s"
                )
            time.sleep(0.1)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        report = processes.report()
        processes.stop()
        redis_server.stop()
        pytest.fail(f"live server did not start: {exc}\n{report}", pytrace=False)
    except BaseException:  # Ctrl-C: they run in their own session and would not get it
        processes.stop()
        redis_server.stop()
        raise
    try:
        yield LiveServer(
            url=url,
            redis_url=redis_url,
            database_url=database_url,
            metrics_dir=metrics_dir,
            worker_name=worker_name,
            env=env,
            logs=processes.logs,
            processes=processes,
        )
    finally:
        processes.stop()
        redis_server.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    # the breakages browser test's fake helpdesk listens on 127.0.0.1; a failed send retries after 1 s
    helpdesk = {"HELPDESK_ALLOWED_HOSTS": "127.0.0.1", "HELPDESK_RETRY_INTERVALS": "1"}
    with running_instance(tmp_path_factory.mktemp("live"), helpdesk) as server:
        yield server
