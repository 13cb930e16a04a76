"""The flow drawing: each event is named once, whatever it fans out to."""

from app.flows.demo import SENSOR_ROUTER
from app.flows.document import build
from app.flows.graph import layout

FAN_OUT = """\
name: fan-out
routines:
  - {id: source, type: source, config: {items: [1, 2]}}
  - {id: a, type: sink}
  - {id: b, type: sink}
  - {id: c, type: sink}
connections:
  - {from: source.out, to: a.in}
  - {from: source.out, to: b.in}
  - {from: source.out, to: c.in}
"""


def labels(text: str) -> list[str]:
    return [e["label"] for e in layout(build(text).describe())["edges"] if e["label"]]


def test_a_fan_out_is_labelled_once_and_each_router_event_by_its_name():
    assert labels(FAN_OUT) == ["out"]
    assert labels(SENSOR_ROUTER) == ["out", "alarm", "out", "warm", "default"]
