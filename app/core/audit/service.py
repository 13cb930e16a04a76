"""record() adds an audit row to the current transaction; the counter moves only
when that transaction commits, so a rolled-back write is neither logged nor counted."""

from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import insert, select

from app.core import capability, metrics, txn
from app.core.audit.models import AuditEntry
from app.core.paging import Page, paginate
from app.extensions import db

SYSTEM_ACTOR = "system"


def current_actor() -> str:
    """Who is acting: the signed-in user, else "system" (jobs, commands)."""
    if has_request_context() and current_user.is_authenticated:
        return current_user.username
    return SYSTEM_ACTOR


def record(
    entity: str,
    entity_id: Any,
    action: str,
    *,
    before: dict | None = None,
    after: dict | None = None,
    actor: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor or current_actor(),
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        before=before,
        after=after,
    )
    db.session.add(entry)
    txn.on_commit(metrics.AUDIT_WRITES.inc)
    return entry


def record_many(entity: str, action: str, rows: list[tuple[Any, dict]], *, actor: str | None = None) -> None:
    """record() for many records of one kind at once (an import): one INSERT of `(entity_id, after)` rows."""
    if not rows:
        return
    who = actor or current_actor()
    db.session.execute(
        insert(AuditEntry),
        [{"actor": who, "entity": entity, "entity_id": str(i), "action": action, "after": after} for i, after in rows],
    )
    txn.on_commit(lambda: metrics.AUDIT_WRITES.inc(len(rows)))


def search(entity: str | None, actor: str | None, page: int, per_page: int = 50) -> Page:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return paginate(query, page, per_page)


def hidden_from(user: Any, entries: list[AuditEntry]) -> set[int]:
    """The entries whose before/after `user` may not read: those of a record the user may not see
    by its capability's rule (`Access`, the one its pages, API and live topics follow; e.g. another
    user's optimization). The row itself (who did what when) stays; its contents are withheld."""
    verdicts: dict[tuple[str, str], bool | None] = {}
    hidden = set()
    for entry in entries:
        record = (entry.entity, entry.entity_id)
        if record not in verdicts:
            verdicts[record] = capability.may_see(user, *record)
        if verdicts[record] is False:
            hidden.add(entry.id)
    return hidden


def entities() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity)))
