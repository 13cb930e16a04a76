"""Breakpoints: on a routine (before an activation), a slot (an item arriving)
or a connection (an item travelling it), each with an optional condition on
the data, evaluated by app.engine.expressions (simpleeval, never eval)."""

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from app.engine.expressions import Expression, ExpressionError

log = logging.getLogger(__name__)
KINDS = ("routine", "slot", "connection")


@dataclass
class Breakpoint:
    """target: "routine" | "routine.slot" | "source.event->target.slot"."""

    id: str
    kind: str
    target: str
    condition: str | None = None
    hits: int = 0
    _expression: Expression | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.condition:
            self._expression = Expression(self.condition)

    def matches(self, items: list[Any]) -> bool:
        if self._expression is None:
            return True
        with self._lock:  # an Expression is not shared between threads unguarded
            for item in items:
                try:
                    if self._expression(item):
                        return True
                except (ExpressionError, TypeError, ValueError, KeyError) as exc:
                    log.info("breakpoint %s: condition not evaluable on %r: %s", self.id, item, exc)
        return False

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target, "condition": self.condition, "hits": self.hits}
