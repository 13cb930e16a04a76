from flask import Blueprint, render_template, request
from flask_login import current_user

from app.core import capability
from app.core.audit import service
from app.core.auth.roles import OPERATOR
from app.core.errors import InvalidInput
from app.core.pages import page_roles
from app.core.paging import KeysetPage
from app.core.records import id_from_text

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@page_roles(OPERATOR)
def index():
    """The log, newest first, filtered by what the URL says; `before`/`after` page by id."""
    error, filters = None, service.AuditFilter()
    try:
        filters = service.AuditFilter.from_args(request.args)
        page = service.search(
            filters,
            before=id_from_text(request.args.get("before", "")),
            after=id_from_text(request.args.get("after", "")),
        )
    except InvalidInput as exc:  # shown above the form, which keeps what was typed
        error, page = exc, KeysetPage(items=[], per_page=service.PER_PAGE, newer=None, older=None)
    hidden = service.hidden_from(current_user, page.items)
    html = render_template(
        "audit/index.html",
        page=page,
        hidden=hidden,
        links=service.pages_of(current_user, page.items, hidden),
        changes={entry.id: service.field_changes(entry.before, entry.after) for entry in page.items},
        filters=filters,
        raw=request.args,
        error=error,
        kinds=sorted(kind for kind, access in capability.registry().access.items() if access.page),
    )
    return html, 400 if error else 200
