"""Parameter spaces: per parameter a list of values or {start, stop, step}
(stop included); the grid is their product, in a fixed order. The run order is
that order, or a seeded shuffle of it (`in_run_order`): a task's `seq` is its
position in the run order, so a chunk of work is just a range of seqs."""

import itertools
import math
from typing import Any

import numpy as np

from app.core.errors import InvalidInput
from app.optimization.strategies import STRATEGIES, Param, Strategy

MAX_POINTS = 100_000


def strategy_named(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise InvalidInput(f"Unknown strategy {name!r}.", {"field": "strategy", "allowed": list(STRATEGIES)}) from None


def _bad(param: str, message: str) -> InvalidInput:
    return InvalidInput(f"paramSpace.{param}: {message}", {"field": f"paramSpace.{param}"})


def _values(param: Param, spec: Any) -> list[float | int]:
    if isinstance(spec, dict):
        start, stop, step = (float(spec[k]) for k in ("start", "stop", "step"))
        if not step > 0 or stop < start:
            raise _bad(param.name, "needs step > 0 and stop >= start.")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_POINTS:
            raise _bad(param.name, f"more than {MAX_POINTS} values.")
        values = [round(start + i * step, 10) for i in range(count)]
    else:
        values = [float(v) for v in spec]
        if not values:
            raise _bad(param.name, "needs at least one value.")
    for value in values:
        if not param.minimum <= value <= param.maximum:
            raise _bad(param.name, f"{value:g} is outside {param.minimum:g}..{param.maximum:g}.")
        if param.kind is int and value != int(value):
            raise _bad(param.name, f"{value:g} is not a whole number.")
    return list(dict.fromkeys(int(v) if param.kind is int else v for v in values))


def expand(strategy: Strategy, space: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """(the points that satisfy the strategy's constraint, how many were skipped)."""
    names = [p.name for p in strategy.params]
    unknown, missing = sorted(set(space) - set(names)), [n for n in names if n not in space]
    if unknown or missing:
        raise InvalidInput(
            f"paramSpace must name exactly the parameters of {strategy.name}: {', '.join(names)}.",
            {"field": "paramSpace", "unknown": unknown, "missing": missing},
        )
    axes = [_values(p, space[p.name]) for p in strategy.params]
    if math.prod(len(a) for a in axes) > MAX_POINTS:
        raise InvalidInput(f"The grid has more than {MAX_POINTS} points.", {"field": "paramSpace"})
    points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    valid = [p for p in points if strategy.constraint(p)]
    return valid, len(points) - len(valid)


def in_run_order(points: list[dict[str, Any]], seed: int | None) -> list[dict[str, Any]]:
    """The points as the tasks run them: seq i is `result[i]`. Grid order without a seed; with one,
    a permutation that only the seed decides (the same on every worker and on every re-run)."""
    if seed is None:
        return points
    return [points[i] for i in np.random.default_rng(seed).permutation(len(points))]
