from flask import Blueprint, render_template, request
from flask_login import current_user

from app.core.audit import service
from app.core.auth.roles import OPERATOR
from app.core.pages import page_roles

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@page_roles(OPERATOR)
def index():
    entity = request.args.get("entity") or None
    actor = request.args.get("actor") or None
    page = service.search(entity, actor, request.args.get("page", 1, type=int))
    hidden = service.hidden_from(current_user, page.items)
    return render_template(
        "audit/index.html", page=page, hidden=hidden, entity=entity, actor=actor, entities=service.entities()
    )
