"""Pages of ECOs and workflow rules: ECO list and detail (live), due activities,
rule forms, and the runs browser. Forms are validated by the API's schemas."""

import json
import math
from typing import Any

from flask import Blueprint, render_template, request, url_for
from pydantic import BaseModel

from app.core import forms, validation
from app.core.api import parse
from app.core.auth.roles import ACTOR_ROLES, ADMIN, ENGINEER, SIGNED_IN
from app.core.errors import InvalidInput
from app.core.pages import form_action, form_page, page_roles
from app.core.paging import requested_page
from app.core.records import id_from_text
from app.eco import rules, service, stages, transitions
from app.eco.actions import PARAMS
from app.eco.models import (
    ACTIONS,
    ACTIVITY_STATUSES,
    ACTIVITY_TRANSITIONS,
    ANY_STAGE,
    FAIL_STRATEGIES,
    PHASES,
    PRIORITIES,
    RUN_STATUSES,
    ActionRunStatus,
)
from app.eco.rules import RuleSpec
from app.eco.schemas import RESULT_CODES, ActivityIn, EcoIn
from app.extensions import db
from app.items.delta import operations_page
from app.items.models import Bom, Item

bp = Blueprint("eco", __name__, url_prefix="/ecos")


def _form(model: type[BaseModel], **extra: Any) -> BaseModel:
    """The posted form as `model` validates it: empty fields are left out, checkboxes are booleans."""
    data = {k: v for k, v in request.form.items() if k not in ("csrf_token", forms.FIELD) and v != ""}
    return parse(model, {**data, **extra})


# ---- ECOs ------------------------------------------------------------------


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    filters = {k: request.args.get(k) or None for k in ("q", "stage", "eco_type", "priority", "owner")}
    page = service.search_ecos(**filters, page=request.args.get("page", 1, type=int))
    return render_template(
        "eco/index.html",
        page=page,
        filters=filters,
        stages=stages.all_stages(),
        types=stages.types(),
        priorities=PRIORITIES,
    )


def _choices() -> dict[str, Any]:
    assemblies = db.session.scalars(db.select(Item).where(Item.item_type == "assembly").order_by(Item.number))
    drafts = db.session.scalars(db.select(Bom).where(Bom.state == "draft").order_by(Bom.id))
    return {"assemblies": list(assemblies), "drafts": list(drafts), "types": stages.types(), "priorities": PRIORITIES}


@bp.route("/new", methods=["GET", "POST"])
@page_roles(ENGINEER)
def create():
    def save(_values: dict) -> str:
        eco = service.create_eco(**_form(EcoIn).model_dump())
        return url_for("eco.detail", eco_id=eco.id)

    return form_page(
        "eco/form.html",
        save,
        {"eco_type": stages.DEFAULT_TYPE, "priority": "normal"},
        context=lambda _: _choices(),
    )


def _detail_context(eco_id: int) -> dict[str, Any]:
    eco = service.get_eco(eco_id)
    chain = stages.chain(eco.eco_type)
    upcoming = chain[chain.index(eco.stage) + 1] if eco.stage in chain[:-1] else None
    return {
        "eco": eco,
        "closed": service.is_closed(eco),
        "chain": chain,
        "canceled": stages.CANCELED,
        "final": chain[-1],
        "blockers": service.gate_blockers(eco, upcoming) if upcoming else [],
        "upcoming": upcoming,
        "events": service.events(eco.id, per_page=30),
        "runs": rules.list_runs(eco_id=eco.id, per_page=30).items,
        "transitions": ACTIVITY_TRANSITIONS,
        "gated_stages": chain[:-1],
    }


@bp.get("/<int:eco_id>")
@page_roles(SIGNED_IN)
def detail(eco_id: int):
    context = _detail_context(eco_id)
    delta = service.bom_delta(context["eco"])
    return render_template(
        "eco/detail.html",
        delta=delta,
        operations=delta and operations_page(delta, requested_page()),
        args={"eco_id": eco_id},
        **context,
    )


@bp.get("/<int:eco_id>/panel")
@page_roles(SIGNED_IN)
def panel(eco_id: int):
    return render_template("eco/_panel.html", **_detail_context(eco_id))


def _back(eco_id: int) -> str:
    return url_for("eco.detail", eco_id=eco_id)


@bp.post("/<int:eco_id>/move")
@page_roles(ENGINEER)
def move(eco_id: int):
    def act() -> str:
        outcome = transitions.move(eco_id, request.form.get("to_stage", ""), request.form.get("reason", ""))
        return _moved_message(outcome)

    return form_action(act, _back(eco_id))


@bp.post("/<int:eco_id>/apply")
@page_roles(ENGINEER)
def apply(eco_id: int):
    def act() -> str:
        outcome = transitions.apply(eco_id, request.form.get("reason", ""))
        return f"Applied: {outcome.eco.target_bom.ref} is released. " + _moved_message(outcome)

    return form_action(act, _back(eco_id))


def _moved_message(outcome: transitions.Outcome) -> str:
    warned = [r for r in outcome.runs if r.status in (ActionRunStatus.warning, ActionRunStatus.failed)]
    message = f"{outcome.eco.number} moved from {outcome.from_stage} to {outcome.eco.stage}."
    if warned:
        message += " Warnings: " + "; ".join(f"{r.rule.name}: {r.error}" for r in warned)
    return message


