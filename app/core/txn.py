"""Work to do once the current database transaction really commits.

SQLAlchemy's `after_commit` also fires when a SAVEPOINT is released and
`after_rollback` when one rolls back, so code that runs inside
`session.begin_nested()` (ECO rule actions) would otherwise push its work too
early, or drop work done outside the savepoint. Here each callback belongs to
the (nested) transaction it was registered in: it runs after the outermost
commit, and is dropped when that transaction or any one around it rolls back.
"""

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db

_KEY = "txn_on_commit"


def on_commit(callback: Callable[[], None]) -> None:
    """Run `callback` after the current transaction of db.session commits."""
    session = db.session()
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_KEY, []).append((owner, callback))


def _inside(owner: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while owner is not None:
        if owner is ended:
            return True
        owner = owner.parent
    return False


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: wait for the real commit
        return
    for _, callback in session.info.pop(_KEY, []):
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(_KEY, None)
        return
    pending = session.info.get(_KEY, [])
    session.info[_KEY] = [(owner, cb) for owner, cb in pending if not _inside(owner, previous)]
