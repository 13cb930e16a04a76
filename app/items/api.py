"""JSON API of items, BOM revisions and BOM compare."""

from flask import Blueprint, Response, url_for

from app.core.api import API_PREFIX, endpoint, page_out, read
from app.core.auth.roles import ENGINEER
from app.core.jobs import progress_of
from app.extensions import db
from app.items import exports, service
from app.items.delta import MEDIA_TYPES, build_delta_preview, export_filename
from app.items.models import BomExport, ExportStatus
from app.items.schemas import (
    BomList,
    BomOut,
    BomSummary,
    CompareOut,
    CompareQuery,
    DeltaPreviewOut,
    ExportOut,
    ExportQuery,
    ItemIn,
    ItemList,
    ItemOut,
    ItemPatch,
    ItemQuery,
    LineIn,
    LinePatch,
    LineResult,
    Structure,
    StructureLine,
    StructureQuery,
)
from app.items.structure import explode, quantity_text

bp = Blueprint("items_api", __name__, url_prefix=API_PREFIX)


def _line_data(body) -> dict:
    data = body.model_dump(exclude_unset=True)
    if data.get("quantity") is not None:
        data["quantity"] = str(data["quantity"])
    return data


@endpoint(bp, "/items", summary="Items, searched, filtered and paged", query=ItemQuery, response=ItemList)
def list_items(query: ItemQuery):
    page = service.search_items(query.q, query.item_type, query.lifecycle, query.page, query.per_page)
    return page_out(ItemList, page, ItemOut.model_validate)


@endpoint(bp, "/items", "POST", summary="Create an item", roles=ENGINEER, body=ItemIn, response=ItemOut, status=201)
def create_item(body: ItemIn):
    item = service.create_item(body.model_dump())
    db.session.commit()
    return ItemOut.model_validate(item)


@endpoint(bp, "/items/<int:item_id>", summary="One item", response=ItemOut)
def get_item(item_id: int):
    return ItemOut.model_validate(service.get_item(item_id))


