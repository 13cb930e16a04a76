"""The routine engine: Flow, Routine, Slot, Event, activation policies and the
Runtime that runs one flow run on a thread pool. A plain library: no Flask,
no Redis; the flows capability wires it to RQ, the live channel and snapshots
through the Runtime's event hook."""

from app.engine.flow import Connection, Flow, FlowInvalid
from app.engine.policies import (
    ActivationPolicy,
    AllSlotsReady,
    BatchSize,
    CustomPolicy,
    Immediate,
    TimeInterval,
)
from app.engine.routine import ErrorHandler, Event, Routine
from app.engine.runtime import RunStatus, Runtime
from app.engine.slot import Slot, SlotClosed, SlotDataPoint, SlotQueueFull

__all__ = [
    "ActivationPolicy",
    "AllSlotsReady",
    "BatchSize",
    "Connection",
    "CustomPolicy",
    "ErrorHandler",
    "Event",
    "Flow",
    "FlowInvalid",
    "Immediate",
    "Routine",
    "RunStatus",
    "Runtime",
    "Slot",
    "SlotClosed",
    "SlotDataPoint",
    "SlotQueueFull",
    "TimeInterval",
]
