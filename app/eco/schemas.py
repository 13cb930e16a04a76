"""Request and response schemas of the ECO and workflow-action API (they also feed OpenAPI)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasPath, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from app.core.api import Id, Out, PageMeta, Text, TimelineEventOut, paging_query
from app.eco import stages as eco_stages
from app.eco.models import (
    ACTIONS,
    FAIL_STRATEGIES,
    PHASES,
    PRIORITIES,
    ActionRunStatus,
    ActivityStatus,
)
from app.eco.rules import RuleMatch, RuleSpec

RESULT_CODES = ("OK", "WARN", "RETRY_EXHAUSTED", "BLOCK", "QUEUED", "RUNNING", "JOB_FAILED")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- ECOs ------------------------------------------------------------------


def _stages_of_type(eco_type: str) -> list[str]:
    """The stages an ECO of this type can be at: its chain, then canceled."""
    return [*eco_stages.chain(eco_type), eco_stages.CANCELED]


class EcoIn(_In):
    title: Text = Field(min_length=1, max_length=200)
    item_id: Id = Field(title="Product", description="the assembly the ECO changes")
    eco_type: Text = Field("standard", max_length=40)
    priority: Literal[PRIORITIES] = "normal"
    description: Text = Field("", max_length=20000)
    owner: Text | None = Field(None, max_length=80, description="defaults to the signed-in user")
    target_bom_id: Id | None = Field(
        None, title="Proposed BOM revision", description="a draft BOM revision of the item: the proposed change"
    )


class EcoPatch(_In):
    title: Text = Field(None, min_length=1, max_length=200)
    priority: Literal[PRIORITIES] = None
    description: Text = Field(None, max_length=20000)
    owner: Text = Field(None, min_length=1, max_length=80)
    target_bom_id: Id | None = None


class EcoQuery(_In, paging_query()):
    q: Text | None = Field(None, max_length=100, description="number or title contains")
    stage: Text | None = Field(None, max_length=40)
    eco_type: Text | None = Field(None, max_length=40)
    priority: Literal[PRIORITIES] | None = None
    owner: Text | None = Field(None, max_length=80)
    item_id: Id | None = None


class EcoOut(Out):
    id: int
    number: str
    title: str
    description: str
    eco_type: str
    stage: str
    stages: Annotated[list[str], BeforeValidator(_stages_of_type)] = Field(validation_alias="eco_type")
    priority: str
    owner: str
    item_id: int
    item: str = Field(validation_alias=AliasPath("item", "number"))
    target_bom_id: int | None
    target_bom: Annotated[str | None, BeforeValidator(lambda bom: bom and bom.ref)]
    version: int
    created_at: datetime
    updated_at: datetime
    applied_at: datetime | None


class EcoList(BaseModel):
    ecos: list[EcoOut]
    paging: PageMeta


class MoveIn(_In):
    to_stage: Text = Field(min_length=1, max_length=40)
    reason: Text = Field("", max_length=2000)


class ApplyIn(_In):
    reason: Text = Field("", max_length=2000)


class RunOut(Out):
    id: int
    rule_id: int
    rule: str = Field(validation_alias=AliasPath("rule", "name"))
    eco_id: int
    phase: str
    action: str
    from_stage: str
    to_stage: str
    status: ActionRunStatus
    result_code: Literal[RESULT_CODES]
    attempts: int
    error: str | None
    result: dict[str, Any] | None
    job_id: str | None
    actor: str
    started_at: datetime
    finished_at: datetime | None


class TransitionOut(Out):
    eco: EcoOut
    from_stage: str
    to_stage: str = Field(validation_alias=AliasPath("eco", "stage"))
    runs: list[RunOut]


class BlockerOut(BaseModel):
    activity_id: int
    name: str
    status: str
    reason: str
    stage: str | None = None
    assignee: str | None = None


class BlockerList(BaseModel):
    blockers: list[BlockerOut]


class BlockerQuery(_In):
    to_stage: Text = Field(min_length=1, max_length=40, description="the stage a move would go to")


class EventOut(TimelineEventOut):
    eco_id: int
    activity_id: int | None


class EventList(BaseModel):
    events: list[EventOut]
    paging: PageMeta


class PageQuery(_In, paging_query(50)):
    """Paging of the ECO event lists."""


class EcoTypeOut(BaseModel):
    name: str
    stages: list[str]


class EcoTypeList(BaseModel):
    types: list[EcoTypeOut]


# ---- activities ----------------------------------------------------------------


class ActivityIn(_In):
    eco_id: Id
    name: Text = Field(min_length=1, max_length=200)
    stage: Text = Field(min_length=1, max_length=40, title="Gates stage", description="the stage this activity gates")
    assignee: Text = Field("", max_length=80)
    blocking: bool = True
    due_at: AwareDatetime | None = Field(None, title="Due")
    depends_on: list[Id] = Field(default_factory=list, max_length=100)


class DependenciesIn(_In):
    depends_on: list[Id] = Field(max_length=100)


class ActivityTransitionIn(_In):
    to_status: ActivityStatus
    reason: Text = Field("", max_length=2000)


class ActivityQuery(_In, paging_query(50)):
    eco_id: Id | None = None
    status: ActivityStatus | None = None
    assignee: Text | None = Field(None, max_length=80)


class ActivityOut(Out):
    id: int
    eco_id: int
    eco: str = Field(validation_alias=AliasPath("eco", "number"))
    name: str
    assignee: str
    stage: str
    blocking: bool
    status: str
    due_at: datetime | None
    depends_on: Annotated[list[int], BeforeValidator(lambda activities: [a.id for a in activities])]
    created_at: datetime
    updated_at: datetime


class ActivityList(BaseModel):
    activities: list[ActivityOut]
    paging: PageMeta


class DueQuery(_In):
    within_hours: float = Field(24, gt=0, le=24 * 90)


class DueList(BaseModel):
    overdue: list[ActivityOut]
    due_soon: list[ActivityOut]


# ---- rules and runs --------------------------------------------------------------


class RulePatch(_In):
    name: Text = Field(None, min_length=1, max_length=120)
    phase: Literal[PHASES] = None
    from_stage: Text = Field(None, max_length=40)
    to_stage: Text = Field(None, max_length=40)
    action: Literal[ACTIONS] = None
    params: dict[Text, Any] = None
    match: RuleMatch = None
    fail_strategy: Literal[FAIL_STRATEGIES] = None
    max_retries: int = Field(None, ge=0, le=5)
    priority: int = Field(None, ge=0, le=1000)
    timeout_seconds: float = Field(None, gt=0, le=300)
    enabled: bool = None


class RuleOut(RuleSpec, Out):
    id: int
    created_at: datetime
    updated_at: datetime


class RuleList(BaseModel):
    rules: list[RuleOut]
    paging: PageMeta


class RuleQuery(_In, paging_query(50)):
    phase: Literal[PHASES] | None = None
    enabled: bool | None = None


class RunQuery(_In, paging_query(50)):
    eco_id: Id | None = None
    rule_id: Id | None = None
    status: ActionRunStatus | None = None
    result_code: Literal[RESULT_CODES] | None = None


class RunList(BaseModel):
    runs: list[RunOut]
    paging: PageMeta
