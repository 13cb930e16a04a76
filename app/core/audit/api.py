from dataclasses import asdict

from flask import Blueprint
from flask_login import current_user

from app.core.api import API_PREFIX, endpoint
from app.core.audit import service
from app.core.audit.schemas import AuditEntryOut, AuditList, AuditQuery, FieldChangeOut, KeysetMeta
from app.core.auth.roles import OPERATOR

bp = Blueprint("audit_api", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/audit",
    summary="The audit log, newest first: filtered, keyset-paged, with each entry's field changes",
    roles=OPERATOR,
    query=AuditQuery,
    response=AuditList,
)
def list_audit(query: AuditQuery):
    chosen = query.model_dump(include=set(service.AuditFilter.__dataclass_fields__))
    filters = service.AuditFilter(**{name: value or None for name, value in chosen.items()})
    page = service.search(filters, before=query.before, after=query.after, per_page=query.per_page)
    hidden = service.hidden_from(current_user, page.items)
    links = service.pages_of(current_user, page.items, hidden)
    entries = []
    for entry in page.items:
        withheld = entry.id in hidden
        changes = [] if withheld else service.field_changes(entry.before, entry.after)
        entries.append(
            AuditEntryOut(
                id=entry.id,
                at=entry.at,
                actor=entry.actor,
                entity=entry.entity,
                entity_id=entry.entity_id,
                action=entry.action,
                withheld=withheld,
                before=None if withheld else entry.before,
                after=None if withheld else entry.after,
                changes=[FieldChangeOut(**asdict(change)) for change in changes],
                url=links.get(entry.id),
            )
        )
    return AuditList(entries=entries, paging=KeysetMeta(per_page=page.per_page, newer=page.newer, older=page.older))
