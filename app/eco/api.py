"""JSON API of ECOs, their activities and workflow custom actions."""

from flask import Blueprint

from app.core.api import API_PREFIX, endpoint, page_out
from app.core.auth.roles import ADMIN, ENGINEER
from app.core.errors import NotFound
from app.eco import rules, service, stages, transitions
from app.eco.rules import RuleSpec
from app.eco.schemas import (
    ActivityIn,
    ActivityList,
    ActivityOut,
    ActivityQuery,
    ActivityTransitionIn,
    ApplyIn,
    BlockerList,
    BlockerQuery,
    DependenciesIn,
    DueList,
    DueQuery,
    EcoIn,
    EcoList,
    EcoOut,
    EcoPatch,
    EcoQuery,
    EcoTypeList,
    EventList,
    EventOut,
    MoveIn,
    PageQuery,
    RuleList,
    RuleOut,
    RulePatch,
    RuleQuery,
    RunList,
    RunOut,
    RunQuery,
    TransitionOut,
)
from app.extensions import db
from app.items.schemas import DeltaPreviewOut

bp = Blueprint("eco_api", __name__, url_prefix=API_PREFIX)


def _events(page) -> EventList:
    return page_out(EventList, page, EventOut.model_validate)


# ---- ECOs ------------------------------------------------------------------


@endpoint(bp, "/eco-types", summary="ECO types and their stage chains", response=EcoTypeList)
def list_eco_types():
    return {"types": [{"name": name, "stages": [*chain, stages.CANCELED]} for name, chain in stages.types().items()]}


@endpoint(bp, "/ecos", summary="ECOs, filtered and paged", query=EcoQuery, response=EcoList)
def list_ecos(query: EcoQuery):
    page = service.search_ecos(**query.model_dump())
    return page_out(EcoList, page, EcoOut.model_validate)


@endpoint(
    bp,
    "/ecos",
    "POST",
    summary="Open an ECO at the first stage of its type",
    roles=ENGINEER,
    body=EcoIn,
    response=EcoOut,
    status=201,
)
def create_eco(body: EcoIn):
    eco = service.create_eco(**body.model_dump())
    db.session.commit()
    return EcoOut.model_validate(eco)


@endpoint(bp, "/ecos/<int:eco_id>", summary="One ECO", response=EcoOut)
def get_eco(eco_id: int):
    return EcoOut.model_validate(service.get_eco(eco_id))


