"""Pages of work orders: the list (filter by state, item, due; paged), the create form, the
detail page (state moves, each operation's effective documents with their source, hidden and
stale flags, lock moves, pack downloads), the routing list and editor (operations added,
reordered, removed; documents linked), the pack page (progress, download) and the read-only
shop-floor view of one operation. Forms are validated by the API's schemas."""

from typing import Any

from flask import Blueprint, render_template, request, send_file, url_for
from pydantic import BaseModel

from app.core.api import parse
from app.core.auth.roles import ENGINEER, RECORDERS, SIGNED_IN
from app.core.errors import InvalidInput, NotFound
from app.core.jobs import progress_of
from app.core.pages import form_action, form_page, page_roles
from app.core.records import id_from_text
from app.core.validation import invalid
from app.docsync import documents
from app.docsync.store import store
from app.extensions import db
from app.items.models import Item
from app.workorders import packs, service
from app.workorders.models import PackStatus, WorkOrderState
from app.workorders.schemas import (
    LinkIn,
    OperationIn,
    OperationPatch,
    RoutingIn,
    RoutingPatch,
    WorkOrderIn,
    WorkOrderQuery,
)

bp = Blueprint("workorders", __name__, url_prefix="/workorders")

INLINE_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif")  # what a browser shows itself


def _form(model: type[BaseModel], *, checkboxes: tuple[str, ...] = (), **extra: Any) -> BaseModel:
    skip = ("csrf_token", "form_token", "document_number")
    data: dict[str, Any] = {k: v for k, v in request.form.items() if k not in skip and v != ""}
    for box in checkboxes:
        data[box] = box in request.form
    return parse(model, {**data, **extra})


def _items():
    return db.session.scalars(db.select(Item).order_by(Item.number).limit(1000)).all()


# ---- work orders ----------------------------------------------------------------------------------


def _list_context() -> dict[str, Any]:
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        query = parse(WorkOrderQuery, raw)
    except InvalidInput:
        query, raw = WorkOrderQuery(), {}
    filters = service.Filters(**query.model_dump(include={"state", "item_id", "due_from", "due_to", "q"}))
    shown = {k: v for k, v in raw.items() if k != "page"}
    return {
        "page": service.search(filters, query.page, query.per_page),
        "filters": shown,
        "states": list(WorkOrderState),
        "items": _items(),
    }


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    return render_template("workorders/index.html", **_list_context())


@bp.route("/new", methods=["GET", "POST"])
@page_roles(RECORDERS)
def create():
    def save(_values: dict) -> str:
        body = _form(WorkOrderIn)
        wo = service.create_workorder(body.item_id, body.quantity, body.due_date, body.routing_id, body.note)
        return url_for("workorders.detail", workorder_id=wo.id)

    routings = service.list_routings(per_page=200).items
    return form_page(
        "workorders/form.html", save, {"quantity": "1"}, context=lambda _: {"routings": routings, "items": _items()}
    )


def _detail_context(workorder_id: int) -> dict[str, Any]:
    wo = service.get_workorder(workorder_id)
    general, ops = service.workorder_documents(wo)
    return {
        "wo": wo,
        "general": general,
        "ops": ops,
        "packs": packs.packs_of(wo.id).items,
        "exportable": wo.state != WorkOrderState.canceled,
    }


@bp.get("/<int:workorder_id>")
@page_roles(SIGNED_IN)
def detail(workorder_id: int):
    return render_template("workorders/detail.html", **_detail_context(workorder_id))


@bp.get("/<int:workorder_id>/panel")
@page_roles(SIGNED_IN)
def detail_panel(workorder_id: int):
    return render_template("workorders/_detail_panel.html", **_detail_context(workorder_id))


def _back(workorder_id: int) -> str:
    return request.form.get("back") or url_for("workorders.detail", workorder_id=workorder_id)


@bp.post("/<int:workorder_id>/state")
@page_roles(RECORDERS)
def move(workorder_id: int):
    def act() -> str:
        wo = service.move(workorder_id, request.form.get("to_state", ""))
        return f"{wo.number} is {wo.state}."

    return form_action(act, _back(workorder_id))


