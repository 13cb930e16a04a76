from flask import Blueprint, render_template, request, url_for

from app.core.auth.roles import ENGINEER, OPERATOR, SIGNED_IN
from app.core.errors import DomainError, InvalidInput
from app.core.pages import form_action, form_page, page_roles
from app.extensions import db
from app.flows import service
from app.flows.demo import EXAMPLE
from app.flows.graph import layout

bp = Blueprint("flows", __name__, url_prefix="/flows")


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    page = service.list_flows(request.args.get("page", 1, type=int), 25)
    return render_template("flows/index.html", page=page, runs=service.recent_runs(15), example=EXAMPLE)


@bp.post("/validate")
@page_roles(SIGNED_IN)
def validate():
    """htmx: the document's problems, or that it is sound, shown under the editor."""
    try:
        flow = service.check_document(request.form.get("document", ""))
        return render_template("flows/_validation.html", flow=flow, errors=None)
    except InvalidInput as exc:
        return render_template("flows/_validation.html", flow=None, errors=exc.details.get("errors", []))


@bp.post("/")
@page_roles(ENGINEER)
def create():
    """Create a flow from the editor's document, or show the list again with the document and its problems."""

    def context(error: DomainError) -> dict:
        return {
            "page": service.list_flows(1, 25),
            "runs": service.recent_runs(15),
            "example": request.form.get("document", ""),
            "errors": error.details.get("errors", []) if isinstance(error, InvalidInput) else [],
            "message": error.message,
        }

    return form_page(
        "flows/index.html",
        lambda text: url_for("flows.detail", flow_id=service.create_flow(text).id),
        posted=lambda: request.form.get("document", ""),
        context=context,
        error_status=None,  # the error's own status, as the page answered before
    )


@bp.get("/<int:flow_id>")
@page_roles(SIGNED_IN)
def detail(flow_id: int):
    flow = service.get_flow(flow_id)
    description = service.describe(flow)
    return render_template("flows/flow.html", flow=flow, description=description, graph=layout(description))


@bp.post("/<int:flow_id>/delete")
@page_roles(ENGINEER)
def delete(flow_id: int):

    def act() -> str:
        service.delete_flow(flow_id)
        return "Flow deleted."

    return form_action(act, url_for("flows.index"))


@bp.post("/<int:flow_id>/runs")
@page_roles(OPERATOR)
def start_run(flow_id: int):

    def act() -> tuple[str, str]:
        run = service.start_run(flow_id, request.form.get("wait_for_input", 0, type=int))
        return "Run started.", url_for("flows.run", job_id=run.job_id)

    return form_action(act, url_for("flows.detail", flow_id=flow_id))


def _run_context(job_id: str) -> dict:
    run = service.get_run(job_id)
    if service.reconcile(run):  # its job died unreported: closing it is a write, committed here
        db.session.commit()
    description = service.describe(run.flow)
    return {
        "run": run,
        "controls": service.CONTROLS,
        "state": service.monitoring(job_id),
        "description": description,
        "graph": layout(description),
        "targets": {kind: sorted(names) for kind, names in service.breakpoint_targets(run).items()},
    }


@bp.get("/runs/<job_id>")
@page_roles(SIGNED_IN)
def run(job_id: str):
    return render_template("flows/run.html", **_run_context(job_id))


@bp.get("/runs/<job_id>/panel")
@page_roles(SIGNED_IN)
def run_panel(job_id: str):
    return render_template("flows/_run_panel.html", **_run_context(job_id))


@bp.post("/runs/<job_id>/<action>")
@page_roles(OPERATOR)
def control(job_id: str, action: str):
    back = url_for("flows.run", job_id=job_id)
    if action == "breakpoint":
        form = request.form

        def add() -> str:
            info = service.add_breakpoint(
                job_id, form.get("kind", ""), form.get("target", ""), form.get("condition") or None
            )
            db.session.commit()
            return "Breakpoint {id} set on {target}.".format(**info)

        return form_action(
            add,
            back,
        )
    if action == "unbreak":

        def remove() -> str:
            service.remove_breakpoint(job_id, request.form.get("id", ""))
            db.session.commit()
            return "Breakpoint removed."

        return form_action(remove, back)
    if action == "feed":

        def act() -> str:
            items = [line.strip() for line in request.form.get("items", "").splitlines() if line.strip()]
            service.feed(
                job_id,
                request.form.get("routine", ""),
                request.form.get("slot", "in"),
                [_number_or_text(i) for i in items],
            )
            db.session.commit()
            return f"{len(items)} item(s) fed."

        return form_action(act, back)

    def control() -> str:
        service.control(job_id, action)
        return f"{action.capitalize()} sent."

    return form_action(control, back)


def _number_or_text(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
