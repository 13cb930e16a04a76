"""Routings, work orders, document links and version locks: the domain logic of work orders.

A link ties a document to a routing (operation_id None) or to one operation. An operation's
effective documents are its own links plus its routing's links marked `inherit_to_operations`,
an own link of a document overriding the routing's link of the same document. A hidden link
(`visible_in_production` false) stays in the list, marked, for engineers; the shop floor and the
pack leave it out. A link follows the document's latest version until it is locked to one; a
lock older than the latest version is stale and can be moved forward. Services never commit.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import selectinload

from app.core import audit, live
from app.core.errors import Conflict
from app.core.paging import Page, containing, paginate
from app.core.records import flush_unique, get_or_404
from app.core.timeutil import utcnow
from app.core.validation import invalid, not_one_of
from app.docsync.models import Document, DocumentVersion
from app.extensions import db
from app.items.models import Item
from app.workorders.models import (
    DocumentLink,
    LockSource,
    Operation,
    Routing,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderState,
)

SEQUENCE_STEP = 10
MAX_SEQUENCE = 99999
OPERATION_FIELDS = ("sequence", "code", "name", "work_centre", "setup_minutes", "run_minutes")


# ---- routings ------------------------------------------------------------------------------------


def routing_snapshot(routing: Routing) -> dict[str, Any]:
    return {"item_id": routing.item_id, "name": routing.name, "is_default": routing.is_default}


def operation_snapshot(op: Operation) -> dict[str, Any]:
    return {"routing_id": op.routing_id, **{f: getattr(op, f) for f in OPERATION_FIELDS}}


def get_routing(routing_id: int) -> Routing:
    return get_or_404(Routing, routing_id, "routing")


def _item(item_id: int, field: str = "item_id") -> Item:
    item = db.session.get(Item, item_id)
    if item is None:
        raise invalid(field, f"No item with id {item_id}.")
    return item


def _name(value: str, field: str, limit: int, *, required: bool = True) -> str:
    text = (value or "").strip()
    if (required and not text) or len(text) > limit:
        raise invalid(field, f"{field.replace('_', ' ').capitalize()}: 1 to {limit} characters.")
    return text


def _make_default(routing: Routing) -> None:
    for other in db.session.scalars(
        select(Routing).where(Routing.item_id == routing.item_id, Routing.id != routing.id, Routing.is_default)
    ):
        other.is_default = False
    routing.is_default = True


def create_routing(item_id: int, name: str, is_default: bool = False) -> Routing:
    item = _item(item_id)
    name = _name(name, "name", 80)
    if db.session.scalar(select(Routing.id).where(Routing.item_id == item.id, Routing.name == name)):
        raise Conflict(f"{item.number} has a routing {name!r} already.", {"field": "name"}, code="duplicate")
    first = db.session.scalar(select(Routing.id).where(Routing.item_id == item.id).limit(1)) is None
    routing = Routing(item_id=item.id, name=name, is_default=False)
    db.session.add(routing)
    flush_unique(f"{item.number} has a routing {name!r} already.", {"field": "name"}, code="duplicate")
    if is_default or first:  # an item's first routing is its default
        _make_default(routing)
    audit.record("routing", routing.id, "create", after=routing_snapshot(routing))
    return routing


def update_routing(routing_id: int, changes: dict[str, Any]) -> Routing:
    routing = get_routing(routing_id)
    before = routing_snapshot(routing)
    if "name" in changes and changes["name"] is not None:
        name = _name(changes["name"], "name", 80)
        clash = db.session.scalar(
            select(Routing.id).where(Routing.item_id == routing.item_id, Routing.name == name, Routing.id != routing.id)
        )
        if clash:
            raise Conflict(f"The item has a routing {name!r} already.", {"field": "name"}, code="duplicate")
        routing.name = name
    if changes.get("is_default"):
        _make_default(routing)
    flush_unique(f"The item has a routing {routing.name!r} already.", {"field": "name"}, code="duplicate")
    if routing_snapshot(routing) != before:
        audit.record("routing", routing.id, "update", before=before, after=routing_snapshot(routing))
    return routing


def list_routings(item_id: int | None = None, page: int = 1, per_page: int = 25) -> Page:
    query = select(Routing).join(Item, Item.id == Routing.item_id).order_by(Item.number, Routing.name, Routing.id)
    if item_id is not None:
        query = query.where(Routing.item_id == item_id)
    return paginate(query, page, per_page)


def default_routing(item_id: int) -> Routing | None:
    return db.session.scalar(select(Routing).where(Routing.item_id == item_id, Routing.is_default))


# ---- operations -----------------------------------------------------------------------------------


def _operation_values(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "code" in values:
        code = _name(values["code"], "code", 20)
        if not code.replace("-", "").replace("_", "").isalnum():
            raise invalid("code", "An operation code is letters, digits, '-' or '_'.")
        out["code"] = code.upper()
    if "name" in values:
        out["name"] = _name(values["name"], "name", 120)
    if "work_centre" in values:
        out["work_centre"] = _name(values["work_centre"] or "", "work_centre", 60, required=False)
    for field in ("setup_minutes", "run_minutes"):
        if field in values and values[field] is not None:
            minutes = float(values[field])
            if not 0 <= minutes <= 100000:
                raise invalid(field, f"{field.replace('_', ' ').capitalize()}: 0 to 100000.")
            out[field] = minutes
    if values.get("sequence") is not None:
        out["sequence"] = _sequence(values["sequence"])
    return out


def _sequence(value: Any, field: str = "sequence") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQUENCE:
        raise invalid(field, f"A sequence number is a whole number from 1 to {MAX_SEQUENCE}.")
    return value


def _check_unique(routing: Routing, values: dict[str, Any], op: Operation | None) -> None:
    for field in ("sequence", "code"):
        if field in values and any(o is not op and getattr(o, field) == values[field] for o in routing.operations):
            raise Conflict(
                f"Routing {routing.name!r} has an operation with {field} {values[field]} already.",
                {"field": field},
                code="duplicate",
            )


def add_operation(routing_id: int, values: dict[str, Any]) -> Operation:
    routing = get_routing(routing_id)
    for required in ("code", "name"):
        if not values.get(required):
            raise invalid(required, f"An operation needs a {required}.")
    clean = _operation_values(values)
    if "sequence" not in clean:
        clean["sequence"] = min(MAX_SEQUENCE, max((o.sequence for o in routing.operations), default=0) + SEQUENCE_STEP)
    _check_unique(routing, clean, None)
    op = Operation(routing=routing, **{"work_centre": "", "setup_minutes": 0, "run_minutes": 0, **clean})
    db.session.add(op)
    _flush_operations(routing)
    audit.record("routing_operation", op.id, "create", after=operation_snapshot(op))
    return op


def _flush_operations(routing: Routing) -> None:
    flush_unique(
        f"Routing {routing.name!r} was changed by someone else meanwhile (a sequence or code is taken); reload.",
        {"field": "sequence"},
        code="concurrent_change",
    )


def get_operation(routing: Routing, operation_id: int, field: str = "operation_id") -> Operation:
    op = db.session.get(Operation, operation_id)
    if op is None or op.routing_id != routing.id:
        raise invalid(field, f"Routing {routing.name!r} has no operation with id {operation_id}.")
    return op


def update_operation(routing_id: int, operation_id: int, values: dict[str, Any]) -> Operation:
    routing = get_routing(routing_id)
    op = get_operation(routing, operation_id)
    before = operation_snapshot(op)
    clean = _operation_values(values)
    _check_unique(routing, clean, op)
    for key, value in clean.items():
        setattr(op, key, value)
    _flush_operations(routing)
    if operation_snapshot(op) != before:
        audit.record("routing_operation", op.id, "update", before=before, after=operation_snapshot(op))
    return op


def remove_operation(routing_id: int, operation_id: int) -> Routing:
    routing = get_routing(routing_id)
    op = get_operation(routing, operation_id)
    before = operation_snapshot(op)
    for link in [link for link in routing.links if link.operation_id == op.id]:
        routing.links.remove(link)
    routing.operations.remove(op)
    db.session.flush()
    audit.record("routing_operation", operation_id, "delete", before=before)
    return routing


def reorder(routing_id: int, order: list[dict[str, int]]) -> Routing:
    """New sequence numbers: `order` is [{"operation_id", "sequence"}], for some or all of the
    routing's operations; the sequences after the change must all differ."""
    routing = get_routing(routing_id)
    wanted: dict[int, int] = {}
    for index, entry in enumerate(order):
        op = get_operation(routing, entry["operation_id"], f"order[{index}].operation_id")
        if op.id in wanted:
            raise invalid(f"order[{index}].operation_id", f"Operation {op.code} is named twice.")
        wanted[op.id] = _sequence(entry["sequence"], f"order[{index}].sequence")
    after = {op.id: wanted.get(op.id, op.sequence) for op in routing.operations}
    seen: dict[int, int] = {}
    for op_id, seq in after.items():
        if seq in seen:
            raise invalid(
                "sequence", f"Sequence {seq} would be used twice; every operation needs its own.", duplicate=seq
            )
        seen[seq] = op_id
    before = {op.code: op.sequence for op in routing.operations}
    for op in routing.operations:  # out of the way first: the unique (routing, sequence) holds at every flush
        op.sequence = -op.id
    _flush_operations(routing)
    for op in routing.operations:
        op.sequence = after[op.id]
    _flush_operations(routing)
    routing.operations.sort(key=lambda o: o.sequence)
    audit.record(
        "routing", routing.id, "reorder", before=before, after={op.code: op.sequence for op in routing.operations}
    )
    return routing