@bp.post("/<int:workorder_id>/pack")
@page_roles(SIGNED_IN)
def start_pack(workorder_id: int):
    def act():
        operation_id = id_from_text(request.form.get("operation_id", ""))
        pack = packs.start(workorder_id, operation_id, require_locked=request.form.get("require_locked") == "on")
        return "The pack is being made.", url_for("workorders.pack_page", pack_id=pack.id)

    return form_action(act, _back(workorder_id))


@bp.post("/links/<int:link_id>/<any(forward, lock, unlock):action>")
@page_roles(ENGINEER)
def link_lock(link_id: int, action: str):
    def act() -> str:
        if action == "forward":
            link = service.move_lock_forward(link_id)
        elif action == "lock":
            link = service.lock(link_id, id_from_text(request.form.get("version_id", "")))
        else:
            link = service.unlock(link_id)
        version = link.locked_version.version if link.locked_version else "latest"
        return f"{link.document.number} now shows version {version}."

    back = request.form.get("back") or url_for("workorders.routing", routing_id=service.get_link(link_id).routing_id)
    return form_action(act, back)


# ---- packs ------------------------------------------------------------------------------------------


def _pack_context(pack_id: int) -> dict[str, Any]:
    pack = packs.get_pack(pack_id)
    waiting = pack.status in (PackStatus.queued, PackStatus.running)
    fraction, message = progress_of(pack.job_id) if waiting and pack.job_id else (None, "")
    return {"pack": pack, "progress": fraction, "message": message, "waiting": waiting}


@bp.get("/packs/<int:pack_id>")
@page_roles(SIGNED_IN)
def pack_page(pack_id: int):
    return render_template("workorders/pack.html", **_pack_context(pack_id))


@bp.get("/packs/<int:pack_id>/panel")
@page_roles(SIGNED_IN)
def pack_panel(pack_id: int):
    return render_template("workorders/_pack_panel.html", **_pack_context(pack_id))


@bp.get("/packs/<int:pack_id>/download")
@page_roles(SIGNED_IN)
def pack_download(pack_id: int):
    return packs.download(pack_id)


# ---- shop floor ------------------------------------------------------------------------------------


@bp.get("/<int:workorder_id>/floor/<int:operation_id>")
@page_roles(SIGNED_IN)
def floor(workorder_id: int, operation_id: int):
    wo = service.get_workorder(workorder_id)
    op = service.get_workorder_operation(wo, operation_id)
    _, ops = service.workorder_documents(wo, op.id)
    shown = [row for row in ops[0].documents if not row.hidden] if ops else []
    return render_template("workorders/floor.html", wo=wo, op=op, rows=shown, inline=INLINE_TYPES)


