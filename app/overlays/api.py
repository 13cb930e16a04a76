"""JSON API of 3D models and their overlays (/api/v1/cad-3d/...): upload a model, the overlay
of a document's version (create, entries, status), and the component lookup, one ref or a
batch of up to 1,000, served through the shared cache."""

from flask import Blueprint, Response, request, url_for
from flask_login import current_user

from app.core.api import API_PREFIX, endpoint, page_out
from app.core.auth.roles import ENGINEER
from app.docsync import documents
from app.extensions import db
from app.overlays import lookup, service
from app.overlays.models import FLOW, Model3D, Overlay, OverlayStatus
from app.overlays.schemas import (
    BatchIn,
    ComponentList,
    ComponentOut,
    CreateIn,
    EntriesIn,
    EntryOut,
    MapOut,
    ModelList,
    ModelOut,
    ModelsQuery,
    ModelUploadOut,
    MoveIn,
    OverlayFieldOut,
    OverlayOut,
    UploadQuery,
    VersionQuery,
)

bp = Blueprint("overlays_api", __name__, url_prefix=API_PREFIX)
BASE = "/cad-3d"


def model_out(model: Model3D, overlay: Overlay | None = None) -> ModelOut:
    version = model.version
    return ModelOut(
        id=model.id,
        document_id=version.document_id,
        document=version.document.number,
        version=version.version,
        filename=version.filename,
        part_count=model.part_count,
        mesh_count=model.mesh_count,
        parsed_at=model.parsed_at,
        content_url=url_for("docsync_api.download_version", document_id=version.document_id, version=version.version),
        overlay_id=overlay.id if overlay is not None else None,
        overlay_status=overlay.status if overlay is not None else None,
    )


def overlay_out(overlay: Overlay) -> OverlayOut:
    role = current_user.role
    version = overlay.model.version
    return OverlayOut(
        id=overlay.id,
        document_id=version.document_id,
        version=version.version,
        status=overlay.status,
        revision=overlay.revision,
        created_by=overlay.created_by,
        updated_at=overlay.updated_at,
        published_at=overlay.published_at,
        entries=[
            EntryOut(
                ref=e.ref,
                item=e.item.number,
                bom_line_id=e.bom_line_id,
                fields=[
                    OverlayFieldOut(key=f.key, value=f.value, roles=f.roles) for f in service.visible(e.fields, role)
                ],
            )
            for e in service.loaded_entries(overlay)
        ],
        unmapped=service.unmapped(overlay),
        allowed_moves=list(FLOW[OverlayStatus(overlay.status)]) if service.writes(current_user) else [],
    )


@endpoint(
    bp,
    f"{BASE}/models",
    summary="3D models (glTF document versions), newest first",
    query=ModelsQuery,
    response=ModelList,
)
def list_models(query: ModelsQuery):
    page = service.models(query.q, query.page, query.per_page)
    return page_out(ModelList, page, lambda row: model_out(row[0], row[3]))


@endpoint(
    bp,
    f"{BASE}/models/<int:document_id>",
    "POST",
    summary="Upload a glTF 2.0 model (.glb or .gltf, the raw request body) as the document's next version",
    roles=ENGINEER,
    query=UploadQuery,
    response=ModelUploadOut,
    status=201,
)
def upload_model(document_id: int, query: UploadQuery):
    doc = documents.get(document_id)
    data = service.read_upload(request.stream, request.content_length)
    model, created = service.upload(doc, data, query.filename)
    db.session.commit()
    return ModelUploadOut(created=created, model=model_out(model)), 201 if created else 200


def _overlay(document_id: int, version: int | None) -> Overlay:
    return service.resolve(current_user, document_id, version)


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>",
    summary="The overlay of a document's version (a viewer: the newest published one), role-filtered",
    query=VersionQuery,
    response=OverlayOut,
)
def get_overlay(document_id: int, query: VersionQuery):
    return overlay_out(_overlay(document_id, query.version))


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>",
    "POST",
    summary="Create the (draft) overlay of a document version's model",
    roles=ENGINEER,
    body=CreateIn,
    response=OverlayOut,
    status=201,
)
def create_overlay(document_id: int, body: CreateIn):
    overlay = service.create(service.version_of(document_id, body.version))
    db.session.commit()
    return overlay_out(overlay)


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>/entries",
    "PUT",
    summary="Set the overlay's entries: item, BOM line and fields per component ref",
    roles=ENGINEER,
    query=VersionQuery,
    body=EntriesIn,
    response=OverlayOut,
)
def save_entries(document_id: int, query: VersionQuery, body: EntriesIn):
    overlay = _overlay(document_id, query.version)
    entries = [
        service.EntryIn(
            e.ref, e.item, e.bom_line_id, [service.FieldIn(f.key, f.value, list(f.roles)) for f in e.fields]
        )
        for e in body.entries
    ]
    service.save_entries(overlay, entries, current_user.role, replace=body.replace)
    db.session.commit()
    return overlay_out(overlay)


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>/entries/<path:ref>",
    "DELETE",
    summary="Remove a component ref's entry (it is unmapped again)",
    roles=ENGINEER,
    query=VersionQuery,
    response=OverlayOut,
)
def remove_entry(document_id: int, ref: str, query: VersionQuery):
    overlay = service.remove_entry(_overlay(document_id, query.version), ref)
    db.session.commit()
    return overlay_out(overlay)


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>/map-by-name",
    "POST",
    summary="Map every unmapped ref whose node name is an item number to that item",
    roles=ENGINEER,
    query=VersionQuery,
    response=MapOut,
)
def map_by_name(document_id: int, query: VersionQuery):
    overlay = _overlay(document_id, query.version)
    added = service.map_by_name(overlay, current_user.role)
    db.session.commit()
    return MapOut(added=added, overlay=overlay_out(overlay))


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>/status",
    "POST",
    summary="Move the overlay: draft -> published|archived, published -> draft|archived, archived -> draft",
    roles=ENGINEER,
    query=VersionQuery,
    body=MoveIn,
    response=OverlayOut,
)
def move_overlay(document_id: int, query: VersionQuery, body: MoveIn):
    overlay = service.move(_overlay(document_id, query.version), body.to_status)
    db.session.commit()
    return overlay_out(overlay)


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>/components/<path:ref>",
    summary="What a component is: item, BOM lines, ECOs in progress, open incidents, the fields the role may see",
    query=VersionQuery,
    response=ComponentOut,
)
def component(document_id: int, ref: str, query: VersionQuery):
    (found,) = lookup.lookup_json(_overlay(document_id, query.version), [ref], current_user.role)
    return Response(found, mimetype="application/json")


@endpoint(
    bp,
    f"{BASE}/overlays/<int:document_id>/components",
    "POST",
    summary="The lookup of up to 1,000 component refs at once",
    query=VersionQuery,
    body=BatchIn,
    response=ComponentList,
)
def components(document_id: int, query: VersionQuery, body: BatchIn):
    overlay = _overlay(document_id, query.version)
    found = lookup.lookup_json(overlay, body.refs, current_user.role)
    # the cached JSON texts as they are: parsing and re-encoding 1,000 of them would be most of the time
    head = f'{{"overlay_id":{overlay.id},"revision":{overlay.revision},"components":['
    return Response(head + ",".join(found) + "]}", mimetype="application/json")