# ---- links ----------------------------------------------------------------------------------------


def link_snapshot(link: DocumentLink) -> dict[str, Any]:
    return {
        "routing_id": link.routing_id,
        "operation_id": link.operation_id,
        "document_id": link.document_id,
        "inherit_to_operations": link.inherit_to_operations,
        "visible_in_production": link.visible_in_production,
        "locked_version_id": link.locked_version_id,
        "version_lock_source": link.version_lock_source,
    }


def get_link(link_id: int) -> DocumentLink:
    return get_or_404(DocumentLink, link_id, "document link")


def link_document(
    routing_id: int,
    document_id: int,
    operation_id: int | None = None,
    *,
    inherit_to_operations: bool = True,
    visible_in_production: bool = True,
) -> DocumentLink:
    routing = get_routing(routing_id)
    document = db.session.get(Document, document_id)
    if document is None:
        raise invalid("document_id", f"No document with id {document_id}.")
    if document.latest is None:
        raise invalid("document_id", f"Document {document.number} has no version yet; upload a file first.")
    op = get_operation(routing, operation_id) if operation_id is not None else None
    if any(link.document_id == document.id and link.operation_id == operation_id for link in routing.links):
        where = f"operation {op.code}" if op else f"routing {routing.name!r}"
        raise Conflict(f"{document.number} is linked to {where} already.", {"field": "document_id"}, code="duplicate")
    link = DocumentLink(
        routing=routing,
        operation=op,
        document=document,
        inherit_to_operations=inherit_to_operations if op is None else False,
        visible_in_production=visible_in_production,
        created_by=audit.current_actor(),
        created_at=utcnow(),
    )
    db.session.add(link)
    flush_unique(
        f"{document.number} was just linked there by someone else.", {"field": "document_id"}, code="duplicate"
    )
    audit.record("workorder_link", link.id, "create", after=link_snapshot(link))
    return link


