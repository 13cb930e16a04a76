"""Pages: documents (list, detail, upload), remote sites (health, token, sync) and sync jobs (live)."""

import uuid

from flask import Blueprint, render_template, request, url_for

from app.core.auth.roles import ENGINEER, OPERATOR, SIGNED_IN
from app.core.errors import DomainError, InvalidInput
from app.core.pages import form_action, page_roles
from app.docsync import documents, sites, sync
from app.docsync.documents import DOC_TYPES, Metadata
from app.extensions import db

bp = Blueprint("docsync", __name__)


def _meta_from_form() -> Metadata:
    refs = request.form.get("item_refs", "").replace(",", " ").split()
    return Metadata(request.form.get("title", ""), request.form.get("doc_type", "other"), tuple(refs))


# --- documents -----------------------------------------------------------------


@bp.get("/documents/")
@page_roles(SIGNED_IN)
def documents_page():
    q = request.args.get("q") or None
    doc_type = request.args.get("doc_type") or None
    page = documents.search(q, doc_type if doc_type in DOC_TYPES else None, request.args.get("page", 1, type=int))
    return render_template("docsync/documents.html", page=page, q=q or "", doc_type=doc_type or "", doc_types=DOC_TYPES)


@bp.post("/documents/")
@page_roles(ENGINEER)
def create_document():
    def act() -> tuple[str, str]:
        doc = documents.create(request.form.get("number", "").strip(), _meta_from_form())
        return f"Document {doc.number} created.", url_for("docsync.document", document_id=doc.id)

    return form_action(act, url_for("docsync.documents_page"))


@bp.get("/documents/<int:document_id>")
@page_roles(SIGNED_IN)
def document(document_id: int):
    return render_template("docsync/document.html", doc=documents.get(document_id), doc_types=DOC_TYPES)


@bp.post("/documents/<int:document_id>")
@page_roles(ENGINEER)
def update_document(document_id: int):
    def act() -> str:
        documents.update(documents.get(document_id), _meta_from_form())
        return "Document saved."

    return form_action(act, url_for("docsync.document", document_id=document_id))


@bp.post("/documents/<int:document_id>/versions")
@page_roles(ENGINEER)
def upload_version(document_id: int):
    def act() -> str:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InvalidInput("Choose a file to upload.", {"field": "file"})
        version, created = documents.add_version(documents.get(document_id), upload.stream, upload.filename)
        db.session.commit()
        if not created:
            return f"Same bytes as version {version.version}: nothing added."
        return f"Version {version.version} added ({version.content_type}, {version.size} bytes)."

    return form_action(act, url_for("docsync.document", document_id=document_id))


# --- remote sites -------------------------------------------------------------------


@bp.get("/doc-sync/sites")
@page_roles(OPERATOR)
def sites_page():
    return render_template(
        "docsync/sites.html", sites=sites.all_sites(), breaker_open=sites.breaker_open, jobs=sync.recent(limit=15)
    )


@bp.post("/doc-sync/sites")
@page_roles(OPERATOR)
def create_site():
    def act() -> tuple[str, str]:
        site = sites.create(
            request.form.get("name", ""), request.form.get("base_url", ""), request.form.get("token") or None
        )
        return f"Site {site.name} added.", url_for("docsync.site", site_id=site.id)

    return form_action(act, url_for("docsync.sites_page"))


def _site_context(site_id: int) -> dict:
    site = sites.get(site_id)
    return {"site": site, "breaker_open": sites.breaker_open(site), "jobs": sync.recent(site.id, 15)}


@bp.get("/doc-sync/sites/<int:site_id>")
@page_roles(OPERATOR)
def site(site_id: int):
    return render_template(
        "docsync/site.html", **_site_context(site_id), idempotency_key=uuid.uuid4().hex, doc_types=DOC_TYPES
    )


@bp.get("/doc-sync/sites/<int:site_id>/panel")
@page_roles(OPERATOR)
def site_panel(site_id: int):
    return render_template("docsync/_site_panel.html", **_site_context(site_id))


def _change_url(site) -> str:
    had_token = site.has_token
    sites.update(site, base_url=request.form.get("base_url", ""))
    if had_token and not site.has_token:
        return f"Base URL changed to {site.base_url}; the token was dropped: set a token for the new URL."
    return f"Base URL is {site.base_url}."


@bp.post("/doc-sync/sites/<int:site_id>/<any(health, token, url, enable, disable):action>")
@page_roles(OPERATOR)
def site_action(site_id: int, action: str):
    def act() -> str:
        site = sites.get(site_id)
        if action == "health":
            sites.probe(site)
            message = f"{site.name} is {site.status}" + (f" ({site.latency_ms} ms)" if site.latency_ms else "")
        elif action == "token":
            sites.set_token(site, request.form.get("token", ""))
            message = "Token saved (encrypted); it is not shown again."
        elif action == "url":
            message = _change_url(site)
        else:
            sites.update(site, enabled=action == "enable")
            message = f"Site {action}d."
        return message

    return form_action(act, url_for("docsync.site", site_id=site_id))


def _selection_from_form() -> dict:
    numbers = request.form.get("numbers", "").replace(",", " ").split()
    return {"numbers": numbers or None, "doc_type": request.form.get("doc_type") or None}


@bp.post("/doc-sync/sites/<int:site_id>/preview")
@page_roles(OPERATOR)
def preview(site_id: int):
    direction = request.form.get("direction", "push")
    try:
        items, error = sync.preview(site_id, direction, **_selection_from_form()), None
    except DomainError as exc:
        db.session.rollback()
        items, error = [], exc.message
    return render_template("docsync/_preview.html", items=items, error=error, direction=direction)


@bp.post("/doc-sync/sites/<int:site_id>/jobs")
@page_roles(OPERATOR)
def start_job(site_id: int):
    key = request.form.get("idempotency_key") or uuid.uuid4().hex

    def act() -> tuple[str, str]:
        job, created = sync.request_job(site_id, request.form.get("direction", "push"), key, **_selection_from_form())
        return (
            f"Sync job {job.id} {'started' if created else 'was started already'}.",
            url_for("docsync.job", job_id=job.id),
        )

    return form_action(act, url_for("docsync.site", site_id=site_id))


# --- sync jobs ----------------------------------------------------------------------------


@bp.get("/doc-sync/jobs/<int:job_id>")
@page_roles(OPERATOR)
def job(job_id: int):
    job = sync.get(job_id)
    return render_template("docsync/job.html", job=job, stalled=sync.is_stalled(job))


@bp.get("/doc-sync/jobs/<int:job_id>/panel")
@page_roles(OPERATOR)
def job_panel(job_id: int):
    job = sync.get(job_id)
    return render_template("docsync/_job_panel.html", job=job, stalled=sync.is_stalled(job))


@bp.post("/doc-sync/jobs/<int:job_id>/replay")
@page_roles(OPERATOR)
def replay(job_id: int):
    def act() -> tuple[str, str]:
        replayed, _ = sync.replay(job_id)
        return f"Replay of job {job_id} is job {replayed.id}.", url_for("docsync.job", job_id=replayed.id)

    return form_action(act, url_for("docsync.job", job_id=job_id))
