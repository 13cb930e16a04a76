"""A client of another Forgeline's public API, with its bearer token.

The HTTP goes through app.core.outbound (address rules, no redirects, the token bound to the
base URL). Network errors, timeouts and 502/503/504 are retried with backoff
(DOCSYNC_RETRY_DELAYS), then raised as Unreachable; a 401 is Unauthorized; a host or redirect
the outbound rules refuse is Refused (never retried); other answers come back as they are, for
the caller to read.
"""

import json
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from app.core import outbound

RETRIED_STATUSES = (502, 503, 504)


class RemoteError(Exception):
    def __init__(self, message: str, status: int | None = None, body: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, body or {}


class Unreachable(RemoteError):
    """The site did not answer (after the retries)."""


class Unauthorized(RemoteError):
    """The site refused the token (401) or its user's role (403)."""


class Refused(RemoteError):
    """The outbound rules refused the call: a host or address not allowed, or a redirect."""


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RemoteClient:
    base_url: str
    token: str | None
    timeout: float = 30.0
    retry_delays: tuple[float, ...] = (0.5, 2.0)
    rules: outbound.Policy = field(default_factory=outbound.Policy)

    def __post_init__(self) -> None:
        self.http = outbound.Client(self.base_url, self.token, timeout=self.timeout, rules=self.rules)

    def _open(
        self,
        method: str,
        path: str,
        *,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        retry: bool = True,
    ):
        url = self.base_url + path
        delays = list(self.retry_delays) if retry else []
        while True:
            if hasattr(data, "seek"):
                data.seek(0)  # a file body is sent again from its start
            try:
                return self.http.open(method, path, data=data, headers=headers, timeout=timeout)
            except outbound.OutboundError as exc:
                raise Refused(str(exc)) from None
            except urllib.error.HTTPError as exc:
                if exc.code in RETRIED_STATUSES and delays:
                    exc.close()
                    time.sleep(delays.pop(0))
                    continue
                body = _json(exc.read())
                exc.close()
                if exc.code in RETRIED_STATUSES:
                    raise Unreachable(f"{url} answered {exc.code}", exc.code, body) from None
                if exc.code in (401, 403):
                    message = (body.get("error") or {}).get("message") or exc.reason
                    raise Unauthorized(f"{exc.code} from {self.base_url}: {message}", exc.code, body) from None
                return _ErrorAnswer(exc.code, body)
            except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout
                if delays:
                    time.sleep(delays.pop(0))
                    continue
                reason = getattr(exc, "reason", exc)
                raise Unreachable(f"{url}: {reason}") from None

    def json(self, method: str, path: str, payload: Any = None, **options: Any) -> Answer:
        data = json.dumps(payload, default=str).encode() if payload is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        response = self._open(method, path, data=data, headers=headers, **options)
        if isinstance(response, _ErrorAnswer):
            return Answer(response.status, response.body)
        with response:
            return Answer(response.status, _json(response.read()), dict(response.headers))

    def health(self, timeout: float) -> tuple[int, float]:
        """(status, seconds) of GET /health, without retries: a probe measures, it does not insist."""
        started = time.monotonic()
        response = self._open("GET", "/health", timeout=timeout, retry=False)
        status = response.status
        if not isinstance(response, _ErrorAnswer):
            response.close()
        return status, time.monotonic() - started

    def check_token(self, timeout: float) -> None:
        """Raises Unauthorized when the token is not accepted for the sync routes."""
        self.json("POST", "/api/v1/documents/files/missing", {"sha256s": []}, timeout=timeout, retry=False)

    def manifest(self, numbers: list[str] | None = None, **filters: Any) -> list[dict]:
        payload = {"numbers": numbers, **{k: v for k, v in filters.items() if v is not None}}
        return self._expect(self.json("POST", "/api/v1/documents/manifest", payload), 200)["documents"]

    def missing(self, sha256s: list[str]) -> set[str]:
        answer = self.json("POST", "/api/v1/documents/files/missing", {"sha256s": sha256s})
        return set(self._expect(answer, 200)["missing"])

    def send_version(
        self, number: str, sha256: str, params: dict[str, Any], body: BinaryIO | None, size: int
    ) -> Answer:
        """PUT a version; `body` None when the site has the file already. 200/201 = done, 409 = conflict."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        path = f"/api/v1/documents/by-number/{urllib.parse.quote(number)}/versions/{sha256}?{query}"
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept": "application/json",
            "Content-Length": str(size if body is not None else 0),
        }
        response = self._open("PUT", path, data=body if body is not None else b"", headers=headers)
        if isinstance(response, _ErrorAnswer):
            return Answer(response.status, response.body)
        with response:
            return Answer(response.status, _json(response.read()))

    def download(self, sha256: str):
        """The open response of GET /documents/files/<sha256>; read it as a stream, then close it."""
        response = self._open("GET", f"/api/v1/documents/files/{sha256}")
        if isinstance(response, _ErrorAnswer):
            raise RemoteError(f"download of {sha256[:12]} answered {response.status}", response.status, response.body)
        return response

    @staticmethod
    def _expect(answer: Answer, status: int) -> Any:
        if answer.status != status:
            error = (answer.body or {}).get("error", {}) if isinstance(answer.body, dict) else {}
            raise RemoteError(f"unexpected {answer.status}: {error.get('message', '')}", answer.status, answer.body)
        return answer.body


@dataclass
class _ErrorAnswer:
    status: int
    body: dict


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
