"""Typed domain errors and the one error shape.

Services raise these; the handlers below turn them (and every HTTP error) into
`{"error": {"code", "message", "details"}}` for the API and a friendly page for
people in the browser.
"""

import logging
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.extensions import db

log = logging.getLogger(__name__)


class DomainError(Exception):
    """`recorded`: the service already undid its change (in a savepoint) and added
    the rows that say why it refused, e.g. the run of the rule that blocked an ECO
    move; the owner of the transaction commits those instead of rolling back."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, details: dict[str, Any] | None = None, *, code: str | None = None, recorded: bool = False
    ):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.recorded = recorded
        if code:
            self.code = code


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


class NotSignedIn(DomainError):
    status = 401
    code = "not_signed_in"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unavailable(DomainError):
    status = 503
    code = "unavailable"


REDIS_DOWN = "Redis does not answer: queues, workers and live updates are unavailable for now. Try again shortly."
DATABASE_DOWN = "The database does not answer (down or busy); nothing was changed. Try again shortly."


def settle(exc: DomainError) -> None:
    """What the owner of a request does with a refusal: roll its change back, or
    commit the trace of a refusal the service `recorded`."""
    if exc.recorded:
        db.session.commit()
    else:
        db.session.rollback()


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _respond(status: int, code: str, message: str, details: dict[str, Any] | None = None, headers=None):
    if wants_json():
        return jsonify(error_body(code, message, details)), status, headers or {}
    template = "errors/error.html"
    page = render_template(template, status=status, code=code, message=message, details=details or {})
    return page, status, headers or {}


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        settle(exc)
        return _respond(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code in (301, 302, 303, 307, 308):
            return exc
        if exc.response is not None:  # the answer was made already (e.g. the sign-in limit's page)
            return exc.response
        description = exc.description or exc.name
        # keep what the error says in its headers (405: Allow), not its body's type
        headers = [(key, value) for key, value in exc.get_headers() if key.lower() != "content-type"]
        return _respond(exc.code or 500, _http_code(exc), description, headers=headers)

    _register_outages(app)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, "internal_error", "Something went wrong on our side; it has been logged.")


def _register_outages(app: Flask) -> None:
    """Redis or the database not answering: a 503 in the error shape, never a 500."""

    @app.after_request
    def unqueued(response):
        """A request whose committed work Redis did not take (the job rows say so) is no success."""
        job_ids = g.get("unqueued")
        if not job_ids or response.status_code >= 400:
            return response
        return app.make_response(_respond(503, "redis_unavailable", REDIS_DOWN, {"job_ids": job_ids}))

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def redis_down(exc: Exception):
        log.warning("Redis does not answer on %s %s: %s", request.method, request.path, exc)
        db.session.rollback()
        return _respond(503, "redis_unavailable", REDIS_DOWN, {"reason": str(exc)[:200]})

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(exc: Exception):
        log.warning("the database does not answer on %s %s: %s", request.method, request.path, exc.__cause__ or exc)
        db.session.rollback()
        return _respond(503, "database_unavailable", DATABASE_DOWN, {"reason": str(exc.__cause__ or exc)[:200]})
