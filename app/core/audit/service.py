"""record() adds an audit row to the current transaction; the counter moves only
when that transaction commits, so a rolled-back write is neither logged nor counted."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import Select, insert, select

from app.core import capability, metrics, txn
from app.core.audit.models import AuditEntry
from app.core.errors import InvalidInput
from app.core.paging import KeysetPage, keyset
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


PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilter:
    """The audit page's filters, as they stand in its URL (`?entity=eco&entity_id=3&actor=...`)."""

    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: date | None = None  # from the start of this UTC day
    until: date | None = None  # to the end of this UTC day

    def __post_init__(self) -> None:
        if self.since and self.until and self.until < self.since:
            raise InvalidInput(
                f"The date range ends ({self.until}) before it starts ({self.since}).",
                {"field": "until", "since": str(self.since)},
            )

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "AuditFilter":
        """Read from query arguments; a malformed date or a range that ends before it starts is
        InvalidInput naming the field."""
        text = {name: (args.get(name) or "").strip()[:80] or None for name in TEXT_FILTERS}
        return cls(**text, since=_day(args, "since"), until=_day(args, "until"))

    def args(self) -> dict[str, str]:
        """The filters that are set, as query arguments (for the pager's and the form's links)."""
        return {name: str(value) for name, value in vars(self).items() if value is not None}

    def where(self, query: Select) -> Select:
        for name in TEXT_FILTERS:
            if (value := getattr(self, name)) is not None:
                query = query.where(getattr(AuditEntry, name) == value)
        if self.since:
            query = query.where(AuditEntry.at >= datetime.combine(self.since, time.min, UTC))
        if self.until:
            query = query.where(AuditEntry.at < datetime.combine(self.until + timedelta(days=1), time.min, UTC))
        return query


TEXT_FILTERS = ("entity", "entity_id", "actor", "action")  # each the name of its column


def _day(args: Mapping[str, str], name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name.capitalize()} must be a date as YYYY-MM-DD, not {value[:40]!r}.", {"field": name}
        ) from None


def search(
    filters: AuditFilter, *, before: int | None = None, after: int | None = None, per_page: int = PER_PAGE
) -> KeysetPage:
    """The entries that match `filters`, newest first, one keyset page (see app.core.paging)."""
    query = filters.where(select(AuditEntry))
    return keyset(query, AuditEntry, ("at", "id"), before=before, after=after, per_page=per_page)


class Change(StrEnum):
    added = "added"
    removed = "removed"
    changed = "changed"


@dataclass(frozen=True)
class FieldChange:
    field: str
    change: Change
    old: Any = None
    new: Any = None

    @property
    def old_text(self) -> str:
        return _shown(self.old)

    @property
    def new_text(self) -> str:
        return _shown(self.new)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def field_changes(before: Any, after: Any) -> list[FieldChange]:
    """What a write changed, field by field: the keys whose value differs (old → new), the keys
    only `after` has (added) and those only `before` has (removed); equal fields are left out.
    A create has only added fields, a delete only removed ones."""
    old, new = _fields(before), _fields(after)
    changes = []
    for name in [*old, *(key for key in new if key not in old)]:
        if name not in new:
            changes.append(FieldChange(name, Change.removed, old=old[name]))
        elif name not in old:
            changes.append(FieldChange(name, Change.added, new=new[name]))
        elif old[name] != new[name]:
            changes.append(FieldChange(name, Change.changed, old=old[name], new=new[name]))
    return changes


def _fields(snapshot: Any) -> dict[str, Any]:
    if snapshot is None:
        return {}
    return {str(key): value for key, value in snapshot.items()} if isinstance(snapshot, dict) else {"value": snapshot}


def pages_of(user: Any, entries: list[AuditEntry], hidden: set[int]) -> dict[int, str]:
    """The URL of the record each entry changed, where its capability declares a page for its
    kind (`Access.page`) and `user` may see it."""
    urls: dict[tuple[str, str], str | None] = {}
    links = {}
    for entry in entries:
        record = (entry.entity, entry.entity_id)
        if record not in urls:
            urls[record] = capability.page_url(*record)
        if urls[record] and entry.id not in hidden:
            links[entry.id] = urls[record]
    return links


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
