"""A fake customer helpdesk over real HTTP (http.server in a thread), scripted per test: each
POST /tickets takes the next behaviour of `script` ("ok", a status code like 503 or 422, or
"slow": the ticket is made but the answer comes after the client's timeout), then "ok"
for good. Tickets are keyed by Idempotency-Key, as the real helpdesk's contract says."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SLOW_SECONDS = 1.5


class FakeHelpdesk:
    def __init__(self) -> None:
        self.script: list = []
        self.tickets: dict[str, dict] = {}  # Idempotency-Key -> ticket
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def reset(self, *script) -> None:
        with self.lock:
            self.script, self.tickets, self.calls = list(script), {}, []

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer(200 if self.path == "/health" else 404, {"ok": True})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                key = self.headers.get("Idempotency-Key")
                with fake.lock:
                    step = fake.script.pop(0) if fake.script else "ok"
                    fake.calls.append(
                        {"key": key, "auth": self.headers.get("Authorization"), "step": step, "body": body}
                    )
                    if self.headers.get("Authorization") != "Bearer helpdesk-token-1":
                        step = 401
                    if step in ("ok", "slow") and key:
                        ticket = fake.tickets.setdefault(
                            key, {"id": f"HD-{len(fake.tickets) + 1}", "url": f"{fake.url}/t/{len(fake.tickets) + 1}"}
                        )
                if step == "slow":
                    time.sleep(SLOW_SECONDS)
                if step in ("ok", "slow"):
                    self._answer(201, ticket)
                else:
                    self._answer(int(step), {"error": "scripted"})

        return Handler


@pytest.fixture(scope="session")
def fake_helpdesk_server():
    fake = FakeHelpdesk()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def fake_helpdesk(fake_helpdesk_server):
    fake_helpdesk_server.reset()
    return fake_helpdesk_server


TOKEN, WEBHOOK_SECRET = "helpdesk-token-1", "webhook-secret-1"


@pytest.fixture
def helpdesk_endpoint(app, fake_helpdesk):
    from app.breakages import helpdesk
    from app.extensions import db

    endpoint = helpdesk.create_endpoint("acme-helpdesk", fake_helpdesk.url, TOKEN, WEBHOOK_SECRET)
    db.session.commit()
    return endpoint
