"""The inbox drain on the `default` queue: turn due MES events into actuals (app/consumption/drain.py)."""

from app.consumption import drain


def drain_inbox() -> dict[str, int]:
    return drain.drain()
