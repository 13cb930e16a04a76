"""Built-in routine types, by the name flow documents use, and the registry
that also takes Python classes by import path ("package.module:Class")."""

import csv
import io
import time
from importlib import import_module
from typing import Any

from app.engine.expressions import Expression
from app.engine.policies import ActivationPolicy, BatchSize, TimeInterval
from app.engine.routine import Routine


class ConfigError(ValueError):
    """A routine's config is wrong; `key` names the config key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _expression(config: dict[str, Any], key: str) -> Expression:
    if key not in config:
        raise ConfigError(key, 'required: an expression such as "item * 2"')
    try:
        return Expression(config[key])
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def _positive(config: dict[str, Any], key: str, default: float | None = None, kind=int) -> Any:
    value = config.get(key, default)
    if value is None:
        raise ConfigError(key, "required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or kind(value) != value:
        raise ConfigError(key, f"must be a positive {'whole number' if kind is int else 'number'}")
    return kind(value)


class Source(Routine):
    """Emits `items` (a list) or the rows of `csv` (text with a header line) as dicts, once."""

    type = "source"

    def setup(self):
        self.add_event("out")
        has_items, has_csv = "items" in self.config, "csv" in self.config
        if has_items == has_csv:
            raise ConfigError("items", "give exactly one of `items` (a list) or `csv` (text)")
        if has_items and not isinstance(self.config["items"], list):
            raise ConfigError("items", "must be a list")
        if has_csv and not isinstance(self.config["csv"], str):
            raise ConfigError("csv", "must be text with a header line")

    def rows(self) -> list[Any]:
        if "items" in self.config:
            return self.config["items"]
        return list(csv.DictReader(io.StringIO(self.config["csv"].strip())))

    def logic(self, inputs):
        emit = self.events["out"].emit
        for row in self.rows():
            emit(row)


class Mapper(Routine):
    """Emits `expression` evaluated on each item."""

    type = "mapper"

    def setup(self):
        self.add_slot("in")
        self.add_event("out")
        self.expression = _expression(self.config, "expression")

    def logic(self, inputs):
        emit, expression = self.events["out"].emit, self.expression
        for item in inputs["in"]:
            emit(expression(item))


class Filter(Routine):
    """Emits on `out` the items for which `condition` holds, the others on `rejected`."""

    type = "filter"

    def setup(self):
        self.add_slot("in")
        self.add_event("out")
        self.add_event("rejected")
        self.condition = _expression(self.config, "condition")

    def logic(self, inputs):
        for item in inputs["in"]:
            self.emit("out" if self.condition(item) else "rejected", item)


class Batcher(Routine):
    """Emits lists of `size` items (its policy waits for a full batch)."""

    type = "batcher"

    def setup(self):
        self.add_slot("in")
        self.add_event("out")
        self.size = _positive(self.config, "size", 10)

    def default_policy(self) -> ActivationPolicy:
        return BatchSize(self.size)

    def logic(self, inputs):
        items = inputs["in"]
        for start in range(0, len(items), self.size):
            self.emit("out", items[start : start + self.size])


AGGREGATES = ("count", "sum", "min", "max", "avg")


class Aggregator(Routine):
    """Keeps count, sum, min, max and avg of `field` (or of the items) and emits them after each activation."""

    type = "aggregator"

    def setup(self):
        self.add_slot("in")
        self.add_event("out")
        self.field = self.config.get("field")
        self.totals = {"count": 0, "sum": 0.0, "min": None, "max": None, "avg": None}

    def logic(self, inputs):
        totals = dict(self.totals)
        for item in inputs["in"]:
            value = float(item[self.field] if self.field else item)
            totals["count"] += 1
            totals["sum"] += value
            totals["min"] = value if totals["min"] is None else min(totals["min"], value)
            totals["max"] = value if totals["max"] is None else max(totals["max"], value)
        if totals["count"]:
            totals["avg"] = totals["sum"] / totals["count"]
        self.totals = totals = dict(totals)
        self.emit("out", totals)

    def summary(self) -> dict[str, Any]:
        return {"totals": dict(self.totals)}


class Router(Routine):
    """Sends each item to the first of `routes` ({event: condition}) that holds, else to `default`."""

    type = "router"

    def setup(self):
        self.add_slot("in")
        routes = self.config.get("routes")
        if not isinstance(routes, dict) or not routes:
            raise ConfigError("routes", "required: a mapping of event name to condition")
        self.routes = []
        for name, condition in routes.items():
            try:
                self.routes.append((name, Expression(condition)))
            except ValueError as exc:
                raise ConfigError(f"routes.{name}", str(exc)) from None
            self.add_event(name)
        self.add_event("default")

    def logic(self, inputs):
        for item in inputs["in"]:
            event = next((name for name, condition in self.routes if condition(item)), "default")
            self.emit(event, item)


class Debouncer(Routine):
    """Emits only the latest item, at most once every `seconds`."""

    type = "debouncer"

    def setup(self):
        self.add_slot("in")
        self.add_event("out")
        self.seconds = _positive(self.config, "seconds", 1.0, kind=float)

    def default_policy(self) -> ActivationPolicy:
        return TimeInterval(self.seconds)

    def logic(self, inputs):
        if inputs["in"]:
            self.emit("out", inputs["in"][-1])


class Delay(Routine):
    """Passes items on after waiting `seconds` per item: a slow step, to rehearse backpressure."""

    type = "delay"

    def setup(self):
        self.add_slot("in")
        self.add_event("out")
        self.seconds = _positive(self.config, "seconds", 0.1, kind=float)

    def logic(self, inputs):
        for item in inputs["in"]:
            time.sleep(self.seconds)
            self.emit("out", item)


class Sink(Routine):
    """Counts what reaches it and keeps the last `keep` items (default 20) for the run page."""

    type = "sink"

    def setup(self):
        self.add_slot("in")
        self.received = 0
        self.keep = _positive(self.config, "keep", 20)
        self.last: tuple[Any, ...] = ()

    def logic(self, inputs):
        self.received += len(inputs["in"])
        self.last = (self.last + tuple(inputs["in"][-self.keep :]))[-self.keep :]

    def summary(self) -> dict[str, Any]:
        return {"received": self.received, "last": list(self.last)}


ROUTINE_TYPES: dict[str, type[Routine]] = {
    cls.type: cls for cls in (Source, Mapper, Filter, Batcher, Aggregator, Router, Debouncer, Delay, Sink)
}


def register_class(path: str) -> type[Routine]:
    """Make a Routine subclass usable in flow documents under its import path "module:Class"."""
    module_name, _, name = path.partition(":")
    cls = getattr(import_module(module_name), name, None) if name else None
    if not (isinstance(cls, type) and issubclass(cls, Routine)):
        raise TypeError(f"{path!r} is not a Routine subclass given as 'module:Class'")
    ROUTINE_TYPES[path] = cls
    return cls
