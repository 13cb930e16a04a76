"""Capability hooks: `notify(event, ...)` calls every hook declared for the event, in the order
the capabilities registered; an event nobody listens to calls nothing; a hook that raises
reaches the announcer (whose transaction it then undoes)."""

import pytest

from app.core import capability
from app.core.capability import Capability, Registry

CALLS: list[tuple] = []


def first(*args):
    CALLS.append(("first", *args))


def second(*args):
    CALLS.append(("second", *args))


def refuse(*args):
    raise RuntimeError("no")


def test_notify_calls_each_declared_hook_in_registration_order(app, monkeypatch):
    here = __name__
    registry = Registry(
        (
            Capability("a", hooks=(("thing_done", f"{here}.first"),)),
            Capability("b", hooks=(("thing_done", f"{here}.second"), ("other", f"{here}.refuse"))),
        )
    )
    monkeypatch.setattr(capability, "registry", lambda: registry)
    CALLS.clear()
    capability.notify("thing_done", 7)
    capability.notify("nobody_listens", 8)
    assert CALLS == [("first", 7), ("second", 7)]
    with pytest.raises(RuntimeError):
        capability.notify("other")


def test_the_app_declares_work_orders_on_eco_applied(app):
    with app.app_context():
        assert capability.registry().hooks["eco_applied"] == ("app.workorders.service.on_eco_applied",)
