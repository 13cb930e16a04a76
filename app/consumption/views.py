"""Pages of consumption: the dashboard (live), plans and their variance, templates with the
impact of activating a version, manual and CSV actuals, and the MES inbox with replay."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.consumption import api, charts, csvio, inbox, service, variance
from app.consumption.models import ConsumptionPlan, InboxState, PeriodUnit, PlanState, SourceType
from app.consumption.units import UNIT_NAMES
from app.core import forms
from app.core.auth.roles import ENGINEER, OPERATOR, RECORDERS, SIGNED_IN
from app.core.pages import form_action, form_page, page_roles
from app.core.records import id_from_text
from app.extensions import db
from app.items.models import Item

bp = Blueprint("consumption", __name__, url_prefix="/consumption")


def _arg_id(name: str) -> int | None:
    return id_from_text(request.args.get(name) or "")


def _tolerance() -> float:
    percent = request.args.get("tolerance", type=float)
    return variance.tolerance(percent if percent is not None and 0 <= percent <= 100 else None)


def _state() -> str | None:
    state = request.args.get("state") or None
    return state if state in tuple(PlanState) else None


# ---- dashboard -------------------------------------------------------------


def _charts(plan: ConsumptionPlan | None, tolerance: float) -> dict:
    if plan is None:
        return {"focus": None}
    spans = variance.buckets(plan)
    return {
        "focus": plan,
        "focus_variance": variance.of_buckets(plan, spans),
        "bars": charts.bars(spans, tolerance),
        "burn": charts.burn_up(variance.burn_up(plan, variance.current(plan, spans))),
    }


def _dashboard_context() -> dict:
    item_id, state, tolerance = _arg_id("item_id"), _state(), _tolerance()
    page, variances = variance.table(item_id, state, request.args.get("page", 1, type=int), 25)
    focus_id = _arg_id("plan_id")
    focus = db.session.get(ConsumptionPlan, focus_id) if focus_id else None
    if focus is None:
        focus = next((p for p in page.items if p.state == PlanState.active), page.items[0] if page.items else None)
    item = db.session.get(Item, item_id) if item_id else None
    return {
        "page": page,
        "variances": variances,
        "tolerance": tolerance,
        "item": item,
        "item_id": item_id or "",
        "state": state or "",
        "states": tuple(PlanState),
        "args": {k: v for k, v in request.args.items() if k in ("item_id", "state", "tolerance", "plan_id") and v},
        "base_args": {k: v for k, v in request.args.items() if k in ("item_id", "state", "tolerance") and v},
        **_charts(focus, tolerance),
    }


@bp.get("/")
@page_roles(SIGNED_IN)
def dashboard():
    items = db.session.execute(
        db.select(Item.id, Item.number).where(Item.id.in_(db.select(ConsumptionPlan.item_id))).order_by(Item.number)
    ).all()
    return render_template("consumption/dashboard.html", items=items, **_dashboard_context())


@bp.get("/panel")
@page_roles(SIGNED_IN)
def dashboard_panel():
    return render_template("consumption/_dashboard_panel.html", **_dashboard_context())


@bp.get("/export.csv")
@page_roles(SIGNED_IN)
def export_csv():
    return api.variance_csv(_arg_id("item_id"), _state(), _tolerance())


# ---- plans -----------------------------------------------------------------


@bp.get("/plans")
@page_roles(SIGNED_IN)
def plans():
    sort = request.args.get("sort") or "-period_start"
    filters = {
        "item_id": _arg_id("item_id"),
        "state": _state(),
        "sort": sort if sort.removeprefix("-") in service.PLAN_SORTS else "-period_start",
    }
    page = service.search_plans(request.args.get("page", 1, type=int), 25, **filters)
    return render_template(
        "consumption/plans.html",
        page=page,
        states=tuple(PlanState),
        args={k: v for k, v in filters.items() if v},
        sorts=service.PLAN_SORTS,
    )


def _plan_form(plan: ConsumptionPlan | None):
    def save(values: dict) -> str:
        saved = service.update_plan(plan.id, values) if plan else service.create_plan(values)
        return url_for("consumption.plan_detail", plan_id=saved.id)

    fields = (*service.PLAN_FIELDS, "template_key")
    initial = service.plan_snapshot(plan) if plan else {"period_unit": PeriodUnit.week, "unit": "ea", **request.args}
    return form_page(
        "consumption/plan_form.html",
        save,
        initial,
        posted=lambda: {k: request.form.get(k, "") for k in fields if k != "template_key" or plan is None},
        context=lambda _: {
            "plan": plan,
            "items": db.session.execute(db.select(Item.id, Item.number, Item.name).order_by(Item.number)).all(),
            "period_units": tuple(PeriodUnit),
            "unit_names": UNIT_NAMES,
        },
    )


@bp.route("/plans/new", methods=["GET", "POST"])
@page_roles(ENGINEER)
def plan_create():
    return _plan_form(None)


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@page_roles(ENGINEER)
def plan_edit(plan_id: int):
    return _plan_form(service.get_plan(plan_id))


def _plan_context(plan: ConsumptionPlan) -> dict:
    tolerance = _tolerance()
    spans = variance.buckets(plan)
    return {
        "plan": plan,
        "tolerance": tolerance,
        "total": variance.of_buckets(plan, spans),
        "spans": spans,
        "bars": charts.bars(spans, tolerance),
        "burn": charts.burn_up(variance.burn_up(plan, variance.current(plan, spans))),
        "records": service.search_records(plan.id, None, request.args.get("page", 1, type=int), 25),
    }


@bp.get("/plans/<int:plan_id>")
@page_roles(SIGNED_IN)
def plan_detail(plan_id: int):
    plan = service.get_plan(plan_id)
    return render_template("consumption/plan.html", impact=service.activation_impact(plan.id), **_plan_context(plan))


@bp.get("/plans/<int:plan_id>/panel")
@page_roles(SIGNED_IN)
def plan_panel(plan_id: int):
    return render_template("consumption/_plan_panel.html", **_plan_context(service.get_plan(plan_id)))


def _plan_action(plan_id: int, act, message: str):
    def run() -> str:
        plan = act(plan_id)
        return message.format(plan=plan)

    return form_action(run, url_for("consumption.plan_detail", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/activate")
@page_roles(ENGINEER)
def plan_activate(plan_id: int):
    return _plan_action(plan_id, service.activate_plan, "Plan #{plan.id} is active.")


@bp.post("/plans/<int:plan_id>/deactivate")
@page_roles(ENGINEER)
def plan_deactivate(plan_id: int):
    return _plan_action(plan_id, service.deactivate_plan, "Plan #{plan.id} is back to draft.")


@bp.post("/plans/<int:plan_id>/close")
@page_roles(ENGINEER)
def plan_close(plan_id: int):
    return _plan_action(plan_id, service.close_plan, "Plan #{plan.id} is closed.")


# ---- templates -------------------------------------------------------------


@bp.get("/templates")
@page_roles(SIGNED_IN)
def templates():
    page = service.search_templates(request.args.get("page", 1, type=int), 25)
    return render_template("consumption/templates.html", page=page)


@bp.get("/templates/<key>")
@page_roles(SIGNED_IN)
def template_detail(key: str):
    template = service.get_template(key)
    impacts = {v.id: service.activation_impact(v.id) for v in template.versions if v.state == PlanState.draft}
    return render_template("consumption/template.html", template=template, impacts=impacts)


# ---- actuals ---------------------------------------------------------------


@bp.route("/records/new", methods=["GET", "POST"])
@page_roles(RECORDERS)
def record_create():
    def save(values: dict) -> tuple[str, str]:
        record, created = service.create_record(values)
        done = "Actual recorded." if created else "This actual was recorded already (same idempotency key)."
        return done, url_for("consumption.plan_detail", plan_id=record.plan_id)

    active = db.session.scalars(service.plans_query(state=PlanState.active, sort="item").limit(500)).all()
    return form_page(
        "consumption/record_form.html",
        save,
        {"plan_id": request.args.get("plan_id", ""), "source_type": SourceType.manual},
        posted=lambda: {k: request.form.get(k, "") for k in service.RECORD_FIELDS},
        context=lambda _: {"plans": active, "source_types": tuple(SourceType), "unit_names": UNIT_NAMES},
    )


@bp.route("/records/import", methods=["GET", "POST"])
@page_roles(RECORDERS)
def record_import():
    if request.method == "GET":
        return render_template("consumption/import.html", check=None, text="", columns=csvio.COLUMNS)
    upload = request.files.get("file")
    text = (
        upload.read().decode("utf-8", errors="replace") if upload and upload.filename else request.form.get("text", "")
    )
    back = url_for("consumption.dashboard")
    if (earlier := forms.claim(back)) is not None:
        flash(forms.ALREADY_SENT, "info")
        return redirect(earlier)
    check, written = csvio.import_records(text)
    if check.ok:
        forms.done(back)
        db.session.commit()
        flash(f"{written} actual(s) imported ({len(check.rows) - written} already recorded).", "success")
        return redirect(back)
    db.session.rollback()  # nothing of the file is kept (nor the form token: the corrected file may be sent)
    return render_template("consumption/import.html", check=check, text=text, columns=csvio.COLUMNS), 422


# ---- MES inbox -------------------------------------------------------------


@bp.get("/inbox")
@page_roles(OPERATOR)
def inbox_page():
    state = request.args.get("state") or None
    state = state if state in tuple(InboxState) else None
    page = inbox.search_events(state, None, request.args.get("page", 1, type=int), 50)
    return render_template(
        "consumption/inbox.html", page=page, counts=inbox.counts(), state=state or "", states=tuple(InboxState)
    )


@bp.post("/inbox/<int:event_id>/replay")
@page_roles(OPERATOR)
def inbox_replay(event_id: int):
    def act() -> str:
        event = inbox.replay(event_id)
        return f"Event {event.event_key} is pending again."

    return form_action(act, url_for("consumption.inbox_page", state="dead"))


@bp.post("/inbox/replay")
@page_roles(OPERATOR)
def inbox_replay_all():
    def act() -> str:
        return f"{inbox.replay_dead()} dead event(s) are pending again."

    return form_action(act, url_for("consumption.inbox_page", state="dead"))