@endpoint(
    bp,
    "/ecos/<int:eco_id>",
    "PATCH",
    summary="Change title, description, priority, owner or target BOM",
    roles=ENGINEER,
    body=EcoPatch,
    response=EcoOut,
)
def update_eco(eco_id: int, body: EcoPatch):
    eco = service.update_eco(eco_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return EcoOut.model_validate(eco)


@endpoint(
    bp,
    "/ecos/<int:eco_id>/move",
    "POST",
    roles=ENGINEER,
    body=MoveIn,
    response=TransitionOut,
    summary="Move to a stage: gates, before rules, the move, after rules, in one transaction "
    "(409 with the blockers, or naming the blocking rule)",
)
def move_eco(eco_id: int, body: MoveIn):
    outcome = transitions.move(eco_id, body.to_stage, body.reason)
    db.session.commit()
    return TransitionOut.model_validate(outcome)


@endpoint(
    bp,
    "/ecos/<int:eco_id>/apply",
    "POST",
    roles=ENGINEER,
    body=ApplyIn,
    response=TransitionOut,
    summary="Release the target BOM revision and move to the final stage, as a move does",
)
def apply_eco(eco_id: int, body: ApplyIn):
    outcome = transitions.apply(eco_id, body.reason)
    db.session.commit()
    return TransitionOut.model_validate(outcome)


@endpoint(
    bp,
    "/ecos/<int:eco_id>/blockers",
    summary="What keeps the ECO from moving to a stage",
    query=BlockerQuery,
    response=BlockerList,
)
def eco_blockers(eco_id: int, query: BlockerQuery):
    return {"blockers": service.gate_blockers(service.get_eco(eco_id), query.to_stage)}


@endpoint(
    bp,
    "/ecos/<int:eco_id>/events",
    summary="Everything that happened to the ECO, newest first",
    query=PageQuery,
    response=EventList,
)
def eco_events(eco_id: int, query: PageQuery):
    return _events(service.events(eco_id, page=query.page, per_page=query.per_page))


@endpoint(
    bp,
    "/ecos/<int:eco_id>/delta",
    summary="The BOM delta applying the ECO would make (404 without one)",
    response=DeltaPreviewOut,
)
def eco_delta(eco_id: int):
    delta = service.bom_delta(service.get_eco(eco_id))
    if delta is None:
        raise NotFound("This ECO proposes no BOM revision.")
    return delta.to_dict()


# ---- activities ----------------------------------------------------------------


@endpoint(
    bp, "/eco-activities", summary="Activities, by ECO, status or assignee", query=ActivityQuery, response=ActivityList
)
def list_activities(query: ActivityQuery):
    page = service.list_activities(**query.model_dump())
    return page_out(ActivityList, page, ActivityOut.model_validate)


@endpoint(
    bp,
    "/eco-activities",
    "POST",
    summary="Add an activity that gates a stage",
    roles=ENGINEER,
    body=ActivityIn,
    response=ActivityOut,
    status=201,
)
def create_activity(body: ActivityIn):
    activity = service.create_activity(**body.model_dump())
    db.session.commit()
    return ActivityOut.model_validate(activity)


@endpoint(
    bp,
    "/eco-activities/due",
    summary="Open activities overdue or due within the next hours",
    query=DueQuery,
    response=DueList,
)
def due_activities(query: DueQuery):
    overdue, soon = service.due_activities(query.within_hours)
    return DueList(overdue=overdue, due_soon=soon)


@endpoint(bp, "/eco-activities/<int:activity_id>", summary="One activity", response=ActivityOut)
def get_activity(activity_id: int):
    return ActivityOut.model_validate(service.get_activity(activity_id))


@endpoint(
    bp,
    "/eco-activities/<int:activity_id>/dependencies",
    "PUT",
    roles=ENGINEER,
    body=DependenciesIn,
    response=ActivityOut,
    summary="Replace what the activity depends on (409 on a cycle)",
)
def set_dependencies(activity_id: int, body: DependenciesIn):
    activity = service.set_dependencies(activity_id, body.depends_on)
    db.session.commit()
    return ActivityOut.model_validate(activity)


@endpoint(
    bp,
    "/eco-activities/<int:activity_id>/transition",
    "POST",
    roles=ENGINEER,
    body=ActivityTransitionIn,
    response=ActivityOut,
    summary="Change the status (409 when the table forbids it or a dependency is unfinished)",
)
def transition_activity(activity_id: int, body: ActivityTransitionIn):
    activity = service.transition_activity(activity_id, body.to_status, body.reason)
    db.session.commit()
    return ActivityOut.model_validate(activity)


@endpoint(bp, "/eco-activities/<int:activity_id>/blockers", summary="Unfinished dependencies", response=BlockerList)
def activity_blockers(activity_id: int):
    return {"blockers": service.activity_blockers(service.get_activity(activity_id))}


@endpoint(
    bp,
    "/eco-activities/<int:activity_id>/events",
    summary="The activity's status changes, newest first",
    query=PageQuery,
    response=EventList,
)
def activity_events(activity_id: int, query: PageQuery):
    return _events(service.events(activity_id=activity_id, page=query.page, per_page=query.per_page))


# ---- workflow actions --------------------------------------------------------------


@endpoint(bp, "/workflow-actions/rules", summary="Custom-action rules", query=RuleQuery, response=RuleList)
def list_rules(query: RuleQuery):
    page = rules.list_rules(**query.model_dump())
    return page_out(RuleList, page, RuleOut.model_validate)


@endpoint(
    bp,
    "/workflow-actions/rules",
    "POST",
    summary="Create a rule (params checked per action)",
    roles=ADMIN,
    body=RuleSpec,
    response=RuleOut,
    status=201,
)
def create_rule(body: RuleSpec):
    rule = rules.create_rule(body)
    db.session.commit()
    return RuleOut.model_validate(rule)


@endpoint(bp, "/workflow-actions/rules/<int:rule_id>", summary="One rule", response=RuleOut)
def get_rule(rule_id: int):
    return RuleOut.model_validate(rules.get_rule(rule_id))


@endpoint(
    bp,
    "/workflow-actions/rules/<int:rule_id>",
    "PATCH",
    roles=ADMIN,
    body=RulePatch,
    response=RuleOut,
    summary='Change a rule, or disable it with {"enabled": false}',
)
def update_rule(rule_id: int, body: RulePatch):
    rule = rules.update_rule(rule_id, body.model_dump(exclude_unset=True, mode="json"))
    db.session.commit()
    return RuleOut.model_validate(rule)


@endpoint(bp, "/workflow-actions/runs", summary="Rule runs, newest first", query=RunQuery, response=RunList)
def list_runs(query: RunQuery):
    page = rules.list_runs(**query.model_dump())
    return page_out(RunList, page, RunOut.model_validate)


@endpoint(bp, "/workflow-actions/runs/<int:run_id>", summary="One rule run", response=RunOut)
def get_run(run_id: int):
    return RunOut.model_validate(rules.get_run(run_id))
