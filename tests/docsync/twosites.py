"""Two real Forgeline sites side by side (tests/liveserver.running_instance twice:
gunicorn + a worker each, two databases, two stores, two Redis servers),
each registered on the other with a token of the other, and a small client
of their public API.

tests/conftest.py loads this as a plugin (`pytest_plugins`, see tests/liveserver.py for why);
tests share ONE pair per session through the `sync_sites` fixture; `two_sites()` starts a pair
of one's own.
Tests on the shared pair use document numbers of their own."""

import http.cookiejar
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.liveserver import LiveServer, running_instance

JOBS = "/api/v1/doc-sync/jobs"

WORKER_TTL = 6  # a killed worker's job counts as abandoned this long after its last heartbeat


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def call(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, timeout: float = 30
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/octet-stream" if raw is not None else "application/json",
        }
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
                status, kind = response.status, response.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            payload, status, kind = exc.read(), exc.code, exc.headers.get_content_type()
        return status, json.loads(payload) if kind == "application/json" else payload

    def ok(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 202)) -> Any:
        status, answer = self.call(method, path, body)
        assert status in expect, f"{method} {path}: {status} {answer}"
        return answer


@dataclass
class Site:
    name: str
    server: LiveServer
    store: Path
    api: Api
    peer_id: int = 0  # the other site's id in this site's remote_sites

    def manifest(self, numbers: list[str] | None = None) -> dict[str, dict]:
        entries = self.api.ok("POST", "/api/v1/documents/manifest", {"numbers": numbers})["documents"]
        return {e["number"]: e for e in entries}

    def download(self, sha256: str) -> bytes:
        status, data = self.api.call("GET", f"/api/v1/documents/files/{sha256}")
        assert status == 200, status
        return data

    def stored(self, sha256: str) -> bytes:
        """The file as it lies in this site's store."""
        return (self.store / sha256[:2] / sha256[2:4] / sha256).read_bytes()

    def seed(self, files: dict[str, bytes], title: str = "Seeded", doc_type: str = "drawing") -> None:
        """Create documents straight in this site's database and store, through the service
        (fast, and the web processes see them as any other)."""
        from app.docsync import documents
        from app.docsync.documents import Metadata
        from app.extensions import db

        with _direct(self.server, self.store):
            for number, data in files.items():
                doc = documents.find(number) or documents.create(number, Metadata(title, doc_type))
                documents.add_version(doc, io.BytesIO(data), f"{number}.pdf")
            db.session.commit()

    def browser(self) -> urllib.request.OpenerDirector:
        """A signed-in session of the admin, as a browser has."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = opener.open(f"{self.server.url}/login").read().decode()
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        form = urllib.parse.urlencode(
            {"username": self.server.admin.username, "password": self.server.admin.password, "csrf_token": csrf}
        ).encode()
        opener.open(f"{self.server.url}/login", data=form)
        return opener


@contextmanager
def _direct(server: LiveServer, store: Path) -> Iterator[None]:
    """An app context on the site's own database and store, in this process."""
    from app import create_app
    from app.extensions import db
    from tests.conftest import app_config

    app = create_app(app_config(server.database_url, server.redis_url, DOCUMENT_STORE=str(store), TESTING=False))
    with app.app_context():
        yield
        db.session.remove()
        db.engine.dispose()


def _token(server: LiveServer, store: Path) -> str:
    from app.core.auth import service as auth
    from app.extensions import db

    with _direct(server, store):
        _, token = auth.create_token(auth.get_user(server.admin.username), "peer-site")
        db.session.commit()
    return token


@contextmanager
def two_sites(base: Path, **extra_env: str) -> Iterator[tuple[Site, Site]]:
    names = ("plant-a", "plant-b")
    stores = {name: base / name / "store" for name in names}
    managers = {}
    for name in names:
        (base / name).mkdir(parents=True)
        managers[name] = running_instance(
            base / name,
            {
                "DOCUMENT_STORE": str(stores[name]),
                "SITE_NAME": name,
                "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
                **extra_env,
            },
        )
    with ExitStack() as stack:
        with ThreadPoolExecutor(len(names)) as pool:  # both start at once
            starting = {name: pool.submit(manager.__enter__) for name, manager in managers.items()}
        servers = {}
        for name, future in starting.items():
            if future.exception() is None:
                servers[name] = future.result()
                stack.push(managers[name].__exit__)
        for future in starting.values():
            future.result()  # re-raises the first failure, after the others were set to stop
        a, b = (
            Site(name, servers[name], stores[name], Api(servers[name].url, _token(servers[name], stores[name])))
            for name in names
        )
        for here, there in ((a, b), (b, a)):
            here.peer_id = here.api.ok(
                "POST",
                "/api/v1/doc-sync/sites",
                {"name": there.name, "base_url": there.server.url, "token": there.api.token},
            )["id"]
        yield a, b


@pytest.fixture(scope="session")
def sync_sites(tmp_path_factory):
    with two_sites(
        tmp_path_factory.mktemp("two-sites"),
        WORKER_TTL=str(WORKER_TTL),
        SWEEP_SECONDS="1",
        DOCSYNC_RETRY_DELAYS="0.2,0.5",
        # a job abandoned by a killed worker runs again at once: a delayed retry waits for RQ's
        # scheduler, whose lock the killed worker holds for a minute (its TTL)
        DOCSYNC_JOB_RETRY_DELAYS="0,0",
    ) as pair:
        yield pair


def wait_done(site, job_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = site.api.ok("GET", f"{JOBS}/{job_id}")
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(
        f"job {job_id} still {job['status']} after {timeout} s: {job}\n{site.server.processes.report()}"
    )


def start(site, direction: str, key: str, **selection) -> dict:
    return site.api.ok(
        "POST", JOBS, {"site_id": site.peer_id, "direction": direction, "idempotency_key": key, **selection}
    )