@bp.post("/<int:eco_id>/activities")
@page_roles(ENGINEER)
def add_activity(eco_id: int):
    def act() -> str:
        depends_on = [i for i in map(id_from_text, request.form.getlist("depends_on")) if i is not None]
        due = request.form.get("due_at")
        fields = _form(
            ActivityIn,
            eco_id=eco_id,
            depends_on=depends_on,
            blocking=request.form.get("blocking") == "true",
            due_at=f"{due}:00Z" if due and len(due) == 16 else due or None,
        )
        activity = service.create_activity(**fields.model_dump())
        return f"Activity {activity.name!r} added to stage {activity.stage}."

    return form_action(act, _back(eco_id))


@bp.post("/activities/<int:activity_id>/transition")
@page_roles(ENGINEER)
def transition_activity(activity_id: int):
    eco_id = service.get_activity(activity_id).eco_id

    def act() -> str:
        to_status = request.form.get("to_status", "")
        if to_status not in ACTIVITY_STATUSES:
            raise validation.not_one_of("to_status", "Status", to_status, ACTIVITY_STATUSES)
        activity = service.transition_activity(activity_id, to_status, request.form.get("reason", ""))
        return f"{activity.name!r} is {activity.status}."

    return form_action(act, _back(eco_id))


@bp.get("/activities/due")
@page_roles(SIGNED_IN)
def due():
    hours = request.args.get("within_hours", service.DUE_SOON_HOURS, type=float)
    hours = min(max(hours, 1), 24 * 90) if math.isfinite(hours) else service.DUE_SOON_HOURS
    overdue, soon = service.due_activities(hours)
    return render_template("eco/due.html", overdue=overdue, soon=soon, hours=hours)


# ---- rules and runs ---------------------------------------------------------------


@bp.get("/rules")
@page_roles(SIGNED_IN)
def rules_index():
    page = rules.list_rules(page=request.args.get("page", 1, type=int))
    return render_template("eco/rules.html", page=page)


def _rule_form_data() -> dict[str, Any]:
    form = request.form
    try:
        params = json.loads(form.get("params") or "{}")
    except ValueError:
        raise InvalidInput('Params must be a JSON object, e.g. {"priority": "high"}.', {"field": "params"}) from None
    item_ids = [i for i in map(id_from_text, (form.get("item_ids") or "").replace(",", " ").split()) if i is not None]
    return {
        "name": form.get("name", ""),
        "phase": form.get("phase"),
        "from_stage": form.get("from_stage") or ANY_STAGE,
        "to_stage": form.get("to_stage") or ANY_STAGE,
        "action": form.get("action"),
        "params": params,
        "match": {
            "eco_types": form.getlist("eco_types"),
            "priorities": form.getlist("priorities"),
            "actor_roles": form.getlist("actor_roles"),
            "item_ids": item_ids,
        },
        "fail_strategy": form.get("fail_strategy"),
        "max_retries": form.get("max_retries") or 0,
        "priority": form.get("priority") or 100,
        "timeout_seconds": form.get("timeout_seconds") or 5,
        "enabled": form.get("enabled") == "1",
    }


def _rule_form(rule_id: int | None):
    rule = rules.get_rule(rule_id) if rule_id else None
    blank = RuleSpec.model_construct(name="", phase="before", action="emit_event")  # defaults, not yet valid

    def save(data: dict) -> str:
        saved = rules.update_rule(rule.id, data) if rule else rules.create_rule(parse(RuleSpec, data))
        return url_for("eco.rules_index", saved=saved.id)

    return form_page(
        "eco/rule_form.html",
        save,
        rules.rule_snapshot(rule) if rule else blank.model_dump(),
        posted=_rule_form_data,
        context=lambda _: {
            "rule": rule,
            "phases": PHASES,
            "actions": ACTIONS,
            "strategies": FAIL_STRATEGIES,
            "stages": stages.all_stages(),
            "types": stages.types(),
            "priorities": PRIORITIES,
            "roles": ACTOR_ROLES,
            "param_schemas": {a: m.model_json_schema()["properties"] for a, m in PARAMS.items()},
        },
    )


@bp.route("/rules/new", methods=["GET", "POST"])
@page_roles(ADMIN)
def rule_create():
    return _rule_form(None)


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@page_roles(ADMIN)
def rule_edit(rule_id: int):
    return _rule_form(rule_id)


@bp.post("/rules/<int:rule_id>/enabled")
@page_roles(ADMIN)
def rule_enabled(rule_id: int):
    def act() -> str:
        rule = rules.update_rule(rule_id, {"enabled": request.form.get("enabled") == "1"})
        return f"Rule {rule.name!r} {'enabled' if rule.enabled else 'disabled'}."

    return form_action(act, url_for("eco.rules_index"))


@bp.get("/runs")
@page_roles(SIGNED_IN)
def runs():
    filters = {
        "status": request.args.get("status") or None,
        "result_code": request.args.get("result_code") or None,
        "rule_id": request.args.get("rule_id", type=id_from_text),
        "eco_id": request.args.get("eco_id", type=id_from_text),
    }
    if filters["status"] not in (None, *RUN_STATUSES) or filters["result_code"] not in (None, *RESULT_CODES):
        filters.update(status=None, result_code=None)
    page = rules.list_runs(**filters, page=request.args.get("page", 1, type=int))
    return render_template(
        "eco/runs.html",
        page=page,
        filters=filters,
        statuses=RUN_STATUSES,
        codes=RESULT_CODES,
        all_rules=rules.list_rules(per_page=200).items,
    )
