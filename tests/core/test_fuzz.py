"""Schemathesis over /api/v1/openapi.json, in-process (WSGI), as an admin, on SQLite
and PostgreSQL: no input the document allows or forbids answers with a 5xx, and
every error is in the one shape `{"error": {"code", "message", "details"}}`.

Bounded so it stays a part of `make test`: once with a fixed seed (the same cases on
every run: the boundary values of every parameter, then a few generated cases per
operation) and once with a random seed (generated cases only), which a failure
prints (FORGELINE_FUZZ_SEED=<seed> replays it). Nothing is excluded: the admin may
call every operation, and the data it creates is emptied after each one.
"""

import os
import random
from collections import Counter

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import HealthCheck

from app import create_app
from app.core.api import openapi_document
from app.core.auth import service as auth
from app.extensions import db
from tests.conftest import app_config

FIXED_SEED = 20261202
RANDOM_SEED = int(os.environ.get("FORGELINE_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
MAX_EXAMPLES = int(os.environ.get("FORGELINE_FUZZ_EXAMPLES", "5"))
CASES: Counter = Counter()  # (seed kind, database, status class) -> responses, for the summary line


@schemathesis.check
def error_shape(ctx, response, case):
    """Every 4xx/5xx answer is `{"error": {"code", "message", "details"}}`."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} is not JSON: {response.text[:200]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    if not (isinstance(error, dict) and set(body) == {"error"} and set(error) == {"code", "message", "details"}):
        raise AssertionError(f"{response.status_code} is not in the error shape: {response.text[:200]!r}")
    if not (
        isinstance(error["code"], str) and isinstance(error["message"], str) and isinstance(error["details"], dict)
    ):
        raise AssertionError(f"{response.status_code}: wrong types in the error shape: {response.text[:200]!r}")
    return None


def _schema(seed: int, *, boundaries: bool):
    """The document of an app built only to describe itself (its routes do not depend on the database)."""
    document_app = create_app(app_config("sqlite://", "redis://127.0.0.1:1/0"))
    with document_app.app_context():
        schema = schemathesis.openapi.from_dict(openapi_document(document_app))
    schema.config.seed = seed
    schema.config.update(suppress_health_check=[HealthCheck.all])
    schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")
    # the coverage phase's boundary values do not depend on the seed: the fixed run has them
    schema.config.phases.coverage.enabled = boundaries
    # 405 + Allow on every route is asserted once in test_api_contract; here it only cost time
    schema.config.phases.coverage.unexpected_methods = set()
    schema.config.phases.examples.enabled = boundaries
    return schema


fixed = _schema(FIXED_SEED, boundaries=True)
randomised = _schema(RANDOM_SEED, boundaries=False)


def summary_lines() -> list[str]:
    """One line per run, how many cases and how they were answered (tests/conftest.py prints them at the end)."""
    lines = []
    for kind, database in sorted({key[:2] for key in CASES}):
        counts = {status: n for (k, d, status), n in CASES.items() if (k, d) == (kind, database)}
        seed = FIXED_SEED if kind == "fixed" else RANDOM_SEED
        spread = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
        lines.append(f"fuzz {database} seed {seed} ({kind}): {sum(counts.values())} cases ({spread})")
    return lines


@pytest.fixture
def admin_headers(app):
    user = auth.create_user("fuzz-admin", "password123", "admin")
    _, token = auth.create_token(user, "fuzz")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _call(app, case, headers, kind: str, seed: int):
    print(f"fuzz seed {seed}: FORGELINE_FUZZ_SEED={seed} replays this run")
    response = case.call(app=app, headers=headers)
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0].split("+", 1)[0]
    CASES[(kind, database, f"{response.status_code // 100}xx")] += 1
    case.validate_response(response, checks=[not_a_server_error, error_shape], headers=headers)


@pytest.mark.dialects
@fixed.parametrize()
def test_api_fuzz_fixed_seed(app, case, admin_headers):
    _call(app, case, admin_headers, "fixed", FIXED_SEED)


@pytest.mark.dialects
@randomised.parametrize()
def test_api_fuzz_random_seed(app, case, admin_headers):
    _call(app, case, admin_headers, "random", RANDOM_SEED)
