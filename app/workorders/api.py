"""JSON API of routings, work orders, their document links and locks, and document packs."""

from flask import Blueprint

from app.core.api import API_PREFIX, endpoint, page_out, read
from app.core.auth.roles import ENGINEER, RECORDERS, SIGNED_IN
from app.extensions import db
from app.workorders import packs, service
from app.workorders.schemas import (
    DocumentsOut,
    DocumentsQuery,
    EffectiveOut,
    LinkIn,
    LinkList,
    LinkOut,
    LinkPatch,
    LinkQuery,
    LockIn,
    MoveIn,
    OperationDocumentsOut,
    OperationIn,
    OperationPatch,
    PackIn,
    PackOut,
    ReorderIn,
    RoutingIn,
    RoutingList,
    RoutingOut,
    RoutingPatch,
    RoutingQuery,
    RoutingSummary,
    WorkOrderIn,
    WorkOrderList,
    WorkOrderOut,
    WorkOrderPatch,
    WorkOrderQuery,
)

bp = Blueprint("workorders_api", __name__, url_prefix=API_PREFIX)


def link_out(link) -> LinkOut:
    latest = link.document.latest
    return read(LinkOut, link, latest_version=latest.version if latest else None, stale=service.is_stale(link))


def routing_out(routing) -> RoutingOut:
    return read(RoutingOut, routing, links=[link_out(link) for link in routing.links])


# ---- routings ------------------------------------------------------------------------------------


@endpoint(bp, "/routings", summary="Routings, by item, paged", query=RoutingQuery, response=RoutingList)
def list_routings(query: RoutingQuery):
    page = service.list_routings(query.item_id, query.page, query.per_page)
    return page_out(RoutingList, page, RoutingSummary.model_validate)


@endpoint(
    bp,
    "/routings",
    "POST",
    summary="Add a routing to an item",
    roles=ENGINEER,
    body=RoutingIn,
    response=RoutingOut,
    status=201,
)
def create_routing(body: RoutingIn):
    routing = service.create_routing(body.item_id, body.name, body.is_default)
    db.session.commit()
    return routing_out(routing)


@endpoint(bp, "/routings/<int:routing_id>", summary="A routing with its operations and links", response=RoutingOut)
def get_routing(routing_id: int):
    return routing_out(service.load_routing(routing_id))


