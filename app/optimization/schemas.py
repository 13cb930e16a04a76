from datetime import datetime
from typing import Literal

from pydantic import AliasGenerator, AliasPath, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_snake

from app.core.api import MAX_ID, Id, Out, PageMeta, Text, paging_query
from app.optimization.service import MAX_RUN_ORDER_SEED, METRICS

Metric = Literal[METRICS]  # type: ignore[valid-type]
Number = int | float


class RangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Number
    stop: Number
    step: Number = Field(gt=0)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["max", "min"] = Field(description="whether a higher or a lower score is better")
    metric: Metric = Field(description="the metric that is the score")
    target: float | None = Field(None, title="Target score", description="stop once a score reaches it")
    patience: int | None = Field(
        None, ge=1, le=MAX_ID, description="stop after this many finished tasks without a better best"
    )
    maxTasks: int | None = Field(None, ge=1, le=MAX_ID, description="stop after this many tasks")


class OptimizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Text = Field(max_length=40, description="sma_cross or rsi_reversion")
    dataset: Id = Field(description="dataset id")
    paramSpace: dict[Text, list[Number] | RangeIn] = Field(
        min_length=1,
        title="Parameters",
        description="per parameter a list of values or {start, stop, step} (stop included)",
    )
    earlyStopPolicy: PolicyIn
    topN: int = Field(10, ge=1, le=100, title="Top-N")
    cash: float = Field(10_000, gt=0, le=1e12)
    commission: float = Field(0.0, ge=0, lt=0.1, description="relative, charged on entry and on exit")
    runOrderSeed: int | None = Field(
        None,
        ge=0,
        le=MAX_RUN_ORDER_SEED,
        description="run the points in the shuffled order of this seed (with an early-stop policy a seed is"
        " drawn when absent; without one the points run in grid order)",
    )


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taskId: Id | None = Field(None, description="re-run only this task's combination; the whole job if absent")


class HistoryQuery(paging_query()):
    """Paging of the optimization history."""


class TrialsQuery(paging_query(50)):
    """The trials table: every task, sorted and filtered in SQL."""

    model_config = ConfigDict(extra="forbid")

    sort: Text = Field("seq", max_length=40, description="seq, score, a metric or a parameter name")
    order: Literal["asc", "desc"] = "asc"
    ranges: Text | None = Field(
        None, max_length=400, description="parameter ranges, inclusive, either bound open: n1:5:20,n2::100"
    )
    status: Literal["finished", "failed"] | None = None


class TrialOut(BaseModel):
    taskId: int
    seq: int = Field(description="the task number: its position in the run order")
    status: str
    score: float | None
    params: dict[str, Number]
    metrics: dict | None
    error: str | None


class TrialList(BaseModel):
    trials: list[TrialOut]
    paging: PageMeta


class GridSizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Text = Field(max_length=40)
    paramSpace: dict[Text, list[Number] | RangeIn] = Field(min_length=1, title="Parameters")


class GridSizeOut(BaseModel):
    size: int = Field(description="points in the grid")
    skipped: int = Field(description="points that break the strategy's constraint")
    toRun: int = Field(description="points a submit would queue")


class CompareQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: Id = Field(description="one optimization's id")
    b: Id = Field(description="the other's: the same strategy, on the same dataset")


class ComparedOut(BaseModel):
    id: int
    status: str
    metric: str
    mode: str
    done: int
    bestScore: float | None
    topN: list[dict]
    bestByTask: list[list[float]] = Field(description="[task number, best score] at each improvement")


class CompareOut(BaseModel):
    strategy: str
    dataset: str
    optimizations: list[ComparedOut]


class TopEntry(BaseModel):
    taskId: int
    score: float
    params: dict[str, Number]
    zeroTrades: bool = Field(description="its backtest made no trade: ranked, but its score means little")


class SummaryOut(BaseModel):
    gridSize: int = Field(description="points in the grid: skipped + total")
    total: int = Field(description="points to run (those that meet the strategy's constraint)")
    finished: int
    failed: int
    skipped: int
    topN: list[TopEntry]


class StatusOut(BaseModel):
    id: int
    status: str
    stopReason: str | None
    bestScore: float | None
    summary: SummaryOut


class _Row(Out):
    """Read from a row: the API's camelCase fields from its snake_case columns."""

    model_config = ConfigDict(alias_generator=AliasGenerator(validation_alias=to_snake))


class OptimizationOut(StatusOut, _Row):
    strategy: str
    dataset: int = Field(validation_alias="dataset_id")
    paramSpace: dict
    earlyStopPolicy: dict = Field(validation_alias="policy")
    topN: int
    cash: float
    commission: float
    runOrderSeed: int | None = Field(description="seed of the shuffled run order; null: grid order")
    owner: str = Field(validation_alias=AliasPath("owner", "username"))
    sourceJobId: int | None = Field(validation_alias="source_id")
    createdAt: datetime
    startedAt: datetime | None
    endedAt: datetime | None


class OptimizationList(BaseModel):
    optimizations: list[OptimizationOut]
    paging: PageMeta


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=120)
    csv: Text = Field(max_length=20_000_000, description="Date, Open, High, Low, Close, Volume with a header row")


class DatasetOut(_Row):
    id: int
    name: str
    rows: int
    firstDate: str
    lastDate: str
    checksum: str
    createdBy: str
    createdAt: datetime


class DatasetList(BaseModel):
    datasets: list[DatasetOut]


class ParamOut(BaseModel):
    name: str
    kind: Literal["int", "float"]
    minimum: float
    maximum: float
    description: str


class StrategyOut(BaseModel):
    name: str
    title: str
    params: list[ParamOut]
    constraint: str


class StrategyList(BaseModel):
    strategies: list[StrategyOut]
    metrics: list[str]
