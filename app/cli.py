"""flask commands: worker, seed-demo, users, tokens, metrics-check."""

import gc
import logging
import secrets
import sys
import urllib.parse

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from app.core import outbound
from app.core.capability import queue_names

log = logging.getLogger(__name__)
users = AppGroup("users", help="Manage users.")
tokens = AppGroup("tokens", help="Manage API tokens.")


@users.command("create")
@click.argument("username")
@click.option("--role", default="viewer", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user(username: str, role: str, password: str) -> None:
    """Create a user."""
    from app.core.auth import service
    from app.core.errors import DomainError
    from app.extensions import db

    try:
        user = service.create_user(username, password, role)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"created {user.username} ({user.role})")


@users.command("update")
@click.argument("username")
@click.option("--role", default=None, help="The new role.")
@click.option("--active/--inactive", default=None, help="Let the user sign in, or not.")
def update_user(username: str, role: str | None, active: bool | None) -> None:
    """Change USERNAME's role or active flag (open live sockets re-check their topics)."""
    from app.core.auth import service
    from app.core.errors import DomainError
    from app.extensions import db

    try:
        user = service.update_user(service.get_user(username), role=role, active=active)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"{user.username}: {user.role}, {'active' if user.active else 'inactive'}")


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label to recognise the token by.")
def create_token(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it once."""
    from app.core.auth import service
    from app.core.errors import DomainError
    from app.extensions import db

    try:
        _, token = service.create_token(service.get_user(username), name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(token)


@click.command("worker")
@click.option(
    "--queues",
    "-q",
    default=None,
    help="Comma-separated queues, in priority order (default: every queue of the app).",
)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: RQ's).")
def worker(queues: str | None, burst: bool, name: str | None) -> None:
    """Run an RQ worker (with RQ's scheduler, so Retry intervals work)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import configure_mappers
    from werkzeug.utils import import_string

    from app.core.capability import registry
    from app.core.jobs.worker import work_forever
    from app.extensions import db

    known = queue_names()
    names = [q.strip() for q in queues.split(",") if q.strip()] if queues else list(known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(known)}")
    for warm in registry().warmers(names):
        import_string(warm)()
    # the ORM configured and a database connection pooled before the first job, not inside it (with
    # the collection below, the first job's history row took 0.64 s to mark started, later ones 10 ms)
    configure_mappers()
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:  # the database is down: the jobs will say so, the worker starts anyway
        log.warning("worker: no database connection at start: %s", exc)
    db.session.remove()
    # what the worker imported and warmed (the app, numba and its compiled kernel) leaves the cyclic
    # GC's view, as an in-process worker does after each job: a full collection over it took 0.4 s,
    # and ran three times between the worker's start and its first job and once more inside it
    gc.collect()
    gc.freeze()
    work_forever(
        names,
        current_app.extensions["redis"],
        current_app.config,
        name=name,
        burst=burst,
        inprocess=registry().inprocess_queues,
    )


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo admin (printing its password once) and each capability's demo data.

    Safe to run again: what exists already is left as it is.
    """
    from importlib import import_module
    from importlib.util import find_spec

    from app import CAPABILITIES
    from app.core.auth import service
    from app.core.auth.models import User
    from app.extensions import db

    if db.session.scalar(select(User).where(User.username == "admin")):
        click.echo("demo admin already present (user 'admin')")
    else:
        password = secrets.token_urlsafe(12)
        service.create_user("admin", password, "admin")
        db.session.commit()
        click.echo(f"demo admin created: username 'admin', password '{password}' (shown once)")
    for capability in CAPABILITIES:
        if find_spec(f"app.{capability}.demo"):
            message = import_module(f"app.{capability}.demo").seed()
            db.session.commit()
            if message:
                click.echo(message)


def _metrics_client(url: str, token: str | None) -> outbound.Client:
    """The operator names the host on the command line: it is allowed whatever its address
    (usually this host); the token goes to it only (no redirects)."""
    parts = urllib.parse.urlsplit(url)
    rules = outbound.Policy(frozenset({outbound.normalize_host(parts.hostname or "")}))
    return outbound.Client(f"{parts.scheme}://{parts.netloc}", token, timeout=10, rules=rules)


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@click.command("metrics-check")
@click.argument("url")
@click.option("--token", envvar="METRICS_TOKEN", default=None, help="Bearer token if /metrics is protected.")
def metrics_check(url: str, token: str | None) -> None:
    """Fail when URL's exposition does not parse or lacks a required metric.

    Exit 0: parses, and every required metric has at least one sample; 1: it
    does not parse or a required metric is missing; 2: URL cannot be fetched
    (refused, timeout, non-2xx such as 401 without the right --token).
    """
    from app.core.metrics import REQUIRED_METRICS

    try:
        with _metrics_client(url, token).open("GET", _path(url)) as response:
            body = response.read()
    except (OSError, ValueError, outbound.OutboundError) as exc:  # URLError/HTTPError/timeouts, not a URL, a redirect
        click.echo(f"cannot fetch {url}: {exc}", err=True)
        sys.exit(2)
    try:
        families = list(text_string_to_metric_families(body.decode()))
    except ValueError as exc:  # the parser's only error; UnicodeDecodeError is one too
        click.echo(f"exposition does not parse: {exc}", err=True)
        sys.exit(1)
    # Sample names, not family names: the parser strips _total from counter
    # families. A family with no sample (only # HELP / # TYPE) is missing too.
    samples = {sample.name for family in families for sample in family.samples}
    missing = [m for m in REQUIRED_METRICS if not ({m, f"{m}_bucket", f"{m}_count", f"{m}_sum"} & samples)]
    if missing:
        click.echo(f"missing metrics: {', '.join(missing)}", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(families)} metric families, all {len(REQUIRED_METRICS)} required present")


def register(app: Flask) -> None:
    for command in (users, tokens, worker, seed_demo, metrics_check):
        app.cli.add_command(command)
