"""Turns a Runtime's events into what the web side sees, at a bounded rate.

The runtime may run thousands of activations a second; the monitor keeps,
per tick, only the latest event of each kind per routine, publishes slot
queue updates only for slots whose status changed, and writes a snapshot of
the whole run at most every `snapshot_interval` seconds. Run-level events
(job_*) are rare and all go out, in order, at the next tick.
"""

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from app.core import rediskeys
from app.engine import Runtime

Events = list[tuple[str, dict[str, Any]]]
ROUTINE_EVENTS = ("routine_status_change", "routine_started", "routine_completed")
TRACE_PER_TICK = 20  # newest trace entries sent per tick (trace_append); the API has the rest


class RunMonitor:
    def __init__(
        self,
        publish: Callable[[Events], None],
        save: Callable[[dict[str, Any]], None],
        interval: float = 0.25,
        snapshot_interval: float = 1.0,
    ) -> None:
        self.publish = publish
        self.save = save
        self.interval = interval
        self.snapshot_interval = snapshot_interval
        self.runtime: Runtime | None = None
        self._lock = threading.Lock()
        self._routine_events: dict[tuple[str, str], dict[str, Any]] = {}
        self._run_events: Events = []
        self._queues: dict[tuple[str, str], dict[str, Any]] = {}
        self._saved_at = 0.0
        self._force_save = False
        self._trace_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hook(self, type_: str, data: dict[str, Any]) -> None:
        """The Runtime's on_event: only buffers."""
        with self._lock:
            if type_ in ROUTINE_EVENTS:
                self._routine_events[(type_, data["routine"])] = data
            else:
                self._run_events.append((type_, data))
                self._force_save = True  # a page reading the API must see a status change at once

    def attach(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._thread = threading.Thread(target=self._loop, name="flow-monitor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop ticking; send what is left and the final snapshot."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self, final: bool = False) -> None:
        with self._lock:
            routine_events = sorted(self._routine_events.items(), key=lambda kv: ROUTINE_EVENTS.index(kv[0][0]))
            run_events, self._routine_events, self._run_events = self._run_events, {}, []
        events: Events = []
        if routine_events:
            stats = self.runtime.routine_status()
            events += [(type_, {**data, "stats": stats[rid]}) for (type_, rid), data in routine_events]
        events += self._trace_append()
        events += self._queue_updates()
        # job_completed waits for close() (the job saves the final state first) and goes last
        completed = [e for e in run_events if e[0] == "job_completed"]
        if completed and not final:
            with self._lock:
                self._run_events[:0] = completed
            completed = []
        events = [e for e in run_events if e[0] != "job_completed"] + events + completed
        if events:
            self.publish(events)
        now = time.monotonic()
        if final or self._force_save or now - self._saved_at >= self.snapshot_interval:
            self._saved_at, self._force_save = now, False
            self.save(self.runtime.snapshot())

    def _trace_append(self) -> Events:
        fresh = [e for e in self.runtime.trace_tail(TRACE_PER_TICK) if e["seq"] > self._trace_seq]
        if not fresh:
            return []
        self._trace_seq = fresh[-1]["seq"]
        return [("trace_append", {"entries": fresh})]

    def _queue_updates(self) -> Events:
        updates: Events = []
        for rid, slots in self.runtime.queue_status().items():
            for slot, status in slots.items():
                if self._queues.get((rid, slot)) != status:
                    self._queues[(rid, slot)] = status
                    updates.append(("slot_queue_update", {"routine": rid, "slot": slot, **status}))
        return updates


SNAPSHOT_TTL = 7 * 24 * 3600  # the database keeps the final state; Redis only needs the live one


def topic(job_id: str) -> str:
    return f"flow-run:{job_id}"


def snapshot_key(job_id: str) -> str:
    return rediskeys.key("flow-run", job_id, "snapshot")


def redis_monitor(job_id: str, connection, **options: Any) -> RunMonitor:
    """A monitor publishing on `flow-run:<job id>` and keeping the snapshot in Redis. Called in
    the job's app context; its ticker thread has none, so the names are read here."""
    from app.core.live import channel, publish_many

    channel_name, key = channel(), snapshot_key(job_id)

    def publish(events: Events) -> None:
        publish_many(topic(job_id), events, connection=connection, channel_name=channel_name)

    def save(snapshot: dict[str, Any]) -> None:
        connection.set(key, json.dumps(snapshot, default=str), ex=SNAPSHOT_TTL)

    return RunMonitor(publish, save, **options)
