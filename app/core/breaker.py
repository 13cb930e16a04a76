"""The circuit breaker of outbound endpoints (remote sites, the helpdesk): the columns of
`BreakerColumns` on the endpoint's row. Enough failures in a row open it for a cooldown; calls
are refused meanwhile; a success (or an answering health probe, the half-open step) closes it.

An admin may also open it by hand (`hold`, an ops switch): it then stays open whatever succeeds
or the cooldown says, until it is closed by hand (`release`). A success still resets the failure
count, so a released breaker starts from a clean slate."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core import audit
from app.core.errors import Conflict, Unavailable
from app.core.timeutil import UTCDateTime, utcnow


class CircuitOpen(Unavailable):
    code = "circuit_open"


class BreakerColumns:
    failures: Mapped[int] = mapped_column(default=0)  # consecutive failures
    breaker_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # opened by hand: who, when, why (None: not held)
    breaker_held_by: Mapped[str | None] = mapped_column(String(80))
    breaker_held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breaker_held_reason: Mapped[str | None] = mapped_column(String(300))


def is_held(row: Any) -> bool:
    return row.breaker_held_by is not None


def is_open(row: Any) -> bool:
    return is_held(row) or (row.breaker_open_until is not None and row.breaker_open_until > utcnow())


def why_open(row: Any, name: str) -> str:
    if is_held(row):
        return (
            f"{name}: its breaker was opened by hand by {row.breaker_held_by} at "
            f"{row.breaker_held_at:%Y-%m-%d %H:%M} UTC ({row.breaker_held_reason}); calls pause until it is closed."
        )
    return f"{name} failed {row.failures} times in a row; calls pause until {row.breaker_open_until:%H:%M:%S} UTC."


def state(row: Any) -> dict[str, Any]:
    """The breaker as the ops switches and the audit show it."""
    return {
        "open": is_open(row),
        "held": is_held(row),
        "held_by": row.breaker_held_by,
        "held_at": row.breaker_held_at,
        "reason": row.breaker_held_reason,
        "failures": row.failures,
        "open_until": row.breaker_open_until,
    }


def check(row: Any, name: str, details: dict[str, Any]) -> None:
    if is_open(row):
        if is_held(row):
            details = {**details, "held_by": row.breaker_held_by, "reason": row.breaker_held_reason}
        raise CircuitOpen(why_open(row, name), details)


def failed(row: Any, threshold: int, cooldown_seconds: float) -> None:
    row.failures += 1
    if row.failures >= threshold:
        row.breaker_open_until = utcnow() + timedelta(seconds=cooldown_seconds)


def succeeded(row: Any) -> None:
    """The endpoint answered: the automatic breaker closes; one held open by hand stays open."""
    row.failures, row.breaker_open_until = 0, None


def hold(row: Any, actor: str, reason: str) -> None:
    row.breaker_held_by, row.breaker_held_at, row.breaker_held_reason = actor, utcnow(), reason


def release(row: Any) -> None:
    """Closed by hand: neither held nor open from earlier failures."""
    row.breaker_held_by = row.breaker_held_at = row.breaker_held_reason = None
    succeeded(row)


def switch(row: Any, entity: str, name: str, open_: bool, reason: str = "") -> Any:
    """Open (hold) or close (release) `row`'s breaker by hand, audited as `breaker_open` /
    `breaker_close` of `entity`; opening one held already, or closing one that is not open, is 409."""
    before = state(row)
    if open_:
        if is_held(row):
            raise Conflict(
                f"{name}: the breaker was opened by hand already by {row.breaker_held_by}.",
                {"held_by": row.breaker_held_by},
                code="already_open",
            )
        hold(row, audit.current_actor(), reason)
    else:
        if not is_open(row):
            raise Conflict(f"{name}: the breaker is not open.", code="not_open")
        release(row)
    audit.record(
        entity,
        row.id,
        "breaker_open" if open_ else "breaker_close",
        before=_audited(before),
        after=_audited(state(row)),
    )
    return row


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
