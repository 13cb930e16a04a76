"""The breakage figures, one definition each, computed in SQL; the metrics page, the API, the
exports (and the parallel-ops overview later) all read them from here. docs/breakages.md
states each definition in words.

Every figure is over a window of `days` ending at `end` (now): the incidents whose occurred_at
falls in [end - days, end). Canceled incidents (recorded in error) count only in the by-status
counts.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, and_, case, cast, func, select

from app.breakages.models import (
    SEVERITY_WEIGHT,
    UNRESOLVED,
    HelpdeskStatus,
    Incident,
    IncidentStatus,
    Responsibility,
    Severity,
)
from app.core import rollup
from app.core.buckets import Buckets, epoch
from app.core.errors import InvalidInput
from app.core.rates import ratio
from app.core.timeutil import utcnow
from app.extensions import db
from app.items.models import Item

DEFAULT_WINDOW_DAYS = 90
MAX_WINDOW_DAYS = 3660
DEFAULT_TOP = 10
WEEK_SECONDS = 7 * 86400
# The overview's rollup (app/core/rollup.py): incidents per hour of occurrence, status, helpdesk
# status and the shortest of these windows (days) their repeat gap fits in (0: none), so that the
# repeat rate of such a window is a sum.
REPEAT_WINDOWS = (1, 7, 14, 30, 90)
_REPEAT_DAYS = " ".join(f"WHEN {{r}}.repeat_gap_seconds <= {d * 86400} THEN {d}" for d in REPEAT_WINDOWS)
INCIDENTS = rollup.Rollup(
    "rollup_breakage_incidents",
    "breakage_incidents",
    "occurred_at",
    dims=(
        ("status", "{r}.status", "text"),
        ("helpdesk_status", "{r}.helpdesk_status", "text"),
        ("repeat_days", f"CASE {_REPEAT_DAYS} ELSE 0 END", "int"),
    ),
)
# the trends' hours (their buckets start anywhere): only what a bucket counts
_UNRESOLVED_SQL = rollup.quoted(status.value for status in UNRESOLVED)
_HELPDESK_FAILED_SQL = rollup.quoted(status.value for status in (HelpdeskStatus.failed, HelpdeskStatus.dead))
INCIDENT_TRENDS = rollup.Rollup(
    "rollup_breakage_trends",
    "breakage_incidents",
    "occurred_at",
    dims=(
        ("counted", f"CASE WHEN {{r}}.status = '{IncidentStatus.canceled.value}' THEN 0 ELSE 1 END", "int"),
        ("open", f"CASE WHEN {{r}}.status IN ({_UNRESOLVED_SQL}) THEN 1 ELSE 0 END", "int"),
        ("helpdesk_failed", f"CASE WHEN {{r}}.helpdesk_status IN ({_HELPDESK_FAILED_SQL}) THEN 1 ELSE 0 END", "int"),
    ),
    grains=(rollup.HOUR,),
)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    days: int

    @property
    def seconds(self) -> float:
        return self.days * 86400.0


def window(days: int = DEFAULT_WINDOW_DAYS, end: datetime | None = None) -> Window:
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise InvalidInput(f"The window is 1 to {MAX_WINDOW_DAYS} days.", {"field": "days"})
    end = end or utcnow()
    return Window(end - timedelta(days=days), end, days)


def _counted(w: Window):
    return and_(
        Incident.occurred_at >= w.start, Incident.occurred_at < w.end, Incident.status != IncidentStatus.canceled
    )


def repeat_rate(w: Window) -> dict[str, Any]:
    """An incident is a repeat when an earlier incident of the same product and signature (the
    component, else the normalised description) occurred within `w.days` before it; the rate is
    repeats / incidents in the window. The earlier one may lie before the window's start.
    The gap to that earlier incident is kept on each row (`repeat_gap_seconds`, service.relink()),
    so this is one index-only pass over the window."""
    repeats = func.coalesce(func.sum(case((Incident.repeat_gap_seconds <= w.seconds, 1), else_=0)), 0)
    total, repeated = db.session.execute(select(func.count(), repeats).where(_counted(w))).one()
    return {"incidents": total, "repeats": int(repeated), "rate": round(repeated / total, 4) if total else 0.0}


def _weight():
    return case(
        *((Incident.severity == severity.value, weight) for severity, weight in SEVERITY_WEIGHT.items()), else_=1
    )


def components(w: Window, top: int = DEFAULT_TOP, order: str = "score") -> list[dict[str, Any]]:
    """Components by incidents in the window: count, share (of the incidents that name a
    component), severity-weighted score (low 1, medium 2, high 4, critical 8), and the
    cumulative share in this order (the Pareto line). `order` "score" ranks hotspots, "count" the Pareto."""
    if not 1 <= top <= 100:
        raise InvalidInput("top is 1 to 100.", {"field": "top"})
    with_component = and_(_counted(w), Incident.component_id.is_not(None))
    # grouped from the window index alone; the items are joined to the groups, not to every row
    grouped = (
        select(
            Incident.component_id,
            func.count().label("n"),
            func.sum(_weight()).label("score"),
            func.sum(func.count()).over().label("total"),
        )
        .where(with_component)
        .group_by(Incident.component_id)
        .subquery()
    )
    ranking = (
        (grouped.c.score.desc(), grouped.c.n.desc())
        if order == "score"
        else (grouped.c.n.desc(), grouped.c.score.desc())
    )
    rows = db.session.execute(
        select(grouped.c.component_id, Item.number, Item.name, grouped.c.n, grouped.c.score, grouped.c.total)
        .join(Item, Item.id == grouped.c.component_id)
        .order_by(*ranking, Item.number)
        .limit(top)
    ).all()
    out, running = [], 0
    for component_id, number, name, n, weighted, total in rows:
        total = int(total)  # PostgreSQL's sum() of counts is numeric
        running += n
        out.append(
            {
                "component_id": component_id,
                "number": number,
                "name": name,
                "count": n,
                "share": round(n / total, 4),
                "score": int(weighted),
                "cumulative_share": round(running / total, 4),
            }
        )
    return out


def hotspots(w: Window, top: int = DEFAULT_TOP) -> list[dict[str, Any]]:
    return components(w, top, "score")


def pareto(w: Window, top: int = DEFAULT_TOP) -> list[dict[str, Any]]:
    return components(w, top, "count")


def counts(w: Window) -> dict[str, dict[str, int]]:
    """Incidents in the window by status (canceled included), severity and responsibility: one
    pass over the window index, grouped by all three (at most 120 groups), summed here."""
    in_window = and_(Incident.occurred_at >= w.start, Incident.occurred_at < w.end)
    groups = db.session.execute(
        select(Incident.status, Incident.severity, Incident.responsibility, func.count())
        .where(in_window)
        .group_by(Incident.status, Incident.severity, Incident.responsibility)
    ).all()
    out = {
        "status": dict.fromkeys((m.value for m in IncidentStatus), 0),
        "severity": dict.fromkeys((m.value for m in Severity), 0),
        "responsibility": dict.fromkeys((m.value for m in Responsibility), 0),
    }
    for status, severity, responsibility, n in groups:
        out["status"][status] += n
        if status != IncidentStatus.canceled:
            out["severity"][severity] += n
            out["responsibility"][responsibility] += n
    return out


def mean_time_to_resolve(w: Window) -> dict[str, Any]:
    """Mean hours from recording (created_at) to the last move to resolved, over the incidents
    resolved in the window that are still resolved or closed (a reopened one counts when it is
    resolved again)."""
    hours = (epoch(Incident.resolved_at) - epoch(Incident.created_at)) / 3600.0
    mean, resolved = db.session.execute(
        select(func.avg(cast(hours, Float)), func.count()).where(
            Incident.resolved_at >= w.start,
            Incident.resolved_at < w.end,
            Incident.status.in_((IncidentStatus.resolved, IncidentStatus.closed)),
        )
    ).one()
    return {"resolved": resolved, "hours": round(float(mean), 2) if mean is not None else None}


def weekly_trend(w: Window) -> list[dict[str, Any]]:
    """Incidents (and how many of them critical or high) per ISO week (Monday 00:00 UTC) that
    overlaps the window, oldest first; weeks without incidents are there with 0."""
    first = (w.start - timedelta(days=w.start.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    anchor = first.timestamp()
    weeks_since = (epoch(Incident.occurred_at) - anchor) / WEEK_SECONDS  # >= 0 for every counted incident
    # PostgreSQL's cast rounds, SQLite's truncates (and has no floor() in every build)
    week = func.floor(weeks_since) if db.engine.dialect.name == "postgresql" else cast(weeks_since, Integer)
    severe = func.sum(case((Incident.severity.in_((Severity.high, Severity.critical)), 1), else_=0))
    rows = dict(
        (int(index), (n, int(s or 0)))
        for index, n, s in db.session.execute(
            select(week.label("week"), func.count(), severe).where(_counted(w)).group_by("week")
        ).all()
    )
    weeks = int((w.end - first).total_seconds() // WEEK_SECONDS) + 1
    return [
        {
            "week": (first + timedelta(weeks=i)).date().isoformat(),
            "incidents": rows.get(i, (0, 0))[0],
            "severe": rows.get(i, (0, 0))[1],
        }
        for i in range(weeks)
    ]


def summary(days: int = DEFAULT_WINDOW_DAYS, top: int = DEFAULT_TOP, end: datetime | None = None) -> dict[str, Any]:
    """Every figure of one window: what the page, the API and the exports show."""
    w = window(days, end)
    return {
        "window": {"days": w.days, "start": w.start, "end": w.end},
        "repeat": repeat_rate(w),
        "hotspots": hotspots(w, top),
        "pareto": pareto(w, top),
        "counts": counts(w),
        "mttr": mean_time_to_resolve(w),
        "trend": weekly_trend(w),
    }


def helpdesk_sends(w: Window) -> dict[str, Any]:
    """The helpdesk hand-overs of the incidents in the window (canceled ones too: a send is a
    send), by helpdesk status; the failed rate is (failed + dead) / ended sends (sent, failed,
    dead), None with no ended send."""
    in_window = and_(Incident.occurred_at >= w.start, Incident.occurred_at < w.end)
    counted = dict(
        db.session.execute(
            select(Incident.helpdesk_status, func.count()).where(in_window).group_by(Incident.helpdesk_status)
        ).all()
    )
    by_status = {status.value: counted.get(status, 0) for status in HelpdeskStatus}
    bad = by_status[HelpdeskStatus.failed] + by_status[HelpdeskStatus.dead]
    return {"by_status": by_status, "failed_rate": ratio(bad, bad + by_status[HelpdeskStatus.sent])}


def rolled_up(w: Window) -> dict[str, Any]:
    """What the overview shows of a window (days one of REPEAT_WINDOWS), from the rollup: the
    incidents by status, the repeat counts (repeat_rate's definition: canceled ones apart, a
    repeat when its gap is within the window's days) and the helpdesk sends (helpdesk_sends)."""
    if w.days not in REPEAT_WINDOWS:
        raise ValueError(f"the rollup answers windows of {REPEAT_WINDOWS} days")
    by_status = dict.fromkeys((m.value for m in IncidentStatus), 0)
    helpdesk = dict.fromkeys((m.value for m in HelpdeskStatus), 0)
    incidents = repeats = 0
    for status, helpdesk_status, repeat_days, n in rollup.grouped(INCIDENTS, w.start, w.end):
        by_status[status] += n
        helpdesk[helpdesk_status] += n
        if status != IncidentStatus.canceled:
            incidents += n
            repeats += n if 0 < repeat_days <= w.days else 0
    bad = helpdesk[HelpdeskStatus.failed] + helpdesk[HelpdeskStatus.dead]
    return {
        "by_status": by_status,
        "repeat": {
            "incidents": incidents,
            "repeats": repeats,
            "rate": round(repeats / incidents, 4) if incidents else 0.0,
        },
        "helpdesk": {"by_status": helpdesk, "failed_rate": ratio(bad, bad + helpdesk[HelpdeskStatus.sent])},
    }


def by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: incidents that occurred in it (canceled ones apart), how many of them are
    unresolved now, and their helpdesk sends that failed (failed or dead, canceled incidents
    too, as helpdesk_sends counts them), from the trends' rollup."""

    def add(counts: dict[str, int], counted: int, open_: int, helpdesk_failed: int, n: int) -> None:
        counts["total"] += n * counted
        counts["open"] += n * open_
        counts["helpdesk_failed"] += n * helpdesk_failed

    return rollup.per_bucket(INCIDENT_TRENDS, buckets, _zero_bucket, add)


def _zero_bucket() -> dict[str, int]:
    return {"total": 0, "open": 0, "helpdesk_failed": 0}
