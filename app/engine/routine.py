"""Routine (slots in, events out, config, logic, policy, error handler) and Event."""

from collections.abc import Callable
from typing import Any

from app.engine.policies import ActivationPolicy, Immediate
from app.engine.slot import Slot

Inputs = dict[str, list[Any]]
STRATEGIES = ("stop", "continue", "skip", "retry")


class ErrorHandler:
    """What a failed activation does to the run.

    stop: the run fails. continue: the error is counted and the routine goes
    on with later input. skip: the routine is taken out of the run (input that
    still reaches it is discarded, so upstream never blocks). retry: the same
    input is retried up to max_retries times, waiting retry_delay x backoff^n
    between attempts; then the run fails.
    """

    def __init__(
        self, strategy: str = "stop", max_retries: int = 3, retry_delay: float = 0.0, backoff: float = 2.0
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"Unknown error strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
        if max_retries < 0 or retry_delay < 0 or backoff < 1:
            raise ValueError("max_retries and retry_delay must be >= 0 and backoff >= 1")
        self.strategy = strategy
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.backoff = backoff

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        return self.retry_delay * self.backoff ** (attempt - 1)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"strategy": self.strategy}
        if self.strategy == "retry":
            info.update(max_retries=self.max_retries, retry_delay=self.retry_delay, backoff=self.backoff)
        return info


def _not_running(slot: Slot, data: Any, emitted_from: str) -> None:
    raise RuntimeError(f"{emitted_from} emitted outside a run (to {slot.qualified_name})")


class Event:
    """A routine's output, connected to any number of slots."""

    def __init__(self, name: str, routine: "Routine") -> None:
        self.name = name
        self.routine = routine
        self.origin = f"{routine.id}.{name}"  # emitted_from of what it delivers
        self.targets: list[Slot] = []

    def emit(self, data: Any) -> None:
        deliver, origin = self.routine.deliver, self.origin
        for slot in self.targets:
            deliver(slot, data, origin)


class Routine:
    """Subclass and override setup() (add slots and events) and logic(inputs),
    or build one and call set_logic(fn) with fn(routine, inputs)."""

    type = "routine"

    def __init__(
        self,
        id: str,
        config: dict[str, Any] | None = None,
        policy: ActivationPolicy | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> None:
        self.id = id
        self.config: dict[str, Any] = dict(config or {})
        self.slots: dict[str, Slot] = {}
        self.events: dict[str, Event] = {}
        self.error_handler = error_handler or ErrorHandler()
        self.deliver: Callable[[Slot, Any, str], None] = _not_running  # the Runtime sets it
        self._logic: Callable[[Routine, Inputs], None] | None = None
        self.setup()
        self.policy = policy or self.default_policy()

    def setup(self) -> None:
        """Add slots and events here."""

    def default_policy(self) -> ActivationPolicy:
        return Immediate()

    def summary(self) -> dict[str, Any]:
        """Routine-specific figures for the monitoring page; read from other
        threads, so replace values rather than mutate them."""
        return {}

    def add_slot(self, name: str, max_queue_length: int = 1000, watermark: float = 0.8) -> Slot:
        if name in self.slots:
            raise ValueError(f"Routine {self.id!r} already has a slot {name!r}")
        self.slots[name] = Slot(name, max_queue_length, watermark, routine_id=self.id)
        return self.slots[name]

    def add_event(self, name: str) -> Event:
        if name in self.events:
            raise ValueError(f"Routine {self.id!r} already has an event {name!r}")
        self.events[name] = Event(name, self)
        return self.events[name]

    def set_logic(self, logic: Callable[["Routine", Inputs], None]) -> "Routine":
        self._logic = logic
        return self

    def logic(self, inputs: Inputs) -> None:
        if self._logic is None:
            raise NotImplementedError(f"Routine {self.id!r} has no logic")
        self._logic(self, inputs)

    def emit(self, event: str, data: Any) -> None:
        self.events[event].emit(data)

    @property
    def is_source(self) -> bool:
        """A routine without slots runs once when the run starts."""
        return not self.slots

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "config": self.config,
            "policy": self.policy.info(),
            "error_handler": self.error_handler.info(),
            "slots": [
                {"name": s.name, "max_queue_length": s.max_queue_length, "watermark": s.watermark}
                for s in self.slots.values()
            ],
            "events": [
                {"name": e.name, "targets": [t.qualified_name for t in e.targets]} for e in self.events.values()
            ],
        }
