"""Pages of items and BOMs: list, detail, forms, multi-level tree, CSV import
and export, compare with its delta, and background exports."""

from decimal import Decimal, InvalidOperation

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from app.core import forms
from app.core.auth.roles import ENGINEER, SIGNED_IN
from app.core.errors import DomainError
from app.core.jobs import progress_of
from app.core.pages import form_action, form_page, page_roles
from app.core.records import id_from_text
from app.extensions import db
from app.items import csvio, exports, service
from app.items.compare import MAX_LEVELS, MODES
from app.items.delta import EXPORT_FORMATS, MEDIA_TYPES, build_delta_preview, export_filename
from app.items.models import ITEM_TYPES, LIFECYCLES, Bom, BomExport, ExportStatus, Item, Lifecycle
from app.items.structure import children_with_boms, explode, quantity_text

bp = Blueprint("items", __name__, url_prefix="/items")
COMPARE_ROWS_SHOWN = 2000  # more than this is for the export, not for a page
NEW_ITEM = {
    "item_type": "part",
    "uom": "EA",
    "revision": "A",
    "lifecycle": Lifecycle.draft,
}  # the new-item form


def _attachment(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---- items -----------------------------------------------------------------


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    q, item_type, lifecycle = (request.args.get(k) or None for k in ("q", "item_type", "lifecycle"))
    page = service.search_items(
        q,
        item_type if item_type in ITEM_TYPES else None,
        lifecycle if lifecycle in LIFECYCLES else None,
        request.args.get("page", 1, type=int),
        25,
    )
    return render_template(
        "items/index.html",
        page=page,
        q=q or "",
        item_type=item_type or "",
        lifecycle=lifecycle or "",
        item_types=ITEM_TYPES,
        lifecycles=LIFECYCLES,
    )


def _item_form(item: Item | None):
    """GET shows the form; POST saves it, or shows it again with the error and what was typed."""

    def save(values: dict) -> str:
        saved = service.update_item(item.id, values) if item else service.create_item(values)
        return url_for("items.detail", item_id=saved.id)

    return form_page(
        "items/form.html",
        save,
        service.item_snapshot(item)
        if item
        else {"item_type": "part", "uom": "EA", "revision": "A", "lifecycle": Lifecycle.draft},
        posted=lambda: {k: request.form.get(k, "") for k in service.ITEM_FIELDS},
        context=lambda _: {"item": item, "item_types": ITEM_TYPES, "lifecycles": LIFECYCLES},
    )


@bp.route("/new", methods=["GET", "POST"])
@page_roles(ENGINEER)
def create():
    return _item_form(None)


@bp.route("/<int:item_id>/edit", methods=["GET", "POST"])
@page_roles(ENGINEER)
def edit(item_id: int):
    return _item_form(service.get_item(item_id))


@bp.get("/<int:item_id>")
@page_roles(SIGNED_IN)
def detail(item_id: int):
    item = service.get_item(item_id)
    revision = request.args.get("rev")
    bom = service.resolve_bom(f"{item.number}@{revision}") if revision else service.effective_bom(item)
    used_in = db.session.execute(
        select(Item.id, Item.number, Bom.revision, Bom.state)
        .join(Bom, Bom.item_id == Item.id)
        .where(Bom.lines.any(child_id=item.id))
        .order_by(Item.number, Bom.revision)
    ).all()
    return render_template(
        "items/detail.html",
        item=item,
        bom=bom,
        used_in=used_in,
        expandable=children_with_boms([line.child_id for line in bom.lines]) if bom else set(),
    )


@bp.post("/<int:item_id>/bom")
@page_roles(ENGINEER)
def create_bom(item_id: int):
    def act() -> str:
        bom = service.create_bom(item_id)
        return f"BOM {bom.ref} started as a draft."

    return form_action(act, url_for("items.detail", item_id=item_id))


def _bom_action(bom_id: int, action) -> Response:
    """Run a BOM edit, then show the revision it landed on (a new draft after
    editing a released one); a refused edit changes nothing and says why."""
    bom = service.get_bom(bom_id)
    item_id, revision = bom.item_id, bom.revision
    if (earlier := forms.claim(url_for("items.detail", item_id=item_id, rev=revision))) is not None:
        flash(forms.ALREADY_SENT, "info")
        return redirect(earlier)
    try:
        message, target = action(bom)
        revision = target.revision
        forms.done(url_for("items.detail", item_id=item_id, rev=revision))
        db.session.commit()
        flash(message, "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("items.detail", item_id=item_id, rev=revision))


def _line_form() -> dict:
    return {k: request.form[k] for k in service.LINE_FIELDS if k in request.form}


@bp.post("/boms/<int:bom_id>/lines")
@page_roles(ENGINEER)
def add_line(bom_id: int):
    def act(bom):
        line = service.add_line(bom_id, _line_form())
        return f"{line.child.number} added to {line.bom.ref}.", line.bom

    return _bom_action(bom_id, act)


@bp.post("/lines/<int:line_id>")
@page_roles(ENGINEER)
def update_line(line_id: int):
    line = service.get_line(line_id)

    def act(bom):
        changed = service.update_line(line_id, _line_form())
        return f"{changed.child.number} changed in {changed.bom.ref}.", changed.bom

    return _bom_action(line.bom_id, act)


@bp.post("/lines/<int:line_id>/delete")
@page_roles(ENGINEER)
def remove_line(line_id: int):
    line = service.get_line(line_id)

    def act(bom):
        number = line.child.number
        target = service.remove_line(line_id)
        return f"{number} removed from {target.ref}.", target

    return _bom_action(line.bom_id, act)


@bp.post("/boms/<int:bom_id>/release")
@page_roles(ENGINEER)
def release(bom_id: int):
    def act(bom):
        service.release_bom_revision(bom_id)
        return f"{bom.ref} released.", bom

    return _bom_action(bom_id, act)


@bp.post("/boms/<int:bom_id>/revise")
@page_roles(ENGINEER)
def revise(bom_id: int):
    def act(bom):
        draft, _ = service.new_revision(bom)
        return f"{draft.ref} started as a draft copy of {bom.ref}.", draft

    return _bom_action(bom_id, act)


# ---- multi-level tree --------------------------------------------------------


def _tree_rows(bom: Bom, path: str, factor: Decimal, level: int) -> dict:
    lines = explode(bom, 1)
    for line in lines:
        line.extended = line.quantity * factor
        line.level = level
    return {"lines": lines, "path": path, "expandable": children_with_boms([line.child_id for line in lines])}


@bp.get("/boms/<int:bom_id>/tree")
@page_roles(SIGNED_IN)
def tree(bom_id: int):
    bom = service.get_bom(bom_id)
    return render_template("items/tree.html", bom=bom, **_tree_rows(bom, "", Decimal(1), 1))


@bp.get("/boms/<int:bom_id>/tree/children")
@page_roles(SIGNED_IN)
def tree_children(bom_id: int):
    """Rows under one line of the tree: the child's effective BOM, quantities rolled up by `factor`."""
    child = service.get_item(request.args.get("child", "0", type=id_from_text) or 0)
    try:
        factor = Decimal(request.args.get("factor", "1"))
    except InvalidOperation:
        abort(400, "factor must be a number")
    level = min(request.args.get("level", 2, type=int), MAX_LEVELS + 1)
    sub = service.effective_bom(child)
    if sub is None:
        return ""
    return render_template(
        "items/_tree_rows.html", bom=sub, **_tree_rows(sub, request.args.get("path", ""), factor, level)
    )


# ---- CSV ---------------------------------------------------------------------


@bp.get("/boms/<int:bom_id>/export.csv")
@page_roles(SIGNED_IN)
def export_csv(bom_id: int):
    bom = service.get_bom(bom_id)
    return _attachment(csvio.bom_csv(bom), "text/csv", f"bom_{bom.item.number}-{bom.revision}.csv")


@bp.route("/boms/<int:bom_id>/import", methods=["GET", "POST"])
@page_roles(ENGINEER)
def import_csv(bom_id: int):
    bom = service.get_bom(bom_id)
    if request.method == "GET":
        return render_template("items/import.html", bom=bom, check=None, text="")
    upload = request.files.get("file")
    text = (
        upload.read().decode("utf-8", errors="replace") if upload and upload.filename else request.form.get("text", "")
    )
    if request.form.get("commit"):
        if (earlier := forms.claim(url_for("items.detail", item_id=bom.item_id))) is not None:
            flash(forms.ALREADY_SENT, "info")
            return redirect(earlier)
        check, target = csvio.commit_import(bom, text)
        if target is not None:
            url = url_for("items.detail", item_id=target.item_id, rev=target.revision)
            forms.done(url)
            db.session.commit()
            flash(f"{len(check.rows)} line(s) imported into {target.ref}.", "success")
            return redirect(url)
        db.session.rollback()  # the token too: the corrected import can be sent with it
    else:
        check = csvio.check_import(bom, text)
    return render_template("items/import.html", bom=bom, check=check, text=text), 200 if check.ok else 422


# ---- compare -----------------------------------------------------------------


def _compare_args() -> dict:
    args = request.values
    return {
        "left": args.get("left", ""),
        "right": args.get("right", ""),
        "mode": args.get("mode", "by_item"),
        "max_levels": args.get("max_levels", 1, type=int) or 1,
    }


@bp.get("/compare")
@page_roles(SIGNED_IN)
def compare():
    args = _compare_args()
    refs = db.session.execute(
        select(Item.number, Bom.revision, Bom.state)
        .join(Bom, Bom.item_id == Item.id)
        .order_by(Item.number, Bom.revision)
        .limit(2000)
    ).all()
    result = preview = error = None
    if args["left"] and args["right"]:
        try:
            result = exports.compare_refs(**args)
            preview = build_delta_preview(result)
        except DomainError as exc:
            error = exc.message
    return render_template(
        "items/compare.html",
        args=args,
        refs=refs,
        modes=MODES,
        max_levels=MAX_LEVELS,
        result=result,
        preview=preview,
        error=error,
        formats=EXPORT_FORMATS,
    ), 422 if error else 200


@bp.post("/compare/export")
@page_roles(SIGNED_IN)
def compare_export():
    args = _compare_args()
    export_format = request.form.get("export_format", "csv")
    if (earlier := forms.claim(url_for("items.compare", **args))) is not None:  # a large export is a row: once
        flash(forms.ALREADY_SENT, "info")
        return redirect(earlier)
    try:
        outcome = exports.export_delta(export_format=export_format, **args)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("items.compare", **args))
    if isinstance(outcome, BomExport):
        url = url_for("items.export_page", export_id=outcome.id)
        forms.done(url)
        db.session.commit()
        return redirect(url)
    db.session.rollback()  # a small export is sent at once and keeps nothing: the same form may ask again
    return _attachment(outcome, MEDIA_TYPES[export_format], export_filename(export_format=export_format, **args))


def _export_view(export_id: int) -> dict:
    export = exports.get_export(export_id)
    fraction, message = (
        progress_of(export.job_id) if export.status in (ExportStatus.queued, ExportStatus.running) else (None, "")
    )
    return {"export": export, "progress": fraction, "message": message}


@bp.get("/exports/<int:export_id>")
@page_roles(SIGNED_IN)
def export_page(export_id: int):
    return render_template("items/export.html", **_export_view(export_id))


@bp.get("/exports/<int:export_id>/panel")
@page_roles(SIGNED_IN)
def export_panel(export_id: int):
    return render_template("items/_export_panel.html", **_export_view(export_id))


@bp.get("/exports/<int:export_id>/download")
@page_roles(SIGNED_IN)
def export_download(export_id: int):
    export = exports.download(export_id)
    return _attachment(
        export.content,
        MEDIA_TYPES[export.export_format],
        export_filename(export.left_ref, export.right_ref, export.mode, export.max_levels, export.export_format),
    )


@bp.app_template_filter("qty")
def quantity_filter(value) -> str:
    return quantity_text(value)


@bp.app_template_global()
def compare_rows_shown() -> int:
    return COMPARE_ROWS_SHOWN


@bp.app_template_global()
def sync_export_limit() -> int:
    return current_app.config["BOM_EXPORT_SYNC_MAX_LINES"]
