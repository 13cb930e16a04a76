"""A record's timeline (an ECO's, an incident's): what happened to it, from and to what, why,
who and when. Each capability keeps its own event table with these columns (`TimelineEvent`)
and writes it through `record()`; what it publishes live about an event is its own business."""

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit.service import current_actor
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class TimelineEvent:
    """The columns of one timeline entry (a mixin for a capability's event model)."""

    kind: Mapped[str] = mapped_column(String(20))
    from_value: Mapped[str | None] = mapped_column(String(40))
    to_value: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Event = TypeVar("Event", bound=TimelineEvent)


def record(
    model: type[Event],
    kind: str,
    from_value: str | None,
    to_value: str | None,
    reason: str = "",
    actor: str | None = None,
    **owner: Any,
) -> Event:
    """Add one entry (`owner`: the columns naming whose timeline it is) to the session, by the
    current actor unless `actor` is given, stamped now."""
    event = model(
        kind=kind,
        from_value=from_value,
        to_value=to_value,
        reason=reason,
        actor=actor or current_actor(),
        at=utcnow(),
        **owner,
    )
    db.session.add(event)
    return event
