"""Work registered with app.core.txn.on_commit runs after the outermost commit
only, and is dropped with the (nested) transaction it was registered in."""

import pytest
from rq import Queue
from sqlalchemy import func, select

from app.core import jobs, txn
from app.core.auth.models import User
from app.core.auth.service import create_user
from app.extensions import db

DEMO_JOB = "app.queues.jobs.demo_job"


def _queued(app) -> int:
    return Queue("default", connection=app.extensions["redis"]).count


def test_a_released_savepoint_waits_for_the_real_commit(app):
    ran = []
    db.session.begin()
    with db.session.begin_nested():
        txn.on_commit(lambda: ran.append("inner"))
        jobs.enqueue("demo", DEMO_JOB, 0)
    assert ran == [] and _queued(app) == 0
    db.session.commit()
    assert ran == ["inner"] and _queued(app) == 1


@pytest.mark.dialects
def test_a_rolled_back_savepoint_drops_only_its_own_work(app):
    ran = []
    db.session.begin()
    txn.on_commit(lambda: ran.append("outer"))
    jobs.enqueue("demo", DEMO_JOB, 0)
    try:
        with db.session.begin_nested():
            txn.on_commit(lambda: ran.append("inner"))
            jobs.enqueue("demo", DEMO_JOB, 0)
            with db.session.begin_nested():
                txn.on_commit(lambda: ran.append("innermost"))
            raise RuntimeError("undo the savepoint")
    except RuntimeError:
        pass
    db.session.commit()
    assert ran == ["outer"] and _queued(app) == 1


@pytest.mark.dialects
def test_a_rolled_back_transaction_drops_everything(app):
    ran = []
    db.session.begin()
    txn.on_commit(lambda: ran.append("outer"))
    with db.session.begin_nested():
        txn.on_commit(lambda: ran.append("inner"))
    db.session.rollback()
    db.session.commit()
    assert ran == [] and _queued(app) == 0


@pytest.mark.dialects
def test_a_savepoint_as_the_first_write_is_undone_with_its_transaction(app):
    """SQLite's driver opens a transaction only before a DML statement: a SAVEPOINT issued first
    began one of its own, and its release committed it, so a rollback of the transaction around
    it left the savepoint's rows saved."""
    db.session.execute(select(1))  # a read first, as a request or a job does
    with db.session.begin_nested():
        create_user("savepoint-row", "a long passphrase 1")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User).filter_by(username="savepoint-row")) == 0