@endpoint(
    bp, "/items/<int:item_id>", "PATCH", summary="Change an item", roles=ENGINEER, body=ItemPatch, response=ItemOut
)
def update_item(item_id: int, body: ItemPatch):
    item = service.update_item(item_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return ItemOut.model_validate(item)


@endpoint(bp, "/items/<int:item_id>/boms", summary="The BOM revisions of an item, oldest first", response=BomList)
def list_boms(item_id: int):
    return BomList(boms=service.get_item(item_id).boms)


@endpoint(
    bp,
    "/items/<int:item_id>/boms",
    "POST",
    summary="Start the BOM of an assembly (a draft)",
    roles=ENGINEER,
    response=BomOut,
    status=201,
)
def create_bom(item_id: int):
    bom = service.create_bom(item_id)
    db.session.commit()
    return BomOut.model_validate(bom)


@endpoint(bp, "/boms/<int:bom_id>", summary="One BOM revision with its lines", response=BomOut)
def get_bom(bom_id: int):
    return BomOut.model_validate(service.get_bom(bom_id))


@endpoint(
    bp,
    "/boms/<int:bom_id>/structure",
    summary="Multi-level BOM with rolled-up quantities",
    query=StructureQuery,
    response=Structure,
)
def bom_structure(bom_id: int, query: StructureQuery):
    bom = service.get_bom(bom_id)
    lines = [
        StructureLine(
            path=f.path,
            level=f.level,
            child=f.child_number,
            child_name=f.child_name,
            quantity=quantity_text(f.quantity),
            extended_quantity=quantity_text(f.extended),
            unit=f.unit,
            find_number=f.find_number,
            refdes=f.refdes,
            note=f.note,
        )
        for f in explode(bom, query.max_levels)
    ]
    return Structure(bom=bom, max_levels=query.max_levels, lines=lines)


@endpoint(
    bp,
    "/boms/<int:bom_id>/release",
    "POST",
    roles=ENGINEER,
    response=BomSummary,
    summary="Release this revision; the one released before becomes superseded",
)
def release_bom(bom_id: int):
    bom = service.release_bom_revision(bom_id)
    db.session.commit()
    return BomSummary.model_validate(bom)


@endpoint(
    bp,
    "/boms/<int:bom_id>/revisions",
    "POST",
    roles=ENGINEER,
    response=BomOut,
    status=201,
    summary="Start the next revision (a draft copy) of a released BOM",
)
def revise_bom(bom_id: int):
    draft, _ = service.new_revision(service.get_bom(bom_id))
    db.session.commit()
    return BomOut.model_validate(draft)


@endpoint(
    bp,
    "/boms/<int:bom_id>/lines",
    "POST",
    roles=ENGINEER,
    body=LineIn,
    response=LineResult,
    status=201,
    summary="Add a line (to a new draft revision when this one is released)",
)
def add_line(bom_id: int, body: LineIn):
    line = service.add_line(bom_id, _line_data(body))
    db.session.commit()
    return LineResult(line=line, bom=line.bom)


@endpoint(
    bp,
    "/bom-lines/<int:line_id>",
    "PATCH",
    roles=ENGINEER,
    body=LinePatch,
    response=LineResult,
    summary="Change a line (in a new draft revision when its BOM is released)",
)
def update_line(line_id: int, body: LinePatch):
    line = service.update_line(line_id, _line_data(body))
    db.session.commit()
    return LineResult(line=line, bom=line.bom)


@endpoint(
    bp,
    "/bom-lines/<int:line_id>",
    "DELETE",
    roles=ENGINEER,
    response=BomSummary,
    summary="Remove a line (from a new draft revision when its BOM is released)",
)
def remove_line(line_id: int):
    bom = service.remove_line(line_id)
    db.session.commit()
    return BomSummary.model_validate(bom)


@endpoint(
    bp,
    "/bom/compare",
    summary="Compare two BOMs: summary counts and every line with its changes",
    query=CompareQuery,
    response=CompareOut,
)
def compare(query: CompareQuery):
    result = exports.compare_refs(query.left, query.right, query.mode, query.max_levels)
    return result.to_dict()


@endpoint(
    bp,
    "/bom/compare/delta/preview",
    summary="The compare as a read-only patch (add/remove/update)",
    query=CompareQuery,
    response=DeltaPreviewOut,
)
def delta_preview(query: CompareQuery):
    result = exports.compare_refs(query.left, query.right, query.mode, query.max_levels)
    return build_delta_preview(result).to_dict()


def _export_out(export: BomExport) -> ExportOut:
    if export.status == ExportStatus.done:
        url = url_for("items_api.download_export", export_id=export.id)
        return read(ExportOut, export, progress=1.0, message="", download_url=url)
    progress, message = progress_of(export.job_id) if export.job_id else (None, "")
    return read(ExportOut, export, progress=progress, message=message, download_url=None)


def file_response(content: bytes, export_format: str, filename: str) -> Response:
    return Response(
        content,
        mimetype=MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@endpoint(
    bp,
    "/bom/compare/delta/export",
    response=ExportOut,
    query=ExportQuery,
    summary="The delta as a JSON or CSV file; a large compare answers 202 with a background export",
)
def delta_export(query: ExportQuery):
    outcome = exports.export_delta(query.left, query.right, query.mode, query.max_levels, query.export_format)
    if isinstance(outcome, BomExport):
        db.session.commit()
        return _export_out(outcome), 202
    name = export_filename(query.left, query.right, query.mode, query.max_levels, query.export_format)
    return file_response(outcome, query.export_format, name)


@endpoint(
    bp, "/bom/exports/<int:export_id>", summary="A background delta export: status, progress, link", response=ExportOut
)
def get_export(export_id: int):
    return _export_out(exports.get_export(export_id))


@endpoint(bp, "/bom/exports/<int:export_id>/download", summary="The file of a finished background export")
def download_export(export_id: int):
    export = exports.download(export_id)
    name = export_filename(export.left_ref, export.right_ref, export.mode, export.max_levels, export.export_format)
    return file_response(export.content, export.export_format, name)