@bp.get("/<int:workorder_id>/floor/<int:operation_id>/files/<int:link_id>")
@page_roles(SIGNED_IN)
def floor_file(workorder_id: int, operation_id: int, link_id: int):
    """The version the floor sees of one of the operation's documents, inline when the browser can show it."""
    wo = service.get_workorder(workorder_id)
    op = service.get_workorder_operation(wo, operation_id)
    _, ops = service.workorder_documents(wo, op.id)
    row = next((r for r in (ops[0].documents if ops else []) if r.link.id == link_id and not r.hidden), None)
    if row is None:
        raise NotFound(f"Document link {link_id} is not shown for operation {op.code}.")
    version = row.version
    response = send_file(
        store().open(version.sha256),
        mimetype=version.content_type,
        as_attachment=version.content_type not in INLINE_TYPES,
        download_name=version.filename,
        etag=version.sha256,
        conditional=True,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---- routings --------------------------------------------------------------------------------------


@bp.get("/routings/")
@page_roles(SIGNED_IN)
def routings():
    item_id = id_from_text(request.args.get("item_id", ""))
    page = service.list_routings(item_id, id_from_text(request.args.get("page", "")) or 1, 50)
    filters = {"item_id": item_id} if item_id else {}
    return render_template("workorders/routings.html", page=page, items=_items(), filters=filters)


@bp.post("/routings/")
@page_roles(ENGINEER)
def create_routing():
    def act():
        body = _form(RoutingIn, checkboxes=("is_default",))
        routing = service.create_routing(body.item_id, body.name, body.is_default)
        return f"Routing {routing.name!r} added.", url_for("workorders.routing", routing_id=routing.id)

    return form_action(act, url_for("workorders.routings"))


def _routing_context(routing_id: int) -> dict[str, Any]:
    routing = service.load_routing(routing_id)
    ops = {op.id: service.effective(routing, op.id) for op in routing.operations}
    return {
        "routing": routing,
        "effective": ops,
        "general": service.effective(routing, None),
        "all_documents": documents.search(per_page=200).items,
    }


@bp.get("/routings/<int:routing_id>")
@page_roles(SIGNED_IN)
def routing(routing_id: int):
    return render_template("workorders/routing.html", **_routing_context(routing_id))


def _routing_back(routing_id: int) -> str:
    return url_for("workorders.routing", routing_id=routing_id)


@bp.post("/routings/<int:routing_id>/edit")
@page_roles(ENGINEER)
def edit_routing(routing_id: int):
    def act() -> str:
        changes = _form(RoutingPatch, checkboxes=("is_default",)).model_dump(exclude_unset=True)
        routing = service.update_routing(routing_id, changes)
        return f"Routing {routing.name!r} saved" + (" (the item's default)." if routing.is_default else ".")

    return form_action(act, _routing_back(routing_id))


@bp.post("/routings/<int:routing_id>/operations")
@page_roles(ENGINEER)
def add_operation(routing_id: int):
    def act() -> str:
        op = service.add_operation(routing_id, _form(OperationIn).model_dump(exclude_none=True))
        return f"Operation {op.sequence} {op.code} added."

    return form_action(act, _routing_back(routing_id))


@bp.post("/routings/<int:routing_id>/operations/<int:operation_id>/edit")
@page_roles(ENGINEER)
def edit_operation(routing_id: int, operation_id: int):
    def act() -> str:
        changes = _form(OperationPatch).model_dump(exclude_unset=True)
        if request.form.get("work_centre", None) == "":  # a blank clears it
            changes["work_centre"] = ""
        op = service.update_operation(routing_id, operation_id, changes)
        return f"Operation {op.sequence} {op.code} saved."

    return form_action(act, _routing_back(routing_id))


@bp.post("/routings/<int:routing_id>/operations/<int:operation_id>/remove")
@page_roles(ENGINEER)
def remove_operation(routing_id: int, operation_id: int):
    def act() -> str:
        service.remove_operation(routing_id, operation_id)
        return "Operation removed."

    return form_action(act, _routing_back(routing_id))


@bp.post("/routings/<int:routing_id>/reorder")
@page_roles(ENGINEER)
def reorder(routing_id: int):
    def act() -> str:
        order = []
        for key, value in request.form.items():
            if key.startswith("seq-"):
                op_id, seq = id_from_text(key[4:]), id_from_text(value.strip())
                if op_id is None or seq is None:
                    raise invalid("sequence", f"A sequence number is a whole number; {value!r} is not.")
                order.append({"operation_id": op_id, "sequence": seq})
        service.reorder(routing_id, order)
        return "Operations reordered."

    return form_action(act, _routing_back(routing_id))


@bp.post("/routings/<int:routing_id>/links")
@page_roles(ENGINEER)
def add_link(routing_id: int):
    def act() -> str:
        extra: dict[str, Any] = {"routing_id": routing_id}
        number = request.form.get("document_number", "").strip()
        if number:  # typed: any document, not only the ones the list offers
            found = documents.find(number)
            if found is None:
                raise invalid("document_id", f"No document {number}.")
            extra["document_id"] = found.id
        body = _form(LinkIn, checkboxes=("inherit_to_operations", "visible_in_production"), **extra)
        link = service.link_document(
            routing_id,
            body.document_id,
            body.operation_id,
            inherit_to_operations=body.inherit_to_operations,
            visible_in_production=body.visible_in_production,
        )
        where = f"operation {link.operation.code}" if link.operation else "the routing"
        return f"{link.document.number} linked to {where}."

    return form_action(act, _routing_back(routing_id))


@bp.post("/links/<int:link_id>/<any(remove, hide, show, inherit, own):action>")
@page_roles(ENGINEER)
def link_edit(link_id: int, action: str):
    routing_id = service.get_link(link_id).routing_id

    def act() -> str:
        if action == "remove":
            service.remove_link(link_id)
            return "Link removed."
        changes = {
            "hide": {"visible_in_production": False},
            "show": {"visible_in_production": True},
            "inherit": {"inherit_to_operations": True},
            "own": {"inherit_to_operations": False},
        }[action]
        service.update_link(link_id, changes)
        return "Link changed."

    return form_action(act, request.form.get("back") or _routing_back(routing_id))