def update_link(link_id: int, changes: dict[str, Any]) -> DocumentLink:
    link = get_link(link_id)
    before = link_snapshot(link)
    if changes.get("inherit_to_operations") is not None:
        if link.operation_id is not None and changes["inherit_to_operations"]:
            raise invalid("inherit_to_operations", "Only a routing-level link is inherited by operations.")
        link.inherit_to_operations = changes["inherit_to_operations"]
    if changes.get("visible_in_production") is not None:
        link.visible_in_production = changes["visible_in_production"]
    db.session.flush()
    if link_snapshot(link) != before:
        audit.record("workorder_link", link.id, "update", before=before, after=link_snapshot(link))
    return link


def remove_link(link_id: int) -> Routing:
    link = get_link(link_id)
    routing = link.routing
    before = link_snapshot(link)
    routing.links.remove(link)
    db.session.flush()
    audit.record("workorder_link", link_id, "delete", before=before)
    return routing


def _lock(link: DocumentLink, version: DocumentVersion, source: LockSource, action: str) -> bool:
    """Lock `link` at `version`; False (nothing written) when it is locked there already."""
    if link.locked_version_id == version.id:
        return False
    before = link_snapshot(link)
    link.locked_version = version
    link.version_lock_source = source
    link.locked_by = audit.current_actor()
    link.locked_at = utcnow()
    db.session.flush()
    audit.record("workorder_link", link.id, action, before=before, after=link_snapshot(link))
    return True


def lock(link_id: int, version_id: int | None = None) -> DocumentLink:
    """A manual lock at `version_id` (a version of the link's document), or at the latest."""
    link = get_link(link_id)
    if version_id is None:
        version = link.document.latest
    else:
        version = db.session.get(DocumentVersion, version_id)
        if version is None or version.document_id != link.document_id:
            raise invalid(
                "version_id",
                f"Version {version_id} is not a version of {link.document.number}.",
                document=link.document.number,
            )
    _lock(link, version, LockSource.manual, "lock")
    return link


