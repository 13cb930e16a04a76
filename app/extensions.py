"""Extension objects, created unbound; create_app() binds them."""

import logging
import sqlite3

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
sock = Sock()
csrf = CSRFProtect()
login = LoginManager()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def redis_client():
    """The app's Redis connection (RQ, the live bus, snapshots); redis-py reconnects by itself."""
    from flask import current_app

    return current_app.extensions["redis"]


SQLITE_BUSY_TIMEOUT_MS = 30_000


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite in WAL mode: web processes keep reading while a worker commits item after item
    (in the default rollback journal a steady writer starves readers into timeouts). Writers
    from several processes (web, workers, `flask` commands) wait for each other up to 30 s
    instead of Python's default 5 s, which a loaded host can exceed ("database is locked")."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    try:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # kept in the file; a no-op once set
    except sqlite3.OperationalError as exc:  # another process is switching it right now
        logging.getLogger(__name__).warning("SQLite WAL mode not set on this connection: %s", exc)


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_inside_a_transaction(connection, name) -> None:
    """sqlite3 opens a transaction only before INSERT, UPDATE or DELETE: a SAVEPOINT issued first
    (a bulk insert's, a rule action's) began a transaction of its own, and releasing it committed
    everything, so a rollback or failure after it kept the savepoint's rows. Open the transaction
    the savepoint belongs to first (deferred, as sqlite3's own: no lock until the first write)."""
    driver = connection.connection.driver_connection
    if isinstance(driver, sqlite3.Connection) and not driver.in_transaction:
        driver.execute("BEGIN")
