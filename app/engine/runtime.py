"""Runtime: runs one flow run on a thread pool.

Each routine runs at most one activation at a time (its state needs no lock)
while different routines run in parallel; the pool has a thread per routine,
so a routine waiting for room in a full slot never starves the routine that
would make room. Waiting is done on conditions and timers, never by polling.

`on_event(type, data)` is the hook for monitoring: the flows capability turns
it into live events and snapshots. It is called from pool threads, sometimes
with the runtime's lock held: it must be quick and must not block.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any

from app.engine.breakpoints import Breakpoint
from app.engine.flow import Flow
from app.engine.policies import Batch
from app.engine.routine import Routine
from app.engine.slot import Slot, SlotClosed, SlotQueueFull

log = logging.getLogger(__name__)

EventHook = Callable[[str, dict[str, Any]], None]


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    IDLE = "idle"  # every routine done, waiting for input
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


class RoutineStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    FAILED = "failed"  # its last activation raised
    SKIPPED = "skipped"  # its activation condition said no


FINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})
ACTIVE = frozenset({RunStatus.RUNNING, RunStatus.IDLE})


class RoutineStats:
    __slots__ = (
        "discarded",
        "errors",
        "executions",
        "items_in",
        "last_error",
        "last_execution",
        "max_duration",
        "retries",
        "status",
        "total_duration",
    )

    def __init__(self) -> None:
        self.status = RoutineStatus.IDLE
        self.executions = self.errors = self.retries = self.items_in = self.discarded = 0
        self.last_execution: float | None = None
        self.last_error: str | None = None
        self.total_duration = self.max_duration = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["avg_duration"] = self.total_duration / self.executions if self.executions else None
        return data


class Runtime:
    def __init__(
        self,
        flow: Flow,
        *,
        max_workers: int | None = None,
        backpressure_timeout: float = 30.0,
        trace_limit: int = 1000,
        on_event: EventHook | None = None,
        monitor: bool = True,
    ) -> None:
        self.flow = flow.validate()
        self.backpressure_timeout = backpressure_timeout
        self.monitor = monitor
        self._on_event = on_event if monitor else None
        self.status = RunStatus.PENDING
        self.error: str | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.stats = {rid: RoutineStats() for rid in flow.routines}
        self.trace: deque[dict[str, Any]] = deque(maxlen=trace_limit)
        self._seq = 0
        self._lock = threading.RLock()  # re-entrant: the event hook may read the runtime
        self._changed = threading.Condition(self._lock)
        self._active: set[str] = set()  # routines executing at this moment
        self._pending: set[str] = set()  # routines with an activation check queued or running
        self._dirty: set[str] = set()  # pending routines that got new data meanwhile
        self._skipped: set[str] = set()
        self._timers: dict[str, threading.Timer] = {}
        self._busy = 0  # pending checks + sources running + timers armed
        self._stop = threading.Event()
        self.breakpoints: dict[str, Breakpoint] = {}
        self.held: dict[str, Any] | None = None  # what the last breakpoint hit holds
        self._held_batches: dict[str, Batch] = {}  # activations stopped by a routine breakpoint
        self._steps: int | None = None  # activations left while stepping; None: not stepping
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers or max(2, len(flow.routines)), thread_name_prefix=f"flow-{flow.name}"
        )
        for routine in flow.routines.values():
            routine.deliver = self._deliver

    # -- control -------------------------------------------------------------

    def start(self) -> "Runtime":
        with self._lock:
            if self.status is not RunStatus.PENDING:
                raise RuntimeError(f"run already {self.status}")
            self.started_at = time.time()
            self.status = RunStatus.RUNNING
            sources = [r for r in self.flow.routines.values() if r.is_source]
            self._busy += len(sources)
        self._emit("job_started", {"flow": self.flow.name, "routines": len(self.flow.routines)})
        for routine in sources:
            self._pool.submit(self._run_source, routine)
        with self._lock:
            self._settle()
        return self

    def run(self, timeout: float | None = None) -> RunStatus:
        """Start, wait until nothing is left to do, finish."""
        self.start()
        self.wait_idle(timeout)
        return self.finish()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no routine has work left (or the run ended); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._busy == 0 or self.status in FINAL, timeout)

    def wait_status(self, statuses: set[RunStatus], timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.status in statuses, timeout)

    def finish(self) -> RunStatus:
        """End the run: completed unless it already failed or was canceled."""
        with self._lock:
            if self.status not in FINAL:
                self.status = RunStatus.COMPLETED
        self._close()
        return self.status

    def feed(self, routine_id: str, slot: str, items: list[Any]) -> None:
        """Input from outside the flow into an entry routine's slot."""
        routine = self.flow.routines.get(routine_id)
        if routine is None or slot not in routine.slots:
            raise KeyError(f"no slot {routine_id}.{slot}")
        for item in items:
            self._deliver(routine.slots[slot], item, "external")

    def pause(self) -> None:
        self._set_status(RunStatus.PAUSED, allowed=ACTIVE)

    def resume(self) -> None:
        self._continue(steps=None)

    def step(self) -> None:
        """Run one activation, then pause again."""
        self._continue(steps=1)

    def _continue(self, steps: int | None) -> None:
        with self._lock:
            self._steps = steps
            self.held = None
        if self._set_status(RunStatus.RUNNING, allowed={RunStatus.PAUSED}):
            for rid, routine in self.flow.routines.items():
                if rid in self._held_batches or any(len(s) for s in routine.slots.values()):
                    self._schedule(rid)
            with self._lock:
                self._settle()

    def add_breakpoint(self, breakpoint: Breakpoint) -> None:
        with self._lock:
            self.breakpoints[breakpoint.id] = breakpoint

    def remove_breakpoint(self, breakpoint_id: str) -> None:
        with self._lock:
            self.breakpoints.pop(breakpoint_id, None)

    def _hit(self, breakpoint: Breakpoint, data: list[Any]) -> None:
        """Pause the run, holding `data` for the operator to see."""
        with self._lock:
            breakpoint.hits += 1
            self.held = {**breakpoint.info(), "data": data[:20], "at": time.time()}
        if self._set_status(RunStatus.PAUSED, allowed=ACTIVE):
            self._emit("breakpoint_hit", self.held)

    def _check_breakpoints(self, kind: str, targets: tuple[str, ...], data: list[Any]) -> bool:
        for breakpoint in list(self.breakpoints.values()):
            if breakpoint.kind == kind and breakpoint.target in targets and breakpoint.matches(data):
                self._hit(breakpoint, data)
                return True
        return False

    def cancel(self) -> None:
        if self._set_status(RunStatus.CANCELED, allowed=ACTIVE | {RunStatus.PAUSED, RunStatus.PENDING}):
            self._close()

    def _set_status(self, status: RunStatus, allowed: set[RunStatus] | frozenset[RunStatus]) -> bool:
        with self._lock:
            if self.status not in allowed:
                return False
            old, self.status = self.status, status
            self._changed.notify_all()
        self._emit("job_status_change", {"old": old.value, "new": status.value})
        return True

    def _fail(self, error: str) -> None:
        with self._lock:
            if self.status in FINAL:
                return
            self.status, self.error = RunStatus.FAILED, error
            self._changed.notify_all()
        log.warning("flow %s failed: %s", self.flow.name, error)
        self._close()

    def _close(self) -> None:
        """Stop everything still going; the first call also reports job_completed."""
        with self._lock:
            if self.ended_at is not None:
                return
            self.ended_at = time.time()
            timers, self._timers = list(self._timers.values()), {}
            self._changed.notify_all()
        self._stop.set()
        for timer in timers:
            timer.cancel()
        for slot in self.flow.slots():
            slot.close()
        self._pool.shutdown(wait=self.status is RunStatus.COMPLETED, cancel_futures=True)
        self._emit(
            "job_completed",
            {
                "status": self.status.value,
                "error": self.error,
                "duration": self.ended_at - (self.started_at or self.ended_at),
            },
        )

    # -- scheduling ----------------------------------------------------------

    def _deliver(self, slot: Slot, data: Any, source: str) -> None:
        if self._stop.is_set():
            raise SlotClosed(slot.qualified_name)
        slot.enqueue(data, source, timeout=self.backpressure_timeout)
        if self.breakpoints:  # the item stays in the slot, held there while the run is paused
            self._check_breakpoints("slot", (slot.qualified_name,), [data]) or self._check_breakpoints(
                "connection", (f"{source}->{slot.qualified_name}",), [data]
            )
        self._schedule(slot.routine_id)

    def _schedule(self, rid: str) -> None:
        if rid in self._dirty:  # already pending and marked: its drain will look again (dirty ⊆ pending)
            return
        with self._lock:
            if rid in self._pending:
                self._dirty.add(rid)
                return
            if self.status not in ACTIVE:
                return  # resume() re-checks every routine holding data
            self._pending.add(rid)
            self._busy += 1
            if self.status is RunStatus.IDLE:
                self._set_running_locked()
        try:
            self._pool.submit(self._drain, rid)
        except RuntimeError:  # the pool was shut down: the run has ended
            with self._lock:
                self._pending.discard(rid)
                self._release_locked()

    def _set_running_locked(self) -> None:
        self.status = RunStatus.RUNNING
        self._changed.notify_all()
        self._emit("job_status_change", {"old": RunStatus.IDLE, "new": RunStatus.RUNNING})

    def _release_locked(self) -> None:
        self._busy -= 1
        self._settle()

    def _settle(self) -> None:
        """Called with the lock held: a run with nothing left to do is idle."""
        if self._busy == 0:
            if self.status is RunStatus.RUNNING:
                self.status = RunStatus.IDLE
                self._emit("job_status_change", {"old": RunStatus.RUNNING, "new": RunStatus.IDLE})
            self._changed.notify_all()

    def _run_source(self, routine: Routine) -> None:
        try:
            self._execute(routine, {})
        except BaseException:  # a bug here must not leave the run busy forever
            log.exception("routine %s crashed the runtime", routine.id)
            self._fail(f"internal error in routine {routine.id}")
        finally:
            with self._lock:
                self._release_locked()

    def _drain(self, rid: str) -> None:
        """A pool thread's turn at one routine: activate it while it has work, again
        when data came in meanwhile (dirty), then give the routine back."""
        routine = self.flow.routines[rid]
        try:
            while True:
                self._activate_while_ready(rid, routine)
                if not self._drain_again(rid):
                    return
        except BaseException:
            log.exception("routine %s crashed the runtime", rid)
            with self._lock:
                self._pending.discard(rid)
                self._release_locked()
            self._fail(f"internal error in routine {rid}")

    def _activate_while_ready(self, rid: str, routine: Routine) -> None:
        """The hot loop: one activation per batch the policy gives, until there is
        none, the run stops or pauses, or the routine must not go on."""
        while self.status in ACTIVE:
            if rid in self._skipped:
                self._discard(routine)
                return
            batch = self._held_batches.pop(rid, None)
            if batch is None:
                batch = routine.policy.decide(routine.slots)
                if batch is None:
                    self._arm_recheck(routine)
                    return
                if self.breakpoints and self._hold_at_breakpoint(rid, batch):
                    return
            if not self._take_step():
                self._held_batches[rid] = batch
                return
            went_on = self._execute(routine, batch)
            if self._steps == 0:  # that was the step
                self._set_status(RunStatus.PAUSED, allowed=ACTIVE)
            if not went_on:
                return

    def _hold_at_breakpoint(self, rid: str, batch: Batch) -> bool:
        """A routine breakpoint on this batch: it is held and runs first on resume or step."""
        if self._check_breakpoints("routine", (rid,), [item for items in batch.values() for item in items]):
            self._held_batches[rid] = batch
            return True
        return False

    def _drain_again(self, rid: str) -> bool:
        """True when data came in during the drain (and the run is active); else the
        routine is no longer pending and the drain's hold on the run is released."""
        with self._lock:
            if rid in self._dirty and self.status in ACTIVE:
                self._dirty.discard(rid)
                return True
            self._dirty.discard(rid)
            self._pending.discard(rid)
            self._release_locked()
            return False

    def _take_step(self) -> bool:
        """While stepping, allow one activation; False (and paused) once it is taken."""
        with self._lock:
            if self._steps is None:
                return True
            if self._steps > 0:
                self._steps -= 1
                return True
        self._set_status(RunStatus.PAUSED, allowed=ACTIVE)
        return False

    def _arm_recheck(self, routine: Routine) -> None:
        delay = routine.policy.recheck_after(routine.slots)
        if delay is None:
            return
        with self._lock:
            if routine.id in self._timers or self.status not in ACTIVE:
                return
            timer = threading.Timer(delay, self._recheck, (routine.id,))
            timer.daemon = True
            self._timers[routine.id] = timer
            self._busy += 1
        timer.start()

    def _recheck(self, rid: str) -> None:
        self._schedule(rid)
        with self._lock:
            if self._timers.pop(rid, None) is not None:
                self._release_locked()

    def _discard(self, routine: Routine) -> None:
        count = sum(len(slot.take()) for slot in routine.slots.values())
        self.stats[routine.id].discarded += count

    # -- execution -----------------------------------------------------------

    def _execute(self, routine: Routine, batch: Batch) -> bool:
        """One activation, with the routine's error handler; False when the
        routine must not go on (skipped, or the run failed)."""
        rid, handler, attempt = routine.id, routine.error_handler, 0
        while True:
            started = time.time()
            self._begin(rid)
            t0 = time.perf_counter()
            try:
                routine.logic(batch)
                error = None
            except (SlotQueueFull, SlotClosed) as exc:
                self._end(rid, started, time.perf_counter() - t0, batch, exc)
                if isinstance(exc, SlotQueueFull):
                    self._fail(str(exc))
                return False
            except Exception as exc:  # noqa: BLE001 (a routine's error goes to its error handler)
                error = exc
            self._end(rid, started, time.perf_counter() - t0, batch, error)
            if error is None:
                return True
            if handler.strategy == "retry" and attempt < handler.max_retries:
                attempt += 1
                self.stats[rid].retries += 1
                if self._stop.wait(handler.delay(attempt)):
                    return False
                continue
            if handler.strategy == "continue":
                return True
            if handler.strategy == "skip":
                with self._lock:
                    self._skipped.add(rid)
                self._set_routine_status(rid, RoutineStatus.SKIPPED)
                self._discard(routine)
                return False
            tried = f" after {attempt} retries" if attempt else ""
            self._fail(f"routine {rid!r} failed{tried}: {type(error).__name__}: {error}")
            return False

    def _begin(self, rid: str) -> None:
        with self._lock:
            self._active.add(rid)
        self._set_routine_status(rid, RoutineStatus.RUNNING)
        self._emit("routine_started", {"routine": rid})

    def _end(self, rid: str, started: float, duration: float, batch: Batch, error: BaseException | None) -> None:
        stats = self.stats[rid]
        items = sum(len(v) for v in batch.values())
        with self._lock:
            self._active.discard(rid)
            stats.executions += 1
            stats.items_in += items
            stats.last_execution = started
            stats.total_duration += duration
            stats.max_duration = max(stats.max_duration, duration)
            if error is not None:
                stats.errors += 1
                stats.last_error = f"{type(error).__name__}: {error}"
            if self.monitor:
                self._seq += 1
                entry = {
                    "seq": self._seq,
                    "routine": rid,
                    "status": "ok" if error is None else "error",
                    "started_at": started,
                    "duration": duration,
                    "items": items,
                    "error": stats.last_error if error is not None else None,
                }
                self.trace.append(entry)
        if self.monitor:
            self._emit("routine_completed", entry)
        if rid not in self._skipped:
            self._set_routine_status(rid, RoutineStatus.IDLE if error is None else RoutineStatus.FAILED)

    def _set_routine_status(self, rid: str, status: RoutineStatus) -> None:
        stats = self.stats[rid]
        old = stats.status
        if old == status:
            return
        stats.status = status
        self._emit("routine_status_change", {"routine": rid, "old": old, "new": status})

    def _emit(self, type_: str, data: dict[str, Any]) -> None:
        if self._on_event is not None:
            try:
                self._on_event(type_, data)
            except Exception:
                log.exception("flow %s: event hook failed on %s", self.flow.name, type_)

    # -- monitoring ----------------------------------------------------------

    def active_routines(self) -> set[str]:
        with self._lock:
            return set(self._active)

    def queue_status(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            rid: {name: slot.get_queue_status() for name, slot in routine.slots.items()}
            for rid, routine in self.flow.routines.items()
        }

    def routine_status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            status = {rid: stats.to_dict() for rid, stats in self.stats.items()}
        for rid, routine in self.flow.routines.items():
            status[rid]["active"] = rid in self._active
            status[rid].update(routine.summary())
        return status

    def backpressure_waits(self) -> int:
        return sum(slot.backpressure_waits for slot in self.flow.slots())

    def state(self) -> dict[str, Any]:
        with self._lock:
            breakpoints = [b.info() for b in self.breakpoints.values()]
            held = self.held
        return {
            "status": self.status.value,
            "error": self.error,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "active_routines": sorted(self.active_routines()),
            "backpressure_waits": self.backpressure_waits(),
            "breakpoints": breakpoints,
            "held": held,
            "stepping": self._steps is not None,
        }

    def trace_tail(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:  # the deque must not change while it is copied
            return list(self.trace)[-limit:]

    def snapshot(self, trace_limit: int = 200) -> dict[str, Any]:
        """Everything the monitoring API shows, as plain JSON-able data."""
        trace = self.trace_tail(trace_limit)
        return {**self.state(), "routines": self.routine_status(), "queues": self.queue_status(), "trace": trace}
