"""Activation policies: when a routine runs on what its slots hold.

Each policy is an object carrying `type`, `config` and `description` (the
monitoring page shows them) and a `decide(slots)` that either consumes the
items of one activation and returns them by slot name, or returns None.
Semantics follow routilux: immediate and time_interval take all new items,
batch_size(n) fires when every slot holds at least n and takes n from each,
all_slots_ready takes one from each.
"""

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.engine.slot import Slot

Batch = dict[str, list[Any]]


class ActivationPolicy:
    type = "policy"

    def __init__(self, **config: Any) -> None:
        self.config = config

    @property
    def description(self) -> str:
        return self.__doc__ or self.type

    def decide(self, slots: Mapping[str, Slot]) -> Batch | None:
        raise NotImplementedError

    def recheck_after(self, slots: Mapping[str, Slot]) -> float | None:
        """Seconds after which a declined activation should be checked again
        (for time-based policies); None: only when new data arrives."""
        return None

    def info(self) -> dict[str, Any]:
        return {"type": self.type, "config": dict(self.config), "description": self.description}


def _take_all(slots: Mapping[str, Slot]) -> Batch:
    return {name: slot.take() for name, slot in slots.items()}


class Immediate(ActivationPolicy):
    type = "immediate"

    @property
    def description(self) -> str:
        return "Runs as soon as any slot holds new data, on everything new in every slot."

    def decide(self, slots):
        if any(len(slot) for slot in slots.values()):
            return _take_all(slots)
        return None


class BatchSize(ActivationPolicy):
    type = "batch_size"

    def __init__(self, min_batch_size: int) -> None:
        if min_batch_size < 1:
            raise ValueError(f"min_batch_size must be >= 1, got {min_batch_size}")
        super().__init__(min_batch_size=min_batch_size)
        self.size = min_batch_size

    @property
    def description(self) -> str:
        return f"Runs when every slot holds at least {self.size} items, on {self.size} from each."

    def decide(self, slots):
        if slots and all(len(slot) >= self.size for slot in slots.values()):
            return {name: slot.take(self.size) for name, slot in slots.items()}
        return None


class TimeInterval(ActivationPolicy):
    type = "time_interval"

    def __init__(self, min_interval_seconds: float) -> None:
        if min_interval_seconds < 0:
            raise ValueError(f"min_interval_seconds must be >= 0, got {min_interval_seconds}")
        super().__init__(min_interval_seconds=min_interval_seconds)
        self.interval = min_interval_seconds
        self._last = float("-inf")
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"Runs at most once every {self.interval:g} s when new data is there, on everything new in every slot."

    def decide(self, slots):
        if not any(len(slot) for slot in slots.values()):
            return None
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.interval:
                return None
            self._last = now
        return _take_all(slots)

    def recheck_after(self, slots):
        if not any(len(slot) for slot in slots.values()):
            return None
        return max(0.0, self._last + self.interval - time.monotonic())


class AllSlotsReady(ActivationPolicy):
    type = "all_slots_ready"

    @property
    def description(self) -> str:
        return "Runs when every slot holds at least one item, on one item from each."

    def decide(self, slots):
        if slots and all(len(slot) for slot in slots.values()):
            return {name: slot.take(1) for name, slot in slots.items()}
        return None


class CustomPolicy(ActivationPolicy):
    """Wraps a callable(slots) -> batch | None; its docstring is the description."""

    type = "custom"

    def __init__(self, decide: Callable[[Mapping[str, Slot]], Batch | None], **config: Any) -> None:
        super().__init__(function=getattr(decide, "__qualname__", repr(decide)), **config)
        self._decide = decide

    @property
    def description(self) -> str:
        return (self._decide.__doc__ or "").strip() or f"Custom policy {self.config['function']}."

    def decide(self, slots):
        return self._decide(slots)


POLICIES: dict[str, type[ActivationPolicy]] = {
    cls.type: cls for cls in (Immediate, BatchSize, TimeInterval, AllSlotsReady)
}