def unlock(link_id: int) -> DocumentLink:
    link = get_link(link_id)
    if link.locked_version_id is None:
        return link
    before = link_snapshot(link)
    link.locked_version = None
    link.version_lock_source = link.locked_by = link.locked_at = None
    db.session.flush()
    audit.record("workorder_link", link.id, "unlock", before=before, after=link_snapshot(link))
    return link


def move_lock_forward(link_id: int) -> DocumentLink:
    """A stale lock to the document's latest version (audited; the source becomes manual)."""
    link = get_link(link_id)
    if link.locked_version_id is None:
        raise Conflict(
            f"The link of {link.document.number} is not locked; it follows the latest version.",
            {"field": "link_id"},
            code="not_locked",
        )
    _lock(link, link.document.latest, LockSource.manual, "move_lock_forward")
    return link


def is_stale(link: DocumentLink) -> bool:
    latest = link.document.latest
    return link.locked_version is not None and latest is not None and link.locked_version.version < latest.version


def on_eco_applied(eco: Any) -> None:
    """The ECO capability's after-apply hook: the locked links of the routings of the ECO's item
    move to their documents' latest versions (source eco_apply), in the apply's transaction."""
    links = db.session.scalars(
        select(DocumentLink)
        .join(Routing, Routing.id == DocumentLink.routing_id)
        .where(Routing.item_id == eco.item_id, DocumentLink.locked_version_id.is_not(None))
        .order_by(DocumentLink.id)
    )
    for link in links:
        latest = link.document.latest
        if latest is not None and _lock(link, latest, LockSource.eco_apply, "eco_apply"):
            audit.record("workorder_link", link.id, "eco", after={"eco_id": eco.id, "eco": eco.number})


# ---- effective documents ------------------------------------------------------------------------


@dataclass
class Effective:
    """One document as an operation (or the routing as a whole) sees it."""

    link: DocumentLink
    source: str  # "operation": its own link; "routing": inherited from the routing (or the routing's own)
    overrides: DocumentLink | None = None  # the routing link of the same document this own link replaces

    @property
    def document(self) -> Document:
        return self.link.document

    @property
    def hidden(self) -> bool:
        return not self.link.visible_in_production

    @property
    def locked(self) -> bool:
        return self.link.locked_version_id is not None

    @property
    def version(self) -> DocumentVersion:
        return self.link.locked_version or self.link.document.latest

    @property
    def stale(self) -> bool:
        return is_stale(self.link)

    @property
    def lock_source(self) -> str | None:
        return self.link.version_lock_source


def effective(routing: Routing, operation_id: int | None) -> list[Effective]:
    """The effective documents of one routing operation (inherited + own, own overriding), or
    with None the routing's links that are not inherited (documents of the whole order), sorted
    by document number."""
    if operation_id is None:
        rows = [Effective(link, "routing") for link in routing.links if link.operation_id is None]
        rows = [row for row in rows if not row.link.inherit_to_operations]
    else:
        inherited = {
            link.document_id: link for link in routing.links if link.operation_id is None and link.inherit_to_operations
        }
        own = {link.document_id: link for link in routing.links if link.operation_id == operation_id}
        rows = [Effective(link, "operation", overrides=inherited.get(doc)) for doc, link in own.items()]
        rows += [Effective(link, "routing") for doc, link in inherited.items() if doc not in own]
    return sorted(rows, key=lambda row: row.document.number)


def load_routing(routing_id: int) -> Routing:
    routing = db.session.scalar(
        select(Routing)
        .where(Routing.id == routing_id)
        .options(
            selectinload(Routing.operations),
            selectinload(Routing.links).selectinload(DocumentLink.document).selectinload(Document.versions),
            selectinload(Routing.links).selectinload(DocumentLink.locked_version),
        )
    )
    if routing is None:
        get_routing(routing_id)
    return routing


@dataclass
class OperationDocuments:
    """An operation of a work order (or, before release, of its routing) with its documents."""

    id: int | None  # the work-order operation's id (None before release)
    sequence: int
    code: str
    name: str
    work_centre: str
    setup_minutes: float
    run_minutes: float
    documents: list[Effective]

    @property
    def folder(self) -> str:
        return f"ops/{self.sequence:03d}-{self.code}"


