"""The circuit breaker of outbound endpoints (remote sites, the helpdesk): a row with
`failures` (consecutive) and `breaker_open_until`. Enough failures in a row open it for a
cooldown; calls are refused meanwhile; a success (or an answering health probe, the
half-open step) closes it."""

from datetime import timedelta
from typing import Any

from app.core.errors import Unavailable
from app.core.timeutil import utcnow


class CircuitOpen(Unavailable):
    code = "circuit_open"


def is_open(row: Any) -> bool:
    return row.breaker_open_until is not None and row.breaker_open_until > utcnow()


def check(row: Any, name: str, details: dict[str, Any]) -> None:
    if is_open(row):
        raise CircuitOpen(
            f"{name} failed {row.failures} times in a row; calls pause until {row.breaker_open_until:%H:%M:%S} UTC.",
            details,
        )


def failed(row: Any, threshold: int, cooldown_seconds: float) -> None:
    row.failures += 1
    if row.failures >= threshold:
        row.breaker_open_until = utcnow() + timedelta(seconds=cooldown_seconds)


def succeeded(row: Any) -> None:
    row.failures, row.breaker_open_until = 0, None
