"""Flow: routines and the connections from their events to other routines' slots."""

from dataclasses import dataclass
from typing import Any

from app.engine.routine import Routine


class FlowInvalid(ValueError):
    """Carries every problem found, each as {"field", "message"}."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Connection:
    source: str
    event: str
    target: str
    slot: str

    def __str__(self) -> str:
        return f"{self.source}.{self.event} -> {self.target}.{self.slot}"


class Flow:
    def __init__(self, name: str) -> None:
        self.name = name
        self.routines: dict[str, Routine] = {}
        self.connections: list[Connection] = []
        self.entries: set[str] = set()  # routines that take input from outside the flow
        self._problems: list[dict[str, str]] = []

    def add(self, routine: Routine, entry: bool = False, field: str | None = None) -> Routine:
        if routine.id in self.routines:
            self._problems.append(
                {"field": field or f"routines.{routine.id}", "message": f"duplicate routine id {routine.id!r}"}
            )
            return routine
        self.routines[routine.id] = routine
        if entry:
            self.entries.add(routine.id)
        return routine

    def connect(self, source: str, event: str, target: str, slot: str, field: str | None = None) -> None:
        """Wire source.event to target.slot; problems are kept for validate()."""
        connection = Connection(source, event, target, slot)
        where = field or f"connections[{connection}]"
        problems = []
        if source not in self.routines:
            problems.append(f"unknown routine {source!r}")
        elif event not in self.routines[source].events:
            problems.append(
                f"routine {source!r} has no event {event!r} "
                f"(it has: {', '.join(self.routines[source].events) or 'none'})"
            )
        if target not in self.routines:
            problems.append(f"unknown routine {target!r}")
        elif slot not in self.routines[target].slots:
            problems.append(
                f"routine {target!r} has no slot {slot!r} (it has: {', '.join(self.routines[target].slots) or 'none'})"
            )
        if connection in self.connections:
            problems.append("duplicate connection")
        if problems:
            self._problems.extend({"field": where, "message": p} for p in problems)
            return
        self.connections.append(connection)
        self.routines[source].events[event].targets.append(self.routines[target].slots[slot])

    def validate(self) -> "Flow":
        """Raise FlowInvalid listing every problem; returns the flow when sound."""
        problems = list(self._problems)
        if not self.routines:
            problems.append({"field": "routines", "message": "a flow needs at least one routine"})
        reached = self._reachable()
        for rid in self.routines:
            if rid not in reached:
                problems.append(
                    {"field": f"routines.{rid}", "message": "unreachable: no source or entry routine leads to it"}
                )
        if problems:
            raise FlowInvalid(problems)
        return self

    def _reachable(self) -> set[str]:
        downstream: dict[str, set[str]] = {}
        for c in self.connections:
            downstream.setdefault(c.source, set()).add(c.target)
        todo = [rid for rid, r in self.routines.items() if r.is_source or rid in self.entries]
        seen = set(todo)
        while todo:
            for nxt in downstream.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def slots(self):
        for routine in self.routines.values():
            yield from routine.slots.values()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "routines": [r.info() for r in self.routines.values()],
            "connections": [c.__dict__ for c in self.connections],
            "entries": sorted(self.entries),
        }
