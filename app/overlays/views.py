"""Pages of 3D models: the list with the upload form, and the 3D page of one document version
(three.js view, component tree, search, the panel of the picked part, live on overlay changes),
with the engineer's overlay actions (create, map by name, status moves)."""

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from app.core.auth.roles import ENGINEER, SIGNED_IN
from app.core.errors import NotFound
from app.core.pages import form_action, form_page, page_roles
from app.docsync import documents
from app.docsync.documents import Metadata
from app.overlays import gltf, service
from app.overlays.api import model_out
from app.overlays.models import FLOW, OverlayStatus

bp = Blueprint("overlays", __name__, url_prefix="/cad-3d")


def _version() -> int | None:
    value = request.args.get("version", "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 2**31 else None


def _list_context() -> dict[str, Any]:
    q = request.args.get("q", "")[:100].replace("\x00", "")
    page_text = request.args.get("page", "1")
    page = int(page_text) if page_text.isascii() and page_text.isdigit() and len(page_text) < 10 else 1
    return {"page": service.models(q or None, max(page, 1), 25), "q": q}


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    return render_template("overlays/index.html", **_list_context(), values={}, error=None)


@bp.route("/upload", methods=["POST"])
@page_roles(ENGINEER)
def upload():
    def save(values: dict) -> tuple[str, str]:
        number = documents.check_number(values.get("number", "").strip())
        doc = documents.find(number)
        if doc is None:
            doc = documents.create(number, Metadata(values.get("title", "").strip() or number, "model", ()))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise gltf.refused("Choose a .glb or .gltf file to upload.")
        data = service.read_upload(upload.stream)
        model, created = service.upload(doc, data, upload.filename)
        said = f"{doc.number} v{model.version.version}: {model.part_count} parts read."
        message = said if created else f"{doc.number}: this file is the latest version already."
        return message, url_for("overlays.model_page", document_id=doc.id, version=model.version.version)

    return form_page(
        "overlays/index.html", save, context=lambda _: _list_context(), flash_error=False, error_status=None
    )


def _page_context(document_id: int) -> dict[str, Any]:
    version = service.version_of(document_id, _version())
    doc = version.document
    model = service.model_of(version)
    overlay = None
    try:
        overlay = service.resolve(current_user, document_id, version.version)
    except NotFound:
        pass
    items = service.entry_items(overlay) if overlay is not None else {}
    parts = service.tree(model) if model is not None else []
    return {
        "doc": doc,
        "version": version,
        "model": model,
        "model_info": model_out(model, overlay) if model is not None else None,
        "overlay": overlay,
        "parts": parts,
        "items": items,
        "tree": [
            {
                "ref": p.ref,
                "node": p.node,
                "depth": p.depth,
                "parent": p.parent_ref,
                "mesh": p.has_mesh,
                "item": items.get(p.ref),
            }
            for p in parts
        ],
        "versions": [v.version for v in doc.versions],
        "moves": list(FLOW[OverlayStatus(overlay.status)]) if overlay is not None else [],
        "writes": service.writes(current_user),
        "readable": model is not None,
    }


@bp.get("/<int:document_id>")
@page_roles(SIGNED_IN)
def model_page(document_id: int):
    return render_template("overlays/model.html", **_page_context(document_id))


def _back(document_id: int, version: int | None) -> str:
    return url_for("overlays.model_page", document_id=document_id, version=version)


def _form_version() -> int | None:
    value = request.form.get("version", "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 2**31 else None


@bp.post("/<int:document_id>/overlay")
@page_roles(ENGINEER)
def create_overlay(document_id: int):
    version = _form_version()

    def act() -> str:
        made = service.create(service.version_of(document_id, version))
        service.map_by_name(made, current_user.role)
        return f"Overlay created (draft); {len(service.entry_items(made))} parts mapped by their names."

    return form_action(act, _back(document_id, version))


@bp.post("/<int:document_id>/map")
@page_roles(ENGINEER)
def map_by_name(document_id: int):
    version = _form_version()

    def act() -> str:
        added = service.map_by_name(service.resolve(current_user, document_id, version), current_user.role)
        return f"{added} more parts mapped by their names."

    return form_action(act, _back(document_id, version))


@bp.post("/<int:document_id>/status")
@page_roles(ENGINEER)
def move(document_id: int):
    version = _form_version()

    def act() -> str:
        overlay = service.move(service.resolve(current_user, document_id, version), request.form.get("to_status", ""))
        return f"The overlay is {overlay.status}."

    return form_action(act, _back(document_id, version))
