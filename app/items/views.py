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
from flask_login import current_user
from sqlalchemy import select

from app.core import forms, uploads
from app.core.auth.roles import ENGINEER, SIGNED_IN
from app.core.errors import DomainError
from app.core.jobs import progress_of
from app.core.pages import form_action, form_page, page_roles
from app.core.paging import paginate_list, requested_page
from app.core.records import id_from_text
from app.extensions import db
from app.items import csvio, exports, service
from app.items.compare import FIELD_LABELS, MAX_LEVELS, MODES
from app.items.delta import EXPORT_FORMATS, MEDIA_TYPES, build_delta_preview, export_filename, operations_page
from app.items.models import ITEM_TYPES, LIFECYCLES, Bom, BomExport, BomState, ExportStatus, Item, Lifecycle
from app.items.structure import children_with_boms, explode, quantity_text

bp = Blueprint("items", __name__, url_prefix="/items")
COMPARE_ROWS_PER_PAGE = 200  # side-by-side rows per page (the patch listing pages the same way)
COMPARE_REFS_LISTED = 1000  # revisions offered in the compare fields' list; others are typed
BOM_LINES_PER_PAGE = 50  # a line with its edit forms is about 1.2 KB of HTML and many DOM nodes
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


def _lines_context(bom: Bom) -> dict:
    """One page of a revision's lines and what their rows show (a large BOM is read a page at a time)."""
    lines = service.bom_lines(bom, BOM_LINES_PER_PAGE)
    draft = any(b.state == BomState.draft for b in bom.item.boms)
    # edits go to the draft; a released BOM is edited only when no draft exists (they start one)
    editable = current_user.has_role("engineer") and (
        bom.state == BomState.draft or (bom.state == BomState.released and not draft)
    )
    return {
        "lines": lines,
        "editable": editable,
        "expandable": children_with_boms([line.child_id for line in lines.items]),
    }


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
        **(_lines_context(bom) if bom else {}),
    )


@bp.get("/boms/<int:bom_id>/lines/rows")
@page_roles(SIGNED_IN)
def line_rows(bom_id: int):
    """The rows of one more page of lines, for the BOM page's "show more" (htmx)."""
    bom = service.get_bom(bom_id)
    return render_template("items/_line_rows.html", bom=bom, **_lines_context(bom))


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


IMPORT_ECHO_BYTES = 64 * 1024  # a pasted file up to this size is shown again in the form, to correct it
EXPIRED = "This preview has expired; upload the file again."


def _uploaded_text() -> str | None:
    """An import's CSV: the one its preview kept (the commit form names it), the uploaded file, or
    the pasted text; None when the kept one has expired."""
    if token := request.form.get("upload"):
        return uploads.stashed(token)
    upload = request.files.get("file")
    if upload and upload.filename:
        return upload.read().decode("utf-8", errors="replace")
    return request.form.get("text", "")


def _import_page(template: str, check: csvio.ImportCheck | None, text: str, **context):
    """The import form with its preview: a good file is kept for the commit (the form sends its token,
    not the file), and only a small one is echoed in the form, so the page stays small."""
    upload = uploads.stash(text) if check is not None and check.ok else None
    echoed = text if len(text.encode()) <= IMPORT_ECHO_BYTES else ""
    page = render_template(template, check=check, text=echoed, commit_text=text, upload=upload, **context)
    return page, 200 if check is None or check.ok else 422


@bp.route("/import", methods=["GET", "POST"])
@page_roles(ENGINEER)
def import_items():
    """Items from a CSV: a preview first (bad rows by line), then nothing or every row on commit."""
    if request.method == "GET":
        return _import_page("items/import_items.html", None, "", columns=csvio.ITEM_COLUMNS)
    text = _uploaded_text()
    if text is None:
        return _import_page("items/import_items.html", csvio.ImportCheck(error=EXPIRED), "", columns=csvio.ITEM_COLUMNS)
    if request.form.get("commit"):
        if (earlier := forms.claim(url_for("items.index"))) is not None:
            flash(forms.ALREADY_SENT, "info")
            return redirect(earlier)
        check = csvio.commit_items_import(text)
        if check.ok:
            forms.done(url_for("items.index"))
            db.session.commit()
            flash(f"{len(check.rows)} item(s) imported.", "success")
            return redirect(url_for("items.index"))
        db.session.rollback()  # the token too: the corrected import can be sent with it
    else:
        check = csvio.check_items_import(text)
    return _import_page("items/import_items.html", check, text, columns=csvio.ITEM_COLUMNS)


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
        return _import_page("items/import.html", None, "", bom=bom)
    text = _uploaded_text()
    if text is None:
        return _import_page("items/import.html", csvio.ImportCheck(error=EXPIRED), "", bom=bom)
    if request.form.get("commit"):
        if (earlier := forms.claim(url_for("items.detail", item_id=bom.item_id))) is not None:
            flash(forms.ALREADY_SENT, "info")
            return redirect(earlier)
        check, target = csvio.commit_import(bom, text)
        if target is not None:
            url = url_for("items.detail", item_id=target.item_id, rev=target.revision)
            forms.done(url)
            db.session.commit()
            created = f", {len(check.new_items)} new part item(s) created" if check.new_items else ""
            flash(f"{len(check.rows)} line(s) imported into {target.ref}{created}.", "success")
            return redirect(url)
        db.session.rollback()  # the token too: the corrected import can be sent with it
    else:
        check = csvio.check_import(bom, text)
    return _import_page("items/import.html", check, text, bom=bom)


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
        .limit(COMPARE_REFS_LISTED)
    ).all()
    result = preview = lines = operations = error = None
    if args["left"] and args["right"]:
        try:
            result = exports.compare_refs(**args)
            preview = build_delta_preview(result)
        except DomainError as exc:
            error = exc.message
        else:  # the table and the patch listing show the same page number of their own rows
            lines = paginate_list(result.lines, requested_page(), COMPARE_ROWS_PER_PAGE)
            operations = operations_page(preview, requested_page())
    return render_template(
        "items/compare.html",
        args=args,
        refs=refs,
        modes=MODES,
        max_levels=MAX_LEVELS,
        result=result,
        preview=preview,
        lines=lines,
        operations=operations,
        error=error,
        formats=EXPORT_FORMATS,
        fields=FIELD_LABELS,
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
def sync_export_limit() -> int:
    return current_app.config["BOM_EXPORT_SYNC_MAX_LINES"]
