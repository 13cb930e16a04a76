"""The one translation of pydantic's errors (app/core/validation.py): clean paths, labels, what is allowed."""

from datetime import date
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core import validation
from app.core.api import Id, Text, parse
from app.core.errors import InvalidInput


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0)
    stop: int = Field(ge=0)


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=10)
    date: date
    refs: list[Id] = Field(default_factory=list, max_length=3)
    windows: dict[str, list[int | float] | Window] = Field(default_factory=dict, title="Windows")
    mode: Literal["fast", "slow"] = "fast"
    window: Window | None = None
    ratio: float = Field(0.5, gt=0, lt=1, title="Fill ratio")


def problems(data) -> dict[str, str]:
    with pytest.raises(ValidationError) as exc:
        Order.model_validate(data)
    return {p.field: p.message for p in validation.problems(exc.value, Order)}


def test_paths_are_the_fields_own_and_messages_say_what_is_allowed():
    found = problems(
        {
            "name": "",
            "date": "soon",
            "refs": [1, 0],
            "windows": {"a": {"start": -1, "stop": 2}, "b": [1, "x"], "c": "wide"},
            "mode": "warp",
            "window": {"start": 1},
            "ratio": 1,
            "colour": "red",
        }
    )
    assert found == {
        "name": "Name is required.",
        "date": "Date must be a date (YYYY-MM-DD).",
        "refs.1": "Refs #2 must be a whole number from 1 to 2,147,483,647.",
        "windows.a.start": "a start must be a whole number at least 0.",
        "windows.b.1": "b #2 must be a number.",
        "windows.c": "c must be a list of numbers or {start, stop}.",
        "mode": "Mode must be 'fast' or 'slow'.",
        "window.stop": "Stop is required.",
        "ratio": "Fill ratio must be a number greater than 0 and below 1.",
        "colour": "colour is not a known field (allowed: name, date, refs, windows, mode, window, ratio).",
    }


def test_parse_raises_one_refusal_shape_and_prefixes_a_part():
    with pytest.raises(InvalidInput) as refused:
        parse(Order, {"name": "x" * 11, "date": "2026-01-01"})
    assert refused.value.message == "Name must be at most 10 characters."
    assert refused.value.details == {"fields": [{"field": "name", "message": "Name must be at most 10 characters."}]}
    with pytest.raises(InvalidInput) as refused:
        parse(Window, {"start": 1}, at="params")
    assert refused.value.details["fields"] == [{"field": "params.stop", "message": "Params: Stop is required."}]


class Many(BaseModel):
    values: list[int | float]


def test_a_huge_bad_list_is_told_by_its_first_problems_quickly():
    with pytest.raises(InvalidInput) as refused:
        parse(Many, {"values": ["x"] * 20_000})
    fields = refused.value.details["fields"]
    assert len(fields) == validation.MAX_PROBLEMS and fields[0] == {
        "field": "values.0",
        "message": "Values #1 must be a number.",
    }
    assert refused.value.message.startswith(
        f"{validation.MAX_PROBLEMS} fields need a change: Values #1 must be a number."
    )


def test_csv_imports_read_lone_cr_line_ends_and_refuse_what_the_csv_module_cannot_read():
    from app.core.csvrows import read_rows

    check = read_rows("number,name\rA-1,one\rA-2,two", ("number", "name"), ("number",), 10, 10**6)
    assert check.error is None and [r.data["number"] for r in check.rows] == ["A-1", "A-2"]
    huge = read_rows("number,name\nA-1," + "x" * 200_000 + "\n", ("number", "name"), ("number",), 10, 10**7)
    assert huge.error == "Line 2 cannot be read as CSV: field larger than field limit (131072)." and not huge.rows
