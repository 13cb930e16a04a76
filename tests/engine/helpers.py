"""Small routines for engine tests."""

import threading

from app.engine import Flow, Routine


class ListSource(Routine):
    type = "test_source"

    def setup(self):
        self.add_event("out")

    def logic(self, inputs):
        for item in self.config["items"]:
            self.emit("out", item)


class Collector(Routine):
    type = "test_sink"

    def setup(self):
        self.add_slot("in", self.config.get("max_queue_length", 1000))
        self.received = []
        self.activations = []

    def logic(self, inputs):
        self.activations.append(inputs["in"])
        self.received.extend(inputs["in"])


class Doubler(Routine):
    def setup(self):
        self.add_slot("in")
        self.add_event("out")

    def logic(self, inputs):
        for item in inputs["in"]:
            self.emit("out", item * 2)


class Gate(Routine):
    """Blocks in logic until released; tells when it has entered."""

    def setup(self):
        self.add_slot("in")
        self.entered = threading.Event()
        self.release = threading.Event()

    def logic(self, inputs):
        self.entered.set()
        assert self.release.wait(10)


def pipeline(items, *middle, sink=None):
    flow = Flow("test")
    source = flow.add(ListSource("source", {"items": items}))
    previous = source
    for routine in middle:
        flow.add(routine)
        flow.connect(previous.id, "out", routine.id, "in")
        previous = routine
    sink = flow.add(sink or Collector("sink"))
    flow.connect(previous.id, "out", sink.id, "in")
    return flow, sink