def workorder_documents(
    wo: WorkOrder, operation_id: int | None = None
) -> tuple[list[Effective], list[OperationDocuments]]:
    """(the routing's documents of the whole order, each operation with its effective documents).
    A released order's operations are its copies; a draft shows its routing's operations."""
    routing = load_routing(wo.routing_id)
    ops: list[OperationDocuments] = []
    if wo.operations:
        for op in wo.operations:
            if operation_id is not None and op.id != operation_id:
                continue
            docs = effective(routing, op.source_operation_id) if op.source_operation_id else []
            ops.append(_op_docs(op.id, op, docs))
    else:
        ops = [_op_docs(None, op, effective(routing, op.id)) for op in routing.operations]
    return effective(routing, None), ops


def _op_docs(ident: int | None, op: Any, docs: list[Effective]) -> OperationDocuments:
    return OperationDocuments(
        ident, op.sequence, op.code, op.name, op.work_centre, op.setup_minutes, op.run_minutes, docs
    )


def unlocked_links(wo: WorkOrder, operation_id: int | None = None) -> list[dict[str, Any]]:
    """The links a pack would show that still follow their document's latest version."""
    general, ops = workorder_documents(wo, operation_id)
    general = general if operation_id is None else []  # an operation's pack has no order documents
    rows = [(None, e) for e in general] + [(op, e) for op in ops for e in op.documents]
    seen: dict[int, dict[str, Any]] = {}
    for op, row in rows:
        if row.locked or row.hidden or row.link.id in seen:
            continue
        seen[row.link.id] = {
            "link_id": row.link.id,
            "document": row.document.number,
            "operation": op.code if op else None,
        }
    return list(seen.values())


# ---- work orders ----------------------------------------------------------------------------------


def workorder_snapshot(wo: WorkOrder) -> dict[str, Any]:
    return {
        "number": wo.number,
        "item_id": wo.item_id,
        "routing_id": wo.routing_id,
        "quantity": wo.quantity,
        "due_date": wo.due_date.isoformat(),
        "state": wo.state,
        "note": wo.note,
    }


def get_workorder(workorder_id: int) -> WorkOrder:
    return get_or_404(WorkOrder, workorder_id, "work order")


def _quantity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 10**9:
        raise invalid("quantity", "A quantity is a number above 0 (at most 1e9).")
    return float(value)


def create_workorder(
    item_id: int, quantity: float, due_date: date, routing_id: int | None = None, note: str = ""
) -> WorkOrder:
    item = _item(item_id)
    if routing_id is None:
        routing = default_routing(item.id)
        if routing is None:
            raise invalid("routing_id", f"{item.number} has no default routing; name one.")
    else:
        routing = db.session.get(Routing, routing_id)
        if routing is None or routing.item_id != item.id:
            raise invalid("routing_id", f"Routing {routing_id} is not a routing of {item.number}.")
    wo = WorkOrder(
        number=f"tmp-{uuid.uuid4().hex[:12]}",
        item=item,
        routing=routing,
        quantity=_quantity(quantity),
        due_date=due_date,
        state=WorkOrderState.draft,
        note=_name(note, "note", 2000, required=False),
        created_by=audit.current_actor(),
    )
    db.session.add(wo)
    db.session.flush()
    wo.number = f"WO-{wo.id:06d}"
    db.session.flush()
    audit.record("workorder", wo.id, "create", after=workorder_snapshot(wo))
    return wo


def update_workorder(workorder_id: int, changes: dict[str, Any]) -> WorkOrder:
    wo = get_workorder(workorder_id)
    if wo.state != WorkOrderState.draft:
        raise Conflict(f"{wo.number} is {wo.state}; only a draft is edited.", {"field": "state"}, code="not_draft")
    before = workorder_snapshot(wo)
    if changes.get("quantity") is not None:
        wo.quantity = _quantity(changes["quantity"])
    if changes.get("due_date") is not None:
        wo.due_date = changes["due_date"]
    if changes.get("note") is not None:
        wo.note = _name(changes["note"], "note", 2000, required=False)
    if changes.get("routing_id") is not None:
        routing = db.session.get(Routing, changes["routing_id"])
        if routing is None or routing.item_id != wo.item_id:
            raise invalid("routing_id", f"Routing {changes['routing_id']} is not a routing of {wo.item.number}.")
        wo.routing = routing
    db.session.flush()
    if workorder_snapshot(wo) != before:
        audit.record("workorder", wo.id, "update", before=before, after=workorder_snapshot(wo))
    return wo


