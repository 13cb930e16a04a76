"""Slot: a routine's bounded input queue.

Unlike routilux, which logs and drops an item when a slot is full, a Slot
makes the emitter wait for room (backpressure) and raises SlotQueueFull,
naming the slot, only when no room came within the timeout.
"""

import threading
import time
from collections import deque
from typing import Any

PRESSURE_MEDIUM = 0.6


class SlotQueueFull(Exception):
    def __init__(self, slot: "Slot", timeout: float) -> None:
        super().__init__(
            f"Slot {slot.qualified_name!r} is full ({slot.max_queue_length} items) "
            f"and stayed full for {timeout:g} s: its routine does not keep up."
        )
        self.slot_name = slot.qualified_name


class SlotClosed(Exception):
    """The run ended (canceled or failed) while an emitter waited for room."""


class SlotDataPoint:
    __slots__ = ("consumed_at", "data", "emitted_at", "emitted_from", "enqueued_at")

    def __init__(self, data: Any, emitted_from: str, emitted_at: float, enqueued_at: float) -> None:
        self.data = data
        self.emitted_from = emitted_from
        self.emitted_at = emitted_at
        self.enqueued_at = enqueued_at
        self.consumed_at: float | None = None


def pressure_level(usage: float, watermark: float) -> str:
    """low < 0.6 <= medium < watermark <= high < 1.0 <= critical"""
    if usage >= 1.0:
        return "critical"
    if usage >= watermark:
        return "high"
    if usage >= PRESSURE_MEDIUM:
        return "medium"
    return "low"


class Slot:
    def __init__(self, name: str, max_queue_length: int = 1000, watermark: float = 0.8, routine_id: str = "") -> None:
        if max_queue_length <= 0:
            raise ValueError(f"max_queue_length must be > 0, got {max_queue_length}")
        if not 0.0 < watermark <= 1.0:
            raise ValueError(f"watermark must be in (0, 1], got {watermark}")
        self.name = name
        self.routine_id = routine_id
        self.max_queue_length = max_queue_length
        self.watermark = watermark
        self.watermark_threshold = int(max_queue_length * watermark)
        self._items: deque[SlotDataPoint] = deque()
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._closed = False
        self.total_count = 0  # items ever enqueued
        self.consumed_count = 0
        self.backpressure_waits = 0  # times an emitter had to wait for room

    @property
    def qualified_name(self) -> str:
        return f"{self.routine_id}.{self.name}" if self.routine_id else self.name

    def __repr__(self) -> str:
        return f"Slot({self.qualified_name})"

    def enqueue(
        self, data: Any, emitted_from: str = "", emitted_at: float | None = None, timeout: float | None = 30.0
    ) -> None:
        """Append one item; when full, wait up to `timeout` seconds for room."""
        now = time.time()
        with self._lock:  # the lock of self._room: Condition.__enter__ would only add a call
            if len(self._items) >= self.max_queue_length:
                self.backpressure_waits += 1
                if not self._room.wait_for(self._has_room, timeout):
                    raise SlotQueueFull(self, timeout or 0.0)
            if self._closed:
                raise SlotClosed(self.qualified_name)
            self._items.append(SlotDataPoint(data, emitted_from, emitted_at or now, now))
            self.total_count += 1

    def _has_room(self) -> bool:
        return self._closed or len(self._items) < self.max_queue_length

    def close(self) -> None:
        """Wake every waiting emitter; they raise SlotClosed."""
        with self._room:
            self._closed = True
            self._room.notify_all()

    def take(self, count: int | None = None) -> list[Any]:
        """Consume up to `count` items (all when None), oldest first."""
        with self._lock:
            if not self._items:
                return []
            if count is None or count >= len(self._items):
                points, self._items = self._items, deque()
            else:
                points = [self._items.popleft() for _ in range(count)]
            self.consumed_count += len(points)
            self._room.notify_all()
        now = time.time()
        for point in points:
            point.consumed_at = now
        return [point.data for point in points]

    def peek(self, limit: int = 20) -> list[SlotDataPoint]:
        with self._lock:
            return list(self._items)[:limit]

    def __len__(self) -> int:
        return len(self._items)

    def get_queue_status(self) -> dict[str, Any]:
        with self._lock:
            unconsumed = len(self._items)
            total = self.total_count
        usage = unconsumed / self.max_queue_length
        return {
            "unconsumed_count": unconsumed,
            "total_count": total,
            "max_length": self.max_queue_length,
            "watermark_threshold": self.watermark_threshold,
            "usage_percentage": usage,
            "pressure_level": pressure_level(usage, self.watermark),
            "is_full": unconsumed >= self.max_queue_length,
            "is_near_full": unconsumed >= self.watermark_threshold,
        }