@endpoint(
    bp,
    "/routings/<int:routing_id>",
    "PATCH",
    summary="Rename a routing, or make it its item's default",
    roles=ENGINEER,
    body=RoutingPatch,
    response=RoutingOut,
)
def update_routing(routing_id: int, body: RoutingPatch):
    routing = service.update_routing(routing_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return routing_out(routing)


@endpoint(
    bp,
    "/routings/<int:routing_id>/operations",
    "POST",
    summary="Add an operation (409 for a sequence or code in use)",
    roles=ENGINEER,
    body=OperationIn,
    response=RoutingOut,
    status=201,
)
def add_operation(routing_id: int, body: OperationIn):
    service.add_operation(routing_id, body.model_dump(exclude_none=True))
    db.session.commit()
    return routing_out(service.load_routing(routing_id))


@endpoint(
    bp,
    "/routings/<int:routing_id>/operations/<int:operation_id>",
    "PATCH",
    summary="Edit an operation",
    roles=ENGINEER,
    body=OperationPatch,
    response=RoutingOut,
)
def update_operation(routing_id: int, operation_id: int, body: OperationPatch):
    service.update_operation(routing_id, operation_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return routing_out(service.load_routing(routing_id))


@endpoint(
    bp,
    "/routings/<int:routing_id>/operations/<int:operation_id>",
    "DELETE",
    summary="Remove an operation (and its own links)",
    roles=ENGINEER,
    response=RoutingOut,
)
def remove_operation(routing_id: int, operation_id: int):
    service.remove_operation(routing_id, operation_id)
    db.session.commit()
    return routing_out(service.load_routing(routing_id))


@endpoint(
    bp,
    "/routings/<int:routing_id>/reorder",
    "POST",
    summary="New sequence numbers (422 naming a sequence used twice)",
    roles=ENGINEER,
    body=ReorderIn,
    response=RoutingOut,
)
def reorder(routing_id: int, body: ReorderIn):
    service.reorder(routing_id, [entry.model_dump() for entry in body.order])
    db.session.commit()
    return routing_out(service.load_routing(routing_id))


# ---- links and locks ------------------------------------------------------------------------------


@endpoint(bp, "/workorder-docs/links", summary="The document links of a routing", query=LinkQuery, response=LinkList)
def list_links(query: LinkQuery):
    service.get_routing(query.routing_id)
    return page_out(LinkList, service.links_of(query.routing_id, query.page, query.per_page), link_out)


@endpoint(
    bp,
    "/workorder-docs/links",
    "POST",
    summary="Link a document to a routing or to one of its operations",
    roles=ENGINEER,
    body=LinkIn,
    response=LinkOut,
    status=201,
)
def create_link(body: LinkIn):
    link = service.link_document(
        body.routing_id,
        body.document_id,
        body.operation_id,
        inherit_to_operations=body.inherit_to_operations,
        visible_in_production=body.visible_in_production,
    )
    db.session.commit()
    return link_out(link)


@endpoint(bp, "/workorder-docs/links/<int:link_id>", summary="One document link", response=LinkOut)
def get_link(link_id: int):
    return link_out(service.get_link(link_id))


@endpoint(
    bp,
    "/workorder-docs/links/<int:link_id>",
    "PATCH",
    summary="Inherited or not, visible in production or hidden",
    roles=ENGINEER,
    body=LinkPatch,
    response=LinkOut,
)
def update_link(link_id: int, body: LinkPatch):
    link = service.update_link(link_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return link_out(link)


@endpoint(
    bp,
    "/workorder-docs/links/<int:link_id>",
    "DELETE",
    summary="Remove a document link",
    roles=ENGINEER,
    response=RoutingOut,
)
def remove_link(link_id: int):
    routing = service.remove_link(link_id)
    db.session.commit()
    return routing_out(service.load_routing(routing.id))


@endpoint(
    bp,
    "/workorder-docs/links/<int:link_id>/lock",
    "POST",
    summary="Lock a link to one version of its document (422 for a version of another document)",
    roles=ENGINEER,
    body=LockIn,
    response=LinkOut,
)
def lock_link(link_id: int, body: LockIn):
    link = service.lock(link_id, body.version_id)
    db.session.commit()
    return link_out(link)


@endpoint(
    bp,
    "/workorder-docs/links/<int:link_id>/unlock",
    "POST",
    summary="Let a link follow its document's latest version again",
    roles=ENGINEER,
    response=LinkOut,
)
def unlock_link(link_id: int):
    link = service.unlock(link_id)
    db.session.commit()
    return link_out(link)


@endpoint(
    bp,
    "/workorder-docs/links/<int:link_id>/move-forward",
    "POST",
    summary="Move a (stale) lock to the document's latest version",
    roles=ENGINEER,
    response=LinkOut,
)
def move_lock_forward(link_id: int):
    link = service.move_lock_forward(link_id)
    db.session.commit()
    return link_out(link)


# ---- work orders ----------------------------------------------------------------------------------


@endpoint(
    bp, "/workorders", summary="Work orders, filtered, by due date, paged", query=WorkOrderQuery, response=WorkOrderList
)
def list_workorders(query: WorkOrderQuery):
    filters = service.Filters(**query.model_dump(include={"state", "item_id", "due_from", "due_to", "q"}))
    return page_out(WorkOrderList, service.search(filters, query.page, query.per_page), WorkOrderOut.model_validate)


@endpoint(
    bp,
    "/workorders",
    "POST",
    summary="Create a draft work order",
    roles=RECORDERS,
    body=WorkOrderIn,
    response=WorkOrderOut,
    status=201,
)
def create_workorder(body: WorkOrderIn):
    wo = service.create_workorder(body.item_id, body.quantity, body.due_date, body.routing_id, body.note)
    db.session.commit()
    return WorkOrderOut.model_validate(wo)


@endpoint(bp, "/workorders/<int:workorder_id>", summary="One work order", response=WorkOrderOut)
def get_workorder(workorder_id: int):
    return WorkOrderOut.model_validate(service.get_workorder(workorder_id))


@endpoint(
    bp,
    "/workorders/<int:workorder_id>",
    "PATCH",
    summary="Edit a draft work order",
    roles=RECORDERS,
    body=WorkOrderPatch,
    response=WorkOrderOut,
)
def update_workorder(workorder_id: int, body: WorkOrderPatch):
    wo = service.update_workorder(workorder_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return WorkOrderOut.model_validate(wo)


@endpoint(
    bp,
    "/workorders/<int:workorder_id>/state",
    "POST",
    summary="Move the work order (release copies the operations and locks the links; 409 naming the allowed targets)",
    roles=RECORDERS,
    body=MoveIn,
    response=WorkOrderOut,
)
def move_workorder(workorder_id: int, body: MoveIn):
    wo = service.move(workorder_id, body.to_state)
    db.session.commit()
    return WorkOrderOut.model_validate(wo)


def effective_out(row: service.Effective) -> EffectiveOut:
    version = row.version
    return EffectiveOut(
        link_id=row.link.id,
        document_id=row.document.id,
        number=row.document.number,
        title=row.document.title,
        source=row.source,
        overrides_link_id=row.overrides.id if row.overrides else None,
        hidden=row.hidden,
        version=version.version,
        version_id=version.id,
        locked=row.locked,
        lock_source=row.lock_source,
        stale=row.stale,
        sha256=version.sha256,
        size=version.size,
        content_type=version.content_type,
    )


@endpoint(
    bp,
    "/workorder-docs/<int:workorder_id>/documents",
    summary="Each operation's effective documents, with where each comes from",
    query=DocumentsQuery,
    response=DocumentsOut,
)
def workorder_documents(workorder_id: int, query: DocumentsQuery):
    wo = service.get_workorder(workorder_id)
    general, ops = service.workorder_documents(wo)

    def shown(rows):
        return [effective_out(row) for row in rows if not (query.production and row.hidden)]

    return DocumentsOut(
        workorder=wo.number,
        state=wo.state,
        order_documents=shown(general),
        operations=[
            OperationDocumentsOut(
                id=op.id, sequence=op.sequence, code=op.code, name=op.name, documents=shown(op.documents)
            )
            for op in ops
        ],
    )


@endpoint(
    bp,
    "/workorder-docs/<int:workorder_id>/pack",
    "POST",
    summary="Export the document pack on a worker (409: canceled order, or links not locked when required)",
    roles=SIGNED_IN,
    body=PackIn,
    response=PackOut,
    status=202,
)
def start_pack(workorder_id: int, body: PackIn):
    pack = packs.start(workorder_id, body.operation_id, require_locked=body.require_locked)
    db.session.commit()
    return PackOut.model_validate(pack)


@endpoint(bp, "/workorder-docs/packs/<int:pack_id>", summary="A pack export and its status", response=PackOut)
def get_pack(pack_id: int):
    return PackOut.model_validate(packs.get_pack(pack_id))


@endpoint(bp, "/workorder-docs/packs/<int:pack_id>/download", summary="The pack's zip (409 until it is done)")
def download_pack(pack_id: int):
    return packs.download(pack_id)
