import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column, relationship

from app.core.auth.models import User
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db
from app.optimization.strategies import STRATEGIES

# the metrics of every task, each a column of its own (OptimizationTask): sorted and filtered in SQL
METRICS = ("return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct")
# a task's parameters are numbers (every strategy's are int or float), in columns param_1..param_3:
# the strategy's parameters in their order (`param_column`)
PARAM_COLUMNS = ("param_1", "param_2", "param_3")


class OptimizationStatus(StrEnum):
    """Once every task ran it ends succeeded (a task finished) or failed (none did);
    early-stopped when its policy stopped it before the end of the grid."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    early_stopped = "early-stopped"
    canceled = "canceled"


FINAL_STATUSES = (
    OptimizationStatus.succeeded,
    OptimizationStatus.failed,
    OptimizationStatus.early_stopped,
    OptimizationStatus.canceled,
)


class TaskStatus(StrEnum):
    """A grid point's result; a chunk job's own status is its job history row's (JobState)."""

    finished = "finished"
    failed = "failed"


class Dataset(db.Model):
    """OHLCV bars in canonical CSV form; shared by everyone, checked by its checksum."""

    __tablename__ = "optimization_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    rows: Mapped[int]
    first_date: Mapped[str] = mapped_column(String(32))
    last_date: Mapped[str] = mapped_column(String(32))
    csv: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Optimization(db.Model):
    """One grid search; its summary columns are kept up to date as results arrive."""

    __tablename__ = "optimization"
    __table_args__ = (
        Index("ix_optimization_owner_created", "owner_id", "created_at"),
        Index("ix_optimization_window", "created_at", "status"),  # the overview's window (app/ops)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    strategy: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("optimization_dataset.id"), index=True)
    param_space: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)  # mode, metric, target, patience, maxTasks
    top_n: Mapped[int]
    cash: Mapped[float] = mapped_column(Float)
    commission: Mapped[float] = mapped_column(Float)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("optimization.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=OptimizationStatus.queued, index=True)
    stop_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the summary, maintained as results are merged and frozen once the status is final
    total: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    finished: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    best_score: Mapped[float | None] = mapped_column(Float)
    since_best: Mapped[int] = mapped_column(default=0)  # finished tasks since the best improved
    top: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{taskId, score, params}]
    best_history: Mapped[list[list[float]]] = mapped_column(JSON, default=list)  # [[done, seconds, best]]
    chunks_total: Mapped[int] = mapped_column(default=0)
    chunks_done: Mapped[int] = mapped_column(default=0)
    revision: Mapped[int] = mapped_column(default=0)  # bumped by every merge: the row lock
    # None: tasks run in grid order; else the seed of their shuffled order (grid.in_run_order), so an
    # early stop has sampled the whole grid rather than one corner of it
    run_order_seed: Mapped[int | None]
    # names the run's Redis keys (its halt flag): unlike the id, never reused by a recreated database
    run_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))

    owner: Mapped[User] = relationship()
    dataset: Mapped[Dataset] = relationship()

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def mode(self) -> str:
        return self.policy["mode"]

    @property
    def metric(self) -> str:
        return self.policy["metric"]

    @property
    def done(self) -> int:
        return self.finished + self.failed

    @property
    def grid_size(self) -> int:
        return self.total + self.skipped


class OptimizationTask(db.Model):
    """The result of one grid point; written when its result is merged into the summary.

    Parameters and metrics are typed columns, not JSON: a chunk saves its rows without encoding
    anything, and the trials table sorts and filters them as plain columns."""

    __tablename__ = "optimization_task"
    __table_args__ = (UniqueConstraint("optimization_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    optimization_id: Mapped[int] = mapped_column(ForeignKey("optimization.id", ondelete="CASCADE"))
    seq: Mapped[int]  # position in the run order
    status: Mapped[str] = mapped_column(String(20))  # a TaskStatus
    score: Mapped[float | None] = mapped_column(Float)
    param_1: Mapped[float | None] = mapped_column(Float)
    param_2: Mapped[float | None] = mapped_column(Float)
    param_3: Mapped[float | None] = mapped_column(Float)
    return_pct: Mapped[float | None] = mapped_column(Float)
    sharpe: Mapped[float | None] = mapped_column(Float)
    max_drawdown_pct: Mapped[float | None] = mapped_column(Float)
    trades: Mapped[int | None]
    win_rate_pct: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # equity curve and trade list, kept only while the task is in the Top-N (what export reads)
    artifacts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    optimization: Mapped[Optimization] = relationship(viewonly=True)

    @property
    def params(self) -> dict[str, int | float]:
        """{name: value} in the strategy's order, ints for its whole-number parameters."""
        return params_of(self.optimization.strategy, [getattr(self, c) for c in PARAM_COLUMNS])

    @property
    def metrics(self) -> dict[str, Any] | None:
        """The five metrics (None for a failed task)."""
        if self.status == TaskStatus.failed:
            return None
        return {name: getattr(self, name) for name in METRICS}


def params_of(strategy: str, values: list[float | None]) -> dict[str, int | float]:
    """A task's parameter columns (in PARAM_COLUMNS order) as the strategy names them."""
    return {
        p.name: (int(value) if p.kind is int else value)
        for p, value in zip(STRATEGIES[strategy].params, values, strict=False)
    }


def param_column(strategy: str, name: str) -> InstrumentedAttribute:
    """The column holding parameter `name` of `strategy`."""
    names = [p.name for p in STRATEGIES[strategy].params]
    return getattr(OptimizationTask, PARAM_COLUMNS[names.index(name)])
