"""A tiny real HTTP server on 127.0.0.1 that records every request it gets (method, path,
headers) and answers 200 `{}`, or a redirect to `redirect_to` when that is set."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class Seen(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]


class Recorder:
    def __init__(self, redirect_to: str | None = None, status: int = 302) -> None:
        self.seen: list[Seen] = []
        self.redirect_to, self.status = redirect_to, status
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
                if recorder.redirect_to:
                    self.send_response(recorder.status)
                    self.send_header("Location", recorder.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"missing": []} if "missing" in self.path else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = _answer

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def authorizations(self) -> list[str | None]:
        return [s.headers.get("Authorization") for s in self.seen]


@contextmanager
def recording(redirect_to: str | None = None, status: int = 302):
    recorder = Recorder(redirect_to, status)
    thread = threading.Thread(target=recorder.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.server.shutdown()
        recorder.server.server_close()
