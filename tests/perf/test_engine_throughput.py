"""Throughput of a 3-routine pipeline (source -> mapper -> sink) on Forgeline's
Runtime, with monitoring on (coalesced live events and snapshots into Redis,
as on a worker) and off, and on routilux 1.1.0 (the peer) in the same run.

    .venv/bin/python tests/perf/test_engine_throughput.py [messages ...]

Prints one JSON line. Needs Redis at REDIS_URL (default 127.0.0.1:6379/0) and
routilux==1.1.0 (in the dev extra). Not part of `make test`.
"""

import json
import logging
import os
import statistics
import sys
import threading
import time
import uuid

import redis
from flask import Flask

from app.engine import Flow, Routine, Runtime
from app.engine.heap import long_lived_objects_frozen
from app.flows.monitor import redis_monitor, snapshot_key

ROUNDS = 9  # of the largest size, on and off (a 100,000-message run takes about 0.3 s)


class Source(Routine):
    def setup(self):
        self.add_event("out")

    def logic(self, inputs):
        emit = self.events["out"].emit
        for i in range(self.config["messages"]):
            emit({"value": i})


class Mapper(Routine):
    def setup(self):
        self.add_slot("in")
        self.add_event("out")

    def logic(self, inputs):
        emit = self.events["out"].emit
        for item in inputs["in"]:
            emit({"value": item["value"] * 2})


class Sink(Routine):
    def setup(self):
        self.add_slot("in")
        self.count = 0

    def logic(self, inputs):
        self.count += len(inputs["in"])


_NAMES = Flask("bench")  # the monitor names its channel and keys from the app's REDIS_NAMESPACE
_NAMES.config["REDIS_NAMESPACE"] = "bench"


def forgeline(messages: int, monitor: bool, connection: redis.Redis) -> float:
    with _NAMES.app_context():
        return _forgeline(messages, monitor, connection)


def _forgeline(messages: int, monitor: bool, connection: redis.Redis) -> float:
    flow = Flow("bench")
    flow.add(Source("source", {"messages": messages}))
    flow.add(Mapper("mapper"))
    sink = flow.add(Sink("sink"))
    flow.connect("source", "out", "mapper", "in")
    flow.connect("mapper", "out", "sink", "in")
    job_id = uuid.uuid4().hex
    watcher = redis_monitor(job_id, connection) if monitor else None
    runtime = Runtime(flow, monitor=monitor, on_event=watcher.hook if watcher else None)
    started = time.perf_counter()
    if watcher:
        watcher.attach(runtime)
    with long_lived_objects_frozen():  # as the flows job runs it on a worker
        runtime.run()
    if watcher:
        watcher.close()
    elapsed = time.perf_counter() - started
    assert sink.count == messages, (sink.count, messages)
    connection.delete(snapshot_key(job_id))
    return messages / elapsed


def forgeline_medians(sizes: list[int], connection: redis.Redis) -> dict[tuple[int, bool], float]:
    """Median throughput per (size, monitoring). Sizes and settings are interleaved round by
    round, so a busy moment of the machine hits all alike; in each round a smaller size runs
    as often as it takes to handle as many messages as the largest. Three threads share one
    GIL, so single runs vary by a third either way: the median of many is what a user gets,
    not the luckiest."""
    samples: dict[tuple[int, bool], list[float]] = {(size, on): [] for size in sizes for on in (True, False)}
    for _ in range(ROUNDS):
        for size in sizes:
            for _ in range(max(sizes) // size):
                for on in (True, False):
                    samples[(size, on)].append(forgeline(size, on, connection))
    return {key: statistics.median(values) for key, values in samples.items()}


def routilux(messages: int) -> float:
    from routilux.core import Flow as RFlow
    from routilux.core import Runtime as RRuntime
    from routilux.core.registry import FlowRegistry

    done = threading.Event()
    received = [0]
    source, mapper, sink = routilux_routines(messages, received, done)
    flow = RFlow(f"bench-{messages}")
    flow.add_routine(source, "source")
    flow.add_routine(mapper, "mapper")
    flow.add_routine(sink, "sink")
    flow.connect("source", "output", "mapper", "input")
    flow.connect("mapper", "output", "sink", "input")
    FlowRegistry.get_instance().register_by_name(flow.flow_id, flow)
    with RRuntime(thread_pool_size=4) as runtime:
        started = time.perf_counter()
        runtime.post(flow.flow_id, "source", "trigger", {"go": True})
        if not done.wait(600):
            raise RuntimeError(f"routilux delivered {received[0]} of {messages}")
        elapsed = time.perf_counter() - started
    return messages / elapsed


def take_all_new(slots, worker_state):
    """routilux's activation policy for all three routines: run on whatever is new."""
    batch = {name: slot.consume_all_new() for name, slot in slots.items()}
    return any(batch.values()), batch, "new_data"


def routilux_routines(messages: int, received: list[int], done: threading.Event) -> tuple:
    """The same source -> mapper -> sink on routilux: the sink counts into received[0]
    and sets `done` once all messages are in."""
    from routilux.core import Routine as RRoutine

    class RSource(RRoutine):
        def __init__(self):
            super().__init__()
            self.add_slot("trigger")
            self.add_event("output", ["value"])
            self.set_activation_policy(take_all_new)
            self.set_logic(self.run)

        def run(self, trigger, worker_state=None, **_):
            for i in range(messages):
                self.emit("output", worker_state=worker_state, value=i)

    class RMapper(RRoutine):
        def __init__(self):
            super().__init__()
            # routilux drops items on a full slot: give it room for all, so the count is fair
            self.add_slot("input", max_queue_length=messages + 1)
            self.add_event("output", ["value"])
            self.set_activation_policy(take_all_new)
            self.set_logic(self.run)

        def run(self, items, worker_state=None, **_):
            for item in items:
                self.emit("output", worker_state=worker_state, value=item["value"] * 2)

    class RSink(RRoutine):
        def __init__(self):
            super().__init__()
            self.add_slot("input", max_queue_length=messages + 1)
            self.set_activation_policy(take_all_new)
            self.set_logic(self.run)

        def run(self, items, **_):
            received[0] += len(items)
            if received[0] >= messages:
                done.set()

    return RSource(), RMapper(), RSink()


def main(sizes: list[int]) -> dict:
    logging.disable(logging.CRITICAL)  # routilux logs every emit at debug and drops at warning
    connection = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    connection.ping()
    forgeline(10_000, True, connection)  # warm-up
    figures: dict = {"messages": sizes}
    medians = forgeline_medians(sizes, connection)
    for size in sizes:
        figures[f"forgeline_monitor_on_{size}"] = round(medians[(size, True)])
        figures[f"forgeline_monitor_off_{size}"] = round(medians[(size, False)])
    for size in sizes:  # after Forgeline's runs: routilux leaves two threads of its own running
        figures[f"routilux_{size}"] = round(routilux(size))
    small, large = min(sizes), max(sizes)
    on, off = figures[f"forgeline_monitor_on_{large}"], figures[f"forgeline_monitor_off_{large}"]
    figures["ratio_vs_routilux_monitor_on"] = round(on / figures[f"routilux_{large}"], 1)
    figures[f"ratio_{large}_vs_{small}_monitor_on"] = round(on / figures[f"forgeline_monitor_on_{small}"], 2)
    figures["monitoring_cost"] = round(1 - on / off, 3)
    figures["unit"] = "messages per second"
    return figures


if __name__ == "__main__":
    print(json.dumps(main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])))