def move(workorder_id: int, to_state: str) -> WorkOrder:
    """One step of draft → released → in_progress → done (or canceled); 409 naming the allowed targets."""
    wo = get_workorder(workorder_id)
    if to_state not in tuple(WorkOrderState):
        raise not_one_of("to_state", "A state", to_state, tuple(WorkOrderState))
    allowed = wo.allowed_moves
    if to_state not in allowed:
        raise Conflict(
            f"{wo.number} is {wo.state}; it can move to "
            + (", ".join(allowed) if allowed else "nothing (it is final)")
            + f", not {to_state}.",
            {"field": "to_state", "from": wo.state, "to": to_state, "allowed": allowed},
            code="transition_not_allowed",
        )
    before = wo.state
    _claim(wo, before, to_state)
    if to_state == WorkOrderState.released:
        _release(wo)
    audit.record("workorder", wo.id, "move", before={"state": before}, after={"state": to_state})
    live.publish_on_commit(f"workorder:{wo.id}", "workorder_state", {"id": wo.id, "from": before, "to": to_state})
    return wo


def _claim(wo: WorkOrder, before: str, to_state: str) -> None:
    """Compare-and-set of the state: of two concurrent moves of one order exactly one wins (the
    other waits for the row lock, PostgreSQL, or the write lock, SQLite, then finds it changed)."""
    claimed = db.session.execute(
        update(WorkOrder)
        .where(WorkOrder.id == wo.id, WorkOrder.state == before)
        .values(state=to_state, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Conflict(
            f"{wo.number} was moved by someone else meanwhile; reload and try again.",
            {"field": "to_state"},
            code="concurrent_change",
        )
    db.session.refresh(wo)


def _release(wo: WorkOrder) -> None:
    """Copy the routing's operations and lock every effective link at its current version."""
    routing = load_routing(wo.routing_id)
    if not routing.operations:
        raise invalid("routing_id", f"Routing {routing.name!r} has no operations; add some before releasing.")
    for op in routing.operations:
        wo.operations.append(
            WorkOrderOperation(source_operation_id=op.id, **{f: getattr(op, f) for f in OPERATION_FIELDS})
        )
    wo.released_at, wo.released_by = utcnow(), audit.current_actor()
    db.session.flush()
    links = {row.link.id: row.link for row in effective(routing, None)}
    for op in routing.operations:
        links.update((row.link.id, row.link) for row in effective(routing, op.id))
    for link in sorted(links.values(), key=lambda each: each.id):
        if link.locked_version_id is None:
            _lock(link, link.document.latest, LockSource.release, "lock")


@dataclass
class Filters:
    state: str | None = None
    item_id: int | None = None
    due_from: date | None = None
    due_to: date | None = None
    q: str | None = None


def filtered(filters: Filters) -> Select:
    if filters.state and filters.state not in tuple(WorkOrderState):
        raise not_one_of("state", "A state", filters.state, tuple(WorkOrderState))
    query = select(WorkOrder).order_by(WorkOrder.due_date, WorkOrder.id)
    if filters.state:
        query = query.where(WorkOrder.state == filters.state)
    if filters.item_id:
        query = query.where(WorkOrder.item_id == filters.item_id)
    if filters.due_from:
        query = query.where(WorkOrder.due_date >= filters.due_from)
    if filters.due_to:
        query = query.where(WorkOrder.due_date <= filters.due_to)
    if filters.q:
        query = query.join(Item, Item.id == WorkOrder.item_id).where(
            containing(filters.q, WorkOrder.number, Item.number)
        )
    return query.options(
        selectinload(WorkOrder.item), selectinload(WorkOrder.routing), selectinload(WorkOrder.operations)
    )


def search(filters: Filters, page: int = 1, per_page: int = 25) -> Page:
    return paginate(filtered(filters), page, per_page)


def check_exportable(wo: WorkOrder) -> None:
    if wo.state == WorkOrderState.canceled:
        raise Conflict(
            f"{wo.number} is canceled; it has no pack.", {"field": "workorder_id", "state": wo.state}, code="canceled"
        )


def get_workorder_operation(wo: WorkOrder, operation_id: int, field: str = "operation_id") -> WorkOrderOperation:
    op = db.session.get(WorkOrderOperation, operation_id)
    if op is None or op.workorder_id != wo.id:
        raise invalid(field, f"{wo.number} has no operation with id {operation_id}.")
    return op


def links_of(routing_id: int, page: int = 1, per_page: int = 50) -> Page:
    query = select(DocumentLink).where(DocumentLink.routing_id == routing_id).order_by(DocumentLink.id)
    return paginate(query, page, per_page)
